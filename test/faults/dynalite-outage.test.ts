/**
 * Fault (quick, part of `npm test`): dynalite (DynamoDB) stopped for 10 s while the ETL applies a steady write load,
 * then started again on its data directory. On a private stack; the shared dynalite is never touched.
 *
 * Expected: apply errors are transient (connection refused), the batch is not committed, Kafka re-delivers it; once
 * DynamoDB is back everything acknowledged by MySQL is in the target (verification: 0 mismatches) and the items
 * written before the outage survived the restart (data on disk). Neither worker process died.
 *
 * Lost writes are judged by the checker over an operation log (support/logged-writer.ts): from 2 s before the stop
 * until 3 s after the start every write goes to a key written exactly once, so a lost event cannot be hidden by a
 * later write; the test then deletes one such item itself and asserts the checker reports it (the check can see a loss).
 */
import { startPrivateStack, type PrivateStack } from '../support/private-stack';
import { LoggedWriter, verdict } from './support/logged-writer';
import { lastLine, pipelineFixture, sleep, waitFor, type PipelineFixture } from './support/pipeline';
import { record } from './support/record';

jest.setTimeout(180_000);

let stack: PrivateStack;
let f: PipelineFixture;

beforeAll(async () => {
  stack = await startPrivateStack('fault-dynamo-');
  stack.applyEnv();
  f = await pipelineFixture(stack, 'fd', { seedRows: 0 });
}, 120_000);

afterAll(async () => {
  await f?.close();
  await stack?.down();
});

test('dynalite down 10 s during apply: no acknowledged write lost (checker), the workers carry on', async () => {
  const writer = new LoggedWriter(f);
  await writer.seedCold();
  writer.start();
  await waitFor('ETL applying', () => Number(lastLine(f.etl, 'progress')?.written ?? 0) > 0, 90_000);
  writer.mode = 'once';
  await sleep(2_000);
  await stack.stop('dynalite');
  const ackedBefore = writer.acked;
  await sleep(10_000);
  const ackedDuring = writer.acked - ackedBefore;
  const tUp = Date.now();
  await stack.up();
  await sleep(3_000);
  writer.mode = 'hot';
  await writer.stop();
  const { counts } = await f.converge(90_000);
  const recoverMs = Date.now() - tUp;
  expect(counts.missing + counts.different + counts.extra).toBe(0);
  const report = await writer.check(f.client);
  console.log(`${verdict(report)}; once-window writes acked: ${writer.ackedOnce}`);
  expect(report.keys.slice(0, 3)).toEqual([]);
  expect(report.lostWrites).toBe(0);
  expect(writer.ackedOnce).toBeGreaterThan(300);
  expect(f.cdc.child.exitCode).toBeNull();
  expect(f.etl.child.exitCode).toBeNull();
  // the check is able to see a loss: remove one once-window item by hand
  expect(await writer.lossIsVisible(f.client)).toBeGreaterThanOrEqual(1);
  record({
    fault: 'dynalite stopped 10 s (data on disk), then started', phase: 'stream ETL (apply) under write load', recovered: true,
    recoverMs, writesAcked: writer.acked, writesDuringFault: ackedDuring, writesLost: report.lostWrites,
    mismatches: counts.missing + counts.different + counts.extra,
    command: `npx jest test/faults/dynalite-outage.test.ts (${verdict(report)}; ${writer.ackedOnce} writes acked in the once-window)`,
  });
});
