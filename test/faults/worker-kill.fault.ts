/**
 * Faults in the orchestration, on a private stack with the real worker process (src/workers/main.ts: real
 * activities, the CDC reader hosted in the worker) and a real Temporal dev server:
 * - kill -9 of the worker during the backfill, during catch-up (stream ETL) and during verification, each followed by
 *   a fresh worker process;
 * - the Temporal server stopped and started again (its SQLite file kept) during the flag phases.
 * A plain MySQL writer changes rows until reads are cut over (there is no application instance, so flag barriers
 * pass at once). Expected: the migration completes, its own verification passed with 0 mismatches, and an
 * independent verification run after completion finds every source row in DynamoDB (0 mismatches).
 */
import { statusQuery, type MigrationStatus } from '../../src/shared/messages';
import { phaseIndex, type PhaseOrTerminal } from '../../src/shared/phases';
import { createSourcePool } from '../../src/pipeline/backfill/source-pool';
import { sleep, waitFor, Writer } from './support/pipeline';
import { atOrAfter, useMigration } from './support/migration';
import { record } from './support/record';

jest.setTimeout(700_000);

const SEED = 40_000;
const bed = useMigration('wk', { seedRows: SEED });
const { db, table } = bed;

test('kill -9 of the worker in backfill, catch-up and verify, and a Temporal restart: completes, 0 mismatches', async () => {
  bed.startWorker();
  const handle = await bed.start(bed.config());
  const pool = createSourcePool({ connectionLimit: 4 });
  const writer = new Writer(pool, `${db}.${table}`, SEED, 40);
  writer.start();
  const kills: { phase: string; recoverMs: number; retriedMs?: number; retriedActivities?: string[] }[] = [];

  // kill -9 once `phase` is running and `ready`; recovery: from the new worker's start until the phase is over
  const killIn = async (phase: PhaseOrTerminal, ready: (s: MigrationStatus) => boolean): Promise<void> => {
    let s: MigrationStatus | undefined;
    await waitFor(`phase ${phase}`, async () => ((s = await bed.status(handle)) !== undefined && (s.phase !== phase ? atOrAfter(s, phase) : ready(s))), 240_000);
    if (s!.phase !== phase) return void kills.push({ phase: `${phase} (passed before the kill could land; not injected)`, recoverMs: NaN });
    const restartedAt = await bed.killWorker();
    await waitFor(`${phase} over`, async () => ((s = await bed.status(handle)) !== undefined && phaseIndex(s.phase) > phaseIndex(phase)), 300_000);
    const retried = bed.retried();
    kills.push({ phase, recoverMs: Date.now() - restartedAt, retriedMs: retried.length ? retried[0].at - restartedAt : undefined, retriedActivities: [...new Set(retried.map((r) => r.activity))] });
  };

  await killIn('backfill', (s) => s.rowsCopied > 0);
  await killIn('catch-up', () => true);
  await killIn('verify', () => true);

  // the Temporal server restarted while the flags move
  await bed.waitPhase(handle, 'read-cutover');
  await writer.stop();
  await bed.stack.stop('temporal');
  await sleep(5_000);
  const temporalUp = Date.now();
  await bed.stack.up();

  const outcome = await bed.result(handle);
  expect(outcome?.phase).toBe('complete');
  const final = (await handle.query(statusQuery))!;
  expect(final.verification).toMatchObject({ passed: true, missing: 0, extra: 0, different: 0 });
  const v = await bed.verifyAll(pool);
  await pool.end();
  expect(v).toMatchObject({ missing: 0, extra: 0, different: 0 });
  const lost = v.missing + v.different;
  for (const k of kills) {
    record({
      fault: 'kill -9 of the worker process (real activities, hosted CDC reader), new worker started at once', phase: k.phase,
      recovered: outcome?.phase === 'complete', recoverMs: k.recoverMs, retriedMs: k.retriedMs, retriedActivities: k.retriedActivities, writesAcked: writer.acked, writesLost: lost,
      mismatches: lost + v.extra, command: 'npm run test:faults -- worker-kill (recoverMs: new worker started → the killed phase over)',
    });
  }
  record({
    fault: 'Temporal dev server stopped 5 s, then started (SQLite history kept)', phase: 'flag phases (read cut-over onwards)',
    recovered: outcome?.phase === 'complete', recoverMs: Date.now() - temporalUp, writesAcked: writer.acked, writesLost: lost,
    mismatches: lost + v.extra, command: 'npm run test:faults -- worker-kill (recoverMs: start command → complete)',
  });
});
