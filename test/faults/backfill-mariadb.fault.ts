/**
 * Faults during a whole migration, on a private stack with the real worker process (src/workers/main.ts: real
 * activities, the CDC reader hosted in the worker) and a real Temporal dev server:
 * - MariaDB stopped for 10 s and started again while the backfill runs (the backfill activity and the hosted CDC
 *   reader lose their connections);
 * - kill -9 of the worker during a flag change (the shadow-writes phase), followed by a fresh worker process.
 * Afterwards the workflow history is searched for row values and the MySQL URL / password: none may appear.
 * A plain MySQL writer changes rows until reads are cut over (there is no application instance, so flag barriers
 * pass at once). Expected: the migration completes, its own verification passed with 0 mismatches, and an
 * independent verification run after completion finds every source row in DynamoDB (0 mismatches).
 */
import { statusQuery, type MigrationStatus } from '../../src/shared/messages';
import { createSourcePool } from '../../src/pipeline/backfill/source-pool';
import { sleep, waitFor, Writer } from './support/pipeline';
import { atOrAfter, useMigration } from './support/migration';
import { record } from './support/record';

jest.setTimeout(700_000);

const SEED = 40_000;
const bed = useMigration('wm', { seedRows: SEED });
const { db, table } = bed;

test('MariaDB restarted during the backfill, kill -9 of the worker during a flag change: completes, 0 mismatches', async () => {
  bed.startWorker();
  const handle = await bed.start(bed.config());
  const pool = createSourcePool({ connectionLimit: 4 });
  const writer = new Writer(pool, `${db}.${table}`, SEED, 40);
  writer.start();

  let s: MigrationStatus | undefined;
  await waitFor('backfill copying', async () => ((s = await bed.status(handle)) !== undefined && (s.phase !== 'backfill' ? atOrAfter(s, 'backfill') : s.rowsCopied > 0)), 240_000);
  expect(s!.phase).toBe('backfill');
  const copiedBefore = s!.rowsCopied;
  await bed.stack.stop('mariadb');
  await sleep(10_000);
  const mariaUp = Date.now();
  await bed.stack.up();
  await waitFor('backfill done', async () => ((s = await bed.status(handle)) !== undefined && (s.backfillDone || atOrAfter(s, 'catch-up'))), 300_000);
  const backfillRecoverMs = Date.now() - mariaUp;
  expect(bed.worker.child.exitCode).toBeNull(); // the worker survived the source restart

  s = await bed.waitPhase(handle, 'shadow-writes');
  await writer.stop();
  const flagPhase = s.phase;
  const restarted = await bed.killWorker();

  const outcome = await bed.result(handle);
  expect(outcome?.phase).toBe('complete');
  const completeMs = Date.now() - restarted;
  const retried = bed.retried();
  const final = (await handle.query(statusQuery))!;
  expect(final.verification).toMatchObject({ passed: true, missing: 0, extra: 0, different: 0 });
  // the workflow history (every input, result, heartbeat and failure of every activity) holds no credentials and no
  // row data: every row's email ends in "@x.io", and the MySQL URL carries the password
  const decode = (k: string, v: unknown): unknown =>
    k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v;
  const history = JSON.stringify(await handle.fetchHistory(), decode);
  expect(history).toContain(`${db}.${table}`); // payloads are decoded: the table id is there
  expect(history).not.toContain('@x.io');
  expect(history).not.toContain('mysql://');
  expect(history).not.toContain(`:${new URL(process.env.CUTOVER_MYSQL_URL!).password}@`);

  const v = await bed.verifyAll(pool);
  await pool.end();
  expect(v).toMatchObject({ missing: 0, extra: 0, different: 0 });
  const lost = v.missing + v.different;
  record({
    fault: `MariaDB stopped 10 s, then started (backfill had copied ${copiedBefore} rows)`, phase: 'backfill', recovered: true, recoverMs: backfillRecoverMs,
    writesAcked: writer.acked, writesLost: lost, mismatches: lost + v.extra, command: 'npm run test:faults -- backfill-mariadb',
  });
  record({
    fault: 'kill -9 of the worker, new worker started at once', phase: `flag change (${flagPhase})`, recovered: true, recoverMs: completeMs,
    retriedMs: retried.length ? retried[0].at - restarted : undefined, retriedActivities: [...new Set(retried.map((r) => r.activity))],
    writesAcked: writer.acked, writesLost: lost, mismatches: lost + v.extra, command: 'npm run test:faults -- backfill-mariadb (recoverMs: restart to complete)',
  });
});
