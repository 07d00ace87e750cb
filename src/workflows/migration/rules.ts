/**
 * Which operator requests are allowed in which state, and where a rollback takes the flags. Pure functions, used by
 * the update validators (so a refused request is rejected before it enters history) and by unit tests.
 */
import { TransitionRefusedError } from '../../shared/errors';
import { phaseIndex, ROLLBACK_TARGETS, type RollbackTarget, type WriteMode } from '../../shared/phases';
import type { MigrationState } from './state';

/** The flag state a rollback to `to` lands in (it then runs forward from that phase again). */
export function rollbackFlags(to: RollbackTarget): { readPercent: number; writeMode: WriteMode } {
  switch (to) {
    case 'shadow-writes':
      return { readPercent: 100, writeMode: 'mysql-primary' };
    case 'read-cutover':
    case 'verify':
    case 'catch-up':
    case 'backfill':
      return { readPercent: 0, writeMode: 'mysql-only' };
    default:
      throw new TypeError(`not a rollback target: ${String(to)}`);
  }
}

function refuse(request: string, s: MigrationState, reason: string): never {
  throw new TransitionRefusedError(request, s.phase, reason);
}

/** Throws TransitionRefusedError unless the routing can safely be moved back towards MySQL now. */
function assertMysqlStillCurrent(request: string, s: MigrationState): void {
  if (s.phase === 'complete' || s.phase === 'aborted' || s.phase === 'failed') refuse(request, s, `the migration has already ended (${s.phase})`);
  if (s.cdcStopped) refuse(request, s, 'CDC has stopped: changes made since are not in MySQL\'s change stream any more');
  if (s.mysqlWritesStoppedAt !== null || s.writeMode === 'dynamo-only') {
    refuse(request, s, `MySQL has received no writes since DynamoDB-only began at ${s.mysqlWritesStoppedAt ?? 'an earlier run'}; moving back would serve stale data`);
  }
}

/** Validates a rollback request; throws TransitionRefusedError with the reason when it is not allowed. */
export function validateRollback(s: MigrationState, to: string): void {
  if (!(ROLLBACK_TARGETS as readonly string[]).includes(to)) refuse('rollback', s, `"${to}" is not a rollback target; use one of ${ROLLBACK_TARGETS.join(', ')}`);
  assertMysqlStillCurrent('rollback', s);
  if (s.pendingAbort) refuse('rollback', s, 'an abort is in progress');
  if (s.pendingRollback) refuse('rollback', s, `a rollback to ${s.pendingRollback.to} is in progress`);
  if (phaseIndex(to as RollbackTarget) >= phaseIndex(s.phase)) refuse('rollback', s, `${to} is not earlier than the current phase`);
}

/** Validates an abort request. */
export function validateAbort(s: MigrationState): void {
  assertMysqlStillCurrent('abort', s);
  if (s.pendingAbort) refuse('abort', s, 'an abort is already in progress');
}

/** Validates a read-percentage request: only during the read cut-over, 0..100, while writes still go to MySQL only. */
export function validateReadPercent(s: MigrationState, percent: number): void {
  if (!Number.isFinite(percent) || percent < 0 || percent > 100) refuse('read-percent', s, `${percent} is not a percentage between 0 and 100`);
  if (s.phase !== 'read-cutover') refuse('read-percent', s, 'the read percentage can only be set during read-cutover (use rollback --to read-cutover to return there)');
  if (s.pendingRollback || s.pendingAbort) refuse('read-percent', s, 'a rollback or abort is in progress');
  if (s.pendingReadPercent) refuse('read-percent', s, `a change to ${s.pendingReadPercent.percent}% is in progress`);
}
