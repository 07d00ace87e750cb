/**
 * Fault: the Kafka broker stopped for 30 s while CDC and stream ETL run under a steady write load, then started.
 * On a private stack (test/support/private-stack.ts): the shared broker is never touched.
 *
 * Expected: the CDC worker keeps retrying and never checkpoints past an event Kafka did not acknowledge; the ETL
 * worker reconnects; once the broker is back every acknowledged MySQL write reaches DynamoDB (verification: 0
 * mismatches), with both worker processes still the original ones (no crash, no restart by hand).
 *
 * Lost writes are judged by the checker over an operation log (support/logged-writer.ts): from 2 s before the stop
 * until 3 s after the start every write goes to a key written exactly once, so an event lost in the outage cannot be
 * hidden by a later write; the test then deletes one such item itself and asserts the checker reports it.
 */
import { startPrivateStack, type PrivateStack } from '../support/private-stack';
import { LoggedWriter, verdict } from './support/logged-writer';
import { lastLine, pipelineFixture, sleep, waitFor, type PipelineFixture } from './support/pipeline';
import { record } from './support/record';

jest.setTimeout(240_000);

let stack: PrivateStack;
let f: PipelineFixture;

beforeAll(async () => {
  stack = await startPrivateStack('fault-kafka-');
  stack.applyEnv();
  f = await pipelineFixture(stack, 'fk', { seedRows: 0 });
});

afterAll(async () => {
  await f?.close();
  await stack?.down();
});

const seqOf = (gtid: string | undefined): bigint => BigInt(gtid?.split('-')[2] ?? '0');

test('Kafka down 30 s during CDC + stream ETL: nothing lost, checkpoint never passes an unpublished event', async () => {
  const writer = new LoggedWriter(f);
  await writer.seedCold(2500);
  writer.start();
  await waitFor('CDC checkpoint moving', async () => seqOf((await f.store.get(f.cdcId))?.position?.gtid) > 0n, 60_000);
  await waitFor('ETL applying', () => Number(lastLine(f.etl, 'progress')?.written ?? 0) > 0, 60_000);
  writer.mode = 'once';
  await sleep(2_000);

  await stack.stop('kafka');
  const [g] = await f.pool.query('SELECT @@gtid_binlog_pos AS g');
  const atStop = seqOf(String((g as { g: string }[])[0].g));
  const ackedBefore = writer.acked;
  for (let s = 0; s < 30; s += 2) {
    await sleep(2_000);
    // no checkpoint beyond what was in the binlog when the broker went away, plus what Kafka had already acked
    expect(seqOf((await f.store.get(f.cdcId))?.position?.gtid)).toBeLessThanOrEqual(atStop);
  }
  const ackedDuringOutage = writer.acked - ackedBefore;
  expect(ackedDuringOutage).toBeGreaterThan(100);
  const tUp = Date.now();
  await stack.up();
  await sleep(3_000);
  writer.mode = 'hot';
  await writer.stop();

  const { ms, counts } = await f.converge(120_000);
  const recoverMs = Date.now() - tUp;
  expect(counts.missing + counts.different + counts.extra).toBe(0);
  const report = await writer.check(f.client);
  console.log(`${verdict(report)}; once-window writes acked: ${writer.ackedOnce}`);
  expect(report.keys.slice(0, 3)).toEqual([]);
  expect(report.lostWrites).toBe(0);
  expect(writer.ackedOnce).toBeGreaterThan(1000);
  // neither worker died: recovery was by retry, not by a restart
  expect(f.cdc.child.exitCode).toBeNull();
  expect(f.etl.child.exitCode).toBeNull();
  // the check is able to see a loss: remove one once-window item by hand
  expect(await writer.lossIsVisible(f.client)).toBeGreaterThanOrEqual(1);
  record({
    fault: 'Kafka broker stopped 30 s (graceful stop), then started',
    phase: 'CDC + stream ETL under write load',
    recovered: true,
    recoverMs,
    convergeMs: ms,
    writesAcked: writer.acked,
    writesDuringFault: ackedDuringOutage,
    writesLost: report.lostWrites,
    mismatches: counts.missing + counts.different + counts.extra,
    command: `npm run test:faults -- kafka-outage (${verdict(report)}; ${writer.ackedOnce} writes acked in the once-window)`,
  });
});
