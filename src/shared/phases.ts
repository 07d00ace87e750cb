/**
 * The vocabulary of a table migration that the workflow, the activities, the routing layer and the CLI share:
 * phase names, write modes and apply modes. Safe inside workflows (no I/O, no Node built-ins).
 */

/** The phases of one table's migration, in the order the workflow moves through them. */
export const PHASES = [
  'preflight',
  'start-cdc',
  'backfill',
  'catch-up',
  'verify',
  'read-cutover',
  'shadow-writes',
  'flip-writes',
  'dynamo-only',
  'drain-cdc',
  'stop-cdc',
  'complete',
] as const;

/** A phase of the forward path. */
export type Phase = (typeof PHASES)[number];

/** Where a migration can end other than `complete`. */
export type TerminalPhase = 'complete' | 'aborted' | 'failed';

/** The value of the CutoverPhase search attribute: a phase, or how the migration ended. */
export type PhaseOrTerminal = Phase | TerminalPhase;

/** Phases a `rollback` may name as its target (the flag states a migration can return to and run forward from).
 * Not flip-writes: the only later phase, dynamo-only, is where MySQL stopped receiving writes, so nothing returns there. */
export const ROLLBACK_TARGETS = ['backfill', 'catch-up', 'verify', 'read-cutover', 'shadow-writes'] as const;
export type RollbackTarget = (typeof ROLLBACK_TARGETS)[number];

/** Index of `phase` in PHASES (-1 for aborted/failed): the order used for "earlier than". */
export function phaseIndex(phase: PhaseOrTerminal): number {
  return (PHASES as readonly string[]).indexOf(phase);
}

/** True when `s` names a phase. */
export function isPhase(s: string): s is Phase {
  return (PHASES as readonly string[]).includes(s);
}

/**
 * The routing layer's write modes, in the order a migration moves through them, plus `fenced`:
 *   mysql-only      the application writes MySQL only; CDC carries every change to DynamoDB
 *   mysql-primary   MySQL first (its result is the response), then a DynamoDB shadow write in the background
 *   fenced          instances HOLD new writes (queue them, do not fail them) until the next mode is applied; used
 *                   for a few seconds around every switch of the primary store
 *   dynamo-primary  DynamoDB first (its result is the response), then a MySQL write in the background
 *   dynamo-only     the application writes DynamoDB only; MySQL stops receiving writes
 */
export const WRITE_MODES = ['mysql-only', 'mysql-primary', 'fenced', 'dynamo-primary', 'dynamo-only'] as const;
export type WriteMode = (typeof WRITE_MODES)[number];

/** True for write modes in which the application writes DynamoDB directly (not only through CDC). */
export function writesDynamoDirectly(mode: WriteMode): boolean {
  return mode === 'mysql-primary' || mode === 'dynamo-primary' || mode === 'dynamo-only';
}

/** True for write modes in which DynamoDB is the primary store (its result is the response). */
export function isDynamoPrimary(mode: WriteMode): boolean {
  return mode === 'dynamo-primary' || mode === 'dynamo-only';
}

/**
 * How the ETL applies events to DynamoDB:
 *   exclusive  the ETL is the only writer of the table's items, so it may batch (BatchWriteItem, no conditions)
 *   shared     the application may also write items directly: every write is a conditional, versioned single write
 */
export type ApplyMode = 'exclusive' | 'shared';
