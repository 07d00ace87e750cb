/**
 * Fault (quick, part of `npm test`): dynalite (DynamoDB) stopped for 10 s while the ETL applies a steady write load,
 * then started again on its data directory. On a private stack; the shared dynalite is never touched.
 *
 * Expected: apply errors are transient (connection refused), the batch is not committed, Kafka re-delivers it; once
 * DynamoDB is back everything acknowledged by MySQL is in the target (verification: 0 mismatches) and the items
 * written before the outage survived the restart (data on disk). Neither worker process died.
 */
import { startPrivateStack, type PrivateStack } from '../support/private-stack';
import { lastLine, pipelineFixture, sleep, waitFor, Writer, type PipelineFixture } from './support/pipeline';
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

test('dynalite down 10 s during apply: nothing lost, the workers carry on', async () => {
  const writer = new Writer(f.pool, `\`${f.db}\`.${f.table}`);
  writer.start();
  await waitFor('ETL applying', () => Number(lastLine(f.etl, 'progress')?.written ?? 0) > 0, 90_000);
  await sleep(2_000);
  await stack.stop('dynalite');
  const ackedBefore = writer.acked;
  await sleep(10_000);
  const ackedDuring = writer.acked - ackedBefore;
  const tUp = Date.now();
  await stack.up();
  await sleep(2_000);
  await writer.stop();
  const { counts } = await f.converge(90_000);
  expect(counts.missing + counts.different + counts.extra).toBe(0);
  expect(f.cdc.child.exitCode).toBeNull();
  expect(f.etl.child.exitCode).toBeNull();
  record({
    fault: 'dynalite stopped 10 s (data on disk), then started', phase: 'stream ETL (apply) under write load', recovered: true,
    recoverMs: Date.now() - tUp, writesAcked: writer.acked, writesDuringFault: ackedDuring, writesLost: counts.missing + counts.different,
    mismatches: counts.missing + counts.different + counts.extra, command: 'npx jest test/faults/dynalite-outage.test.ts',
  });
});
