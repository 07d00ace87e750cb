/**
 * The table-migration workflow's state: everything `continueAsNew` carries from one run to the next, and the pure
 * functions that read it (status). Plain JSON only; no row data.
 */
import type { CreatedResources, ShadowStats, VerifyProgress } from '../../shared/activity-contract';
import type { TableMigrationConfig } from '../../shared/migration-config';
import type { Awaiting, MigrationStatus, Transition } from '../../shared/messages';
import type { ApplyMode, PhaseOrTerminal, RollbackTarget, WriteMode } from '../../shared/phases';

/** The most recent transitions kept in state (older ones remain readable in earlier runs' histories). */
export const MAX_TRANSITIONS = 100;

export interface MigrationState {
  phase: PhaseOrTerminal;
  run: number;
  paused: boolean;
  etlPaused: boolean;
  awaiting: (Awaiting & { id: number }) | null;
  /** Id of the last awaited item an operator approved. */
  approvedId: number;
  nextAwaitId: number;
  etlProblem: string | null;
  /** Dead-letter count an operator accepted (the DLQ gate trips only above max(threshold, this)). */
  dlqAccepted: number;
  readPercent: number;
  /** True once the current read percentage has soaked and passed its gate. */
  readSoaked: boolean;
  writeMode: WriteMode;
  /** While `writeMode` is `fenced`: the mode the fence was entered from (where a failure releases it to). */
  fencedFrom: WriteMode | null;
  flagVersion: number;
  applyMode: ApplyMode | null;
  cdcId: string | null;
  created: CreatedResources;
  targetTable: string | null;
  backfill: { cursor: string | null; rowsCopied: number; rowsTotal: number; rowsPerSecond: number; done: boolean; throttles: number; waitingOn?: string | null };
  verify: { progress: VerifyProgress | null; repairs: number; passed: boolean | null };
  lags: { cdcLagSeconds: number | null; etlLagEvents: number | null; etlLagSeconds: number | null; dlqCount: number; sampledAt: string | null };
  shadow: ShadowStats | null;
  /** Set when DynamoDB-only began: from then on MySQL receives no writes, and rollback is refused. */
  mysqlWritesStoppedAt: string | null;
  cdcStopped: boolean;
  pendingRollback: { to: RollbackTarget; by?: string; reason?: string; id: number } | null;
  /** The outcome of rollback `id`, for the update handler waiting on it. */
  rollbackDone: { id: number; applied: boolean } | null;
  nextRequestId: number;
  pendingAbort: { by?: string; reason?: string; dropTarget: boolean } | null;
  pendingReadPercent: { percent: number; id: number; by?: string } | null;
  readPercentDone: number;
  transitions: Transition[];
}

/** Input of the table-migration workflow: the table's parsed config, and the state when continuing as new. */
export interface TableMigrationInput {
  readonly config: TableMigrationConfig;
  readonly state?: MigrationState;
  /** Continue as new past this many history events (default DEFAULT_HISTORY_LIMIT); tests set it low. */
  readonly historyLimit?: number;
}

/** What the workflow returns when it ends. */
export interface MigrationOutcome {
  readonly phase: PhaseOrTerminal;
  readonly rowsCopied: number;
  readonly flagVersion: number;
  readonly transitions: number;
}

/** A fresh migration's state. */
export function initialState(): MigrationState {
  return {
    phase: 'preflight',
    run: 1,
    paused: false,
    etlPaused: false,
    awaiting: null,
    approvedId: 0,
    nextAwaitId: 1,
    etlProblem: null,
    dlqAccepted: 0,
    readPercent: 0,
    readSoaked: true,
    writeMode: 'mysql-only',
    fencedFrom: null,
    flagVersion: 0,
    applyMode: null,
    cdcId: null,
    created: {},
    targetTable: null,
    backfill: { cursor: null, rowsCopied: 0, rowsTotal: 0, rowsPerSecond: 0, done: false, throttles: 0 },
    verify: { progress: null, repairs: 0, passed: null },
    lags: { cdcLagSeconds: null, etlLagEvents: null, etlLagSeconds: null, dlqCount: 0, sampledAt: null },
    shadow: null,
    mysqlWritesStoppedAt: null,
    cdcStopped: false,
    pendingRollback: null,
    rollbackDone: null,
    nextRequestId: 1,
    pendingAbort: null,
    pendingReadPercent: null,
    readPercentDone: 0,
    transitions: [],
  };
}

/** Appends a transition, keeping the most recent MAX_TRANSITIONS. */
export function record(state: MigrationState, t: Transition): void {
  state.transitions.push(t);
  if (state.transitions.length > MAX_TRANSITIONS) state.transitions.splice(0, state.transitions.length - MAX_TRANSITIONS);
}

/** The status the `status` query returns. */
export function statusOf(migrationId: string, config: TableMigrationConfig, s: MigrationState): MigrationStatus {
  const remaining = Math.max(0, s.backfill.rowsTotal - s.backfill.rowsCopied);
  const eta = s.backfill.done ? null : s.backfill.rowsPerSecond > 0 ? Math.ceil(remaining / s.backfill.rowsPerSecond) : null;
  const { progress } = s.verify;
  return {
    migrationId,
    table: `${config.source.database}.${config.source.table}`,
    phase: s.phase,
    paused: s.paused,
    etlPaused: s.etlPaused,
    awaiting: s.awaiting ? { gate: s.awaiting.gate, since: s.awaiting.since, reason: s.awaiting.reason, problem: s.awaiting.problem } : null,
    etlProblem: s.etlProblem,
    readPercent: s.readPercent,
    writeMode: s.writeMode,
    flagVersion: s.flagVersion,
    applyMode: s.applyMode,
    rowsCopied: s.backfill.rowsCopied,
    rowsTotal: Math.max(s.backfill.rowsTotal, s.backfill.rowsCopied),
    rowsPerSecond: s.backfill.rowsPerSecond,
    etaSeconds: eta,
    backfillDone: s.backfill.done,
    backfillWaitingOn: s.backfill.done ? null : s.backfill.waitingOn ?? null,
    cdcLagSeconds: s.lags.cdcLagSeconds,
    etlLagEvents: s.lags.etlLagEvents,
    etlLagSeconds: s.lags.etlLagSeconds,
    dlqCount: s.lags.dlqCount,
    sampledAt: s.lags.sampledAt,
    verification: progress
      ? {
          done: progress.done,
          cursor: progress.cursor,
          rowsCompared: progress.rowsCompared,
          missing: progress.missing,
          extra: progress.extra,
          different: progress.different,
          reportPath: progress.reportPath,
          passed: s.verify.passed,
        }
      : null,
    shadow: s.shadow,
    transitions: [...s.transitions],
    run: s.run,
  };
}
