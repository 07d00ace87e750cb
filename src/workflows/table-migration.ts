/**
 * The table-migration workflow: one durable phase machine per table (id `migrate:<db>.<table>`).
 *
 *   preflight → start-cdc → backfill → catch-up → verify → read-cutover (ladder, soak + gate per step) →
 *   shadow-writes → flip-writes (through the write fence) → dynamo-only → drain-cdc → stop-cdc → complete
 *
 * Guarantees: every routing-flag change waits for the barrier (every live application instance runs it) before the
 * next step; write modes move one step at a time; the ETL applies in shared (conditional) mode before the first mode
 * in which the application writes DynamoDB directly; every change of primary store goes through the write fence;
 * rollback and abort reverse writes before reads and are refused once MySQL stopped receiving writes or CDC stopped.
 * Operator messages (src/shared/messages.ts) only change state; this loop reacts. No row data enters the history.
 */
import { allHandlersFinished, condition, continueAsNew, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { TransitionRefusedError } from '../shared/errors';
import {
  abortSignal,
  abortUpdate,
  approveSignal,
  CUTOVER_TABLE,
  pauseSignal,
  resumeSignal,
  rollbackUpdate,
  setReadPercentUpdate,
  statusQuery,
} from '../shared/messages';
import { startBackground } from './migration/background';
import { doAbort, doRollback } from './migration/operator';
import { step } from './migration/phases';
import { validateAbort, validateReadPercent, validateRollback } from './migration/rules';
import { Interrupted, Migration } from './migration/runtime';
import { initialState, statusOf, type MigrationOutcome, type TableMigrationInput } from './migration/state';

export type { MigrationOutcome, TableMigrationInput } from './migration/state';

/** Continue as new once the history passes this many events (Temporal's own suggestion also triggers it). */
export const DEFAULT_HISTORY_LIMIT = 10_000;

function registerHandlers(m: Migration): void {
  const s = m.state;
  const ended = () => s.phase === 'complete' || s.phase === 'aborted' || s.phase === 'failed';
  setHandler(pauseSignal, (r) => {
    if (ended()) return;
    s.paused = true;
    s.etlPaused = r?.etl === true && s.readPercent === 0 && s.writeMode === 'mysql-only';
    m.note({ kind: 'operator', cause: `pause${s.etlPaused ? ' (ETL too)' : ''}: ${r?.reason ?? 'no reason given'}`, by: r?.by });
  });
  setHandler(resumeSignal, (r) => {
    if (!s.paused && !s.etlPaused) return;
    s.paused = false;
    s.etlPaused = false;
    m.note({ kind: 'operator', cause: `resume: ${r?.reason ?? 'no reason given'}`, by: r?.by });
  });
  setHandler(approveSignal, (r) => {
    const gate = r?.gate;
    if (s.etlProblem !== null && (gate === undefined || gate === 'etl')) {
      m.note({ kind: 'operator', to: 'etl', cause: `approved ETL restart after: ${s.etlProblem}`, by: r?.by });
      s.dlqAccepted = Math.max(s.dlqAccepted, s.lags.dlqCount);
      s.etlProblem = null;
      return;
    }
    if (s.awaiting && (gate === undefined || gate === s.awaiting.gate)) {
      s.approvedId = s.awaiting.id;
      m.note({ kind: 'operator', to: s.awaiting.gate, cause: `approved${r?.reason ? `: ${r.reason}` : ''}`, by: r?.by });
    }
  });
  setHandler(
    rollbackUpdate,
    async (r) => {
      const id = s.nextRequestId++;
      s.pendingRollback = { to: r.to, by: r.by, reason: r.reason, id };
      await condition(() => s.rollbackDone?.id === id);
      return { from: s.phase, to: r.to, readPercent: s.readPercent, writeMode: s.writeMode, flagVersion: s.flagVersion, applied: s.rollbackDone?.applied === true };
    },
    { validator: (r) => validateRollback(s, String(r?.to)) },
  );
  setHandler(
    abortUpdate,
    (r) => {
      s.pendingAbort = { by: r?.by, reason: r?.reason, dropTarget: r?.dropTarget === true };
      return { accepted: true, phase: s.phase };
    },
    { validator: (_r) => validateAbort(s) },
  );
  setHandler(abortSignal, (r) => {
    try {
      validateAbort(s);
    } catch (err) {
      if (!(err instanceof TransitionRefusedError)) throw err;
      m.note({ kind: 'operator', cause: `abort refused: ${err.reason}`, by: r?.by });
      return;
    }
    s.pendingAbort = { by: r?.by, reason: r?.reason, dropTarget: r?.dropTarget === true };
  });
  setHandler(
    setReadPercentUpdate,
    async (r) => {
      const id = s.nextRequestId++;
      s.pendingReadPercent = { percent: r.percent, id, by: r.by };
      await condition(() => s.readPercentDone >= id);
      return { readPercent: s.readPercent, flagVersion: s.flagVersion };
    },
    { validator: (r) => validateReadPercent(s, Number(r?.percent)) },
  );
  setHandler(statusQuery, () => statusOf(m.id, m.config, s));
}

/** Migrates one table; see the file comment for the phases and guarantees. */
export async function tableMigrationWorkflow(input: TableMigrationInput): Promise<MigrationOutcome> {
  const m = new Migration(workflowInfo().workflowId, input.config, input.state ?? initialState());
  const s = m.state;
  registerHandlers(m);
  upsertSearchAttributes([{ key: CUTOVER_TABLE, value: m.label }]);
  m.publishPhase();
  const bg = startBackground(m);
  const limit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  for (;;) {
    try {
      if (s.pendingAbort) {
        await doAbort(m, bg);
        break;
      }
      if (s.pendingRollback) {
        await doRollback(m);
        continue;
      }
      if (s.phase === 'complete' || s.phase === 'aborted' || s.phase === 'failed') break;
      if (s.paused) {
        await condition(() => !s.paused || s.pendingAbort !== null || s.pendingRollback !== null);
        continue;
      }
      if (m.historyFull(limit)) {
        await bg.stop();
        await condition(allHandlersFinished);
        return await continueAsNew<typeof tableMigrationWorkflow>({ ...input, state: { ...s, run: s.run + 1 } });
      }
      await step(m, bg);
    } catch (err) {
      if (err instanceof Interrupted) continue;
      throw err;
    }
  }
  await bg.stop();
  await condition(allHandlersFinished);
  return { phase: s.phase, rowsCopied: s.backfill.rowsCopied, flagVersion: s.flagVersion, transitions: s.transitions.length };
}
