/**
 * Fault: MariaDB restarted (graceful stop, 10 s down, start) while CDC and stream ETL run under a write load. On a
 * private stack; the shared MariaDB is never touched.
 *
 * Expected: the CDC worker's binlog connection drops; it reconnects from its checkpoint (GTID) once the server is
 * back, re-publishing at most what it had not checkpointed; writes the server refused while down were never
 * acknowledged; every acknowledged write reaches DynamoDB (verification: 0 mismatches). The CDC process runs in
 * claim-any mode (as every Temporal worker hosts it) and must outlive the restart: its reader fails, the runtime keeps
 * polling and claims the task again once the server is back.
 *
 * Lost writes are judged by the checker over an operation log (support/logged-writer.ts): from 3 s before the stop
 * until 5 s after the start every write goes to a key written exactly once (writes refused while the server is down
 * are logged as failed, i.e. indeterminate); the test then deletes one such item itself and asserts the checker
 * reports it.
 */
import { startPrivateStack, type PrivateStack } from '../support/private-stack';
import { LoggedWriter, verdict } from './support/logged-writer';
import { lastLine, pipelineFixture, sleep, waitFor, type PipelineFixture } from './support/pipeline';
import { record } from './support/record';

jest.setTimeout(240_000);

let stack: PrivateStack;
let f: PipelineFixture;

beforeAll(async () => {
  stack = await startPrivateStack('fault-mariadb-');
  stack.applyEnv();
  f = await pipelineFixture(stack, 'fm', { seedRows: 0 });
}, 120_000);

afterAll(async () => {
  await f?.close();
  await stack?.down();
});

test('MariaDB restarted during CDC + stream ETL: every acknowledged write arrives (checker)', async () => {
  const writer = new LoggedWriter(f);
  await writer.seedCold();
  writer.start();
  await waitFor('ETL applying', () => Number(lastLine(f.etl, 'progress')?.written ?? 0) > 0, 90_000);
  writer.mode = 'once';
  await sleep(3_000);
  const ackedBefore = writer.acked;
  await stack.stop('mariadb');
  await sleep(10_000);
  const tUp = Date.now();
  await stack.up();
  await sleep(3_000);
  let cdcRestarted = false;
  if (f.cdc.child.exitCode !== null) {
    cdcRestarted = true;
    f.cdc = f.startCdc();
  }
  await sleep(2_000);
  writer.mode = 'hot';
  await writer.stop();
  const { counts } = await f.converge(120_000);
  const recoverMs = Date.now() - tUp;
  expect(counts.missing + counts.different + counts.extra).toBe(0);
  const report = await writer.check(f.client);
  console.log(`${verdict(report)}; once-window writes acked: ${writer.ackedOnce}, failed while down: ${writer.failed}`);
  expect(report.keys.slice(0, 3)).toEqual([]);
  expect(report.lostWrites).toBe(0);
  expect(writer.ackedOnce).toBeGreaterThan(200);
  expect(f.etl.child.exitCode).toBeNull();
  expect(cdcRestarted).toBe(false); // the CDC runtime (claim-any, as in a worker) outlives a source restart
  expect(await writer.lossIsVisible(f.client)).toBeGreaterThanOrEqual(1);
  record({
    fault: `MariaDB stopped 10 s, then started${cdcRestarted ? ' (CDC worker exited and was restarted)' : ' (CDC worker reconnected by itself)'}`,
    phase: 'CDC + stream ETL under write load', recovered: true, recoverMs, writesAcked: writer.acked,
    writesDuringFault: writer.acked - ackedBefore, writesLost: report.lostWrites, mismatches: counts.missing + counts.different + counts.extra,
    command: `npm run test:faults -- mariadb-restart (${verdict(report)}; ${writer.ackedOnce} writes acked in the once-window, ${writer.failed} refused while down)`,
  });
});
