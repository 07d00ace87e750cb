/**
 * Fault: kill -9 of the CDC process while it publishes a large transaction (20 000 rows in one INSERT … SELECT), under
 * a logged write load, on a private stack; a new CDC process is started at once. Measures what
 * test/integration/cdc/crash.test.ts (topic-level, no gap) does not: the end-to-end time until DynamoDB verifies clean
 * again, and the mismatches and lost writes once it has.
 *
 * The kill lands mid-transaction by construction: the test waits until the topic holds part of the transaction's
 * events (high-water marks grew by more than 500 but less than 20 000) and fails if it could not kill in that
 * window. Lost writes: the transaction's rows are fresh keys written once (verification reports any that is missing),
 * and the logged writer's once-window around the kill is judged by the checker (support/logged-writer.ts).
 */
import type { Kafka } from 'kafkajs';
import { createKafka } from '../../src/infra/kafka';
import { startPrivateStack, type PrivateStack } from '../support/private-stack';
import { LoggedWriter, verdict } from './support/logged-writer';
import { lastLine, pipelineFixture, sleep, waitFor, type PipelineFixture } from './support/pipeline';
import { record } from './support/record';

jest.setTimeout(700_000);

/** Rows in the killed transaction; FAULT_TX_ROWS overrides (e.g. 60000 to stress the catch-up). */
const TX_ROWS = Number(process.env.FAULT_TX_ROWS ?? 20_000);
let stack: PrivateStack;
let f: PipelineFixture;
let kafka: Kafka;

beforeAll(async () => {
  stack = await startPrivateStack('fault-cdckill-');
  stack.applyEnv();
  f = await pipelineFixture(stack, 'fc', { seedRows: 0 });
  kafka = createKafka('fault-cdc-kill');
}, 120_000);

afterAll(async () => {
  await f?.close();
  await stack?.down();
});

async function topicEvents(): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(f.topic)).reduce((s, p) => s + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

test('kill -9 of the CDC process mid-transaction, new process at once: every acknowledged write arrives', async () => {
  const writer = new LoggedWriter(f);
  await writer.seedCold();
  writer.start();
  await waitFor('ETL applying', () => Number(lastLine(f.etl, 'progress')?.written ?? 0) > 0, 90_000);
  writer.mode = 'once';
  const base = await topicEvents();
  const tx = f.pool.query(`INSERT INTO \`${f.db}\`.${f.table} (id, email, balance, n) SELECT 10000000 + seq, CONCAT('tx', seq, '@x.io'), seq / 4, 0 FROM \`${f.db}\`.seq_1_to_${TX_ROWS}`);
  await tx;
  let published = 0;
  const deadline = Date.now() + 60_000;
  for (;;) {
    published = (await topicEvents()) - base;
    if (published > 500) break;
    if (Date.now() > deadline) throw new Error(`the CDC published only ${published} events of the transaction in 60 s`);
    await sleep(20);
  }
  f.cdc.child.kill('SIGKILL');
  await f.cdc.exited;
  const atKill = (await topicEvents()) - base;
  // the kill landed inside the transaction: part of its events were on the topic, not all
  expect(atKill).toBeLessThan(TX_ROWS);
  const tRestart = Date.now();
  f.cdc = f.startCdc();
  await sleep(3_000);
  writer.mode = 'hot';
  await sleep(2_000);
  await writer.stop();
  const { counts } = await f.converge(Math.max(200_000, TX_ROWS * 8));
  const recoverMs = Date.now() - tRestart;
  expect(counts.missing + counts.different + counts.extra).toBe(0);
  const [rows] = await f.pool.query(`SELECT COUNT(*) AS c FROM \`${f.db}\`.${f.table} WHERE id > 10000000`);
  expect(Number((rows as { c: number }[])[0].c)).toBe(TX_ROWS);
  const report = await writer.check(f.client);
  console.log(`${verdict(report)}; killed with ${atKill} of ${TX_ROWS} transaction events on the topic; recovered in ${recoverMs} ms`);
  expect(report.keys.slice(0, 3)).toEqual([]);
  expect(report.lostWrites).toBe(0);
  expect(f.etl.child.exitCode).toBeNull();
  expect(await writer.lossIsVisible(f.client)).toBeGreaterThanOrEqual(1);
  record({
    fault: `kill -9 of the CDC process mid-transaction (${atKill} of ${TX_ROWS} row events published), new process started at once`,
    phase: 'CDC + stream ETL under write load', recovered: true, recoverMs, writesAcked: writer.acked + TX_ROWS, writesLost: report.lostWrites,
    mismatches: counts.missing + counts.different + counts.extra,
    command: `npm run test:faults -- cdc-kill (${verdict(report)}; recoverMs: new CDC process start → DynamoDB verified clean)`,
  });
});
