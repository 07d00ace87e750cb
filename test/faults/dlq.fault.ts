/**
 * Poison input in the stream, through the real data path on a private stack (MySQL → CDC worker → Kafka → ETL
 * worker → DynamoDB): a row whose item would exceed DynamoDB's 400 KB limit (a 500 KB MEDIUMTEXT), and a message on
 * the topic that is not JSON at all. Expected: both go to the dead-letter topic (<topic>.dlq) with a reason and the
 * source offset; every other row flows (verification: only the oversize row differs, and it is `missing`).
 */
import type { Kafka } from 'kafkajs';
import { createKafka } from '../../src/infra/kafka';
import { startPrivateStack, type PrivateStack } from '../support/private-stack';
import { lastLine, pipelineFixture, sleep, waitFor, type PipelineFixture } from './support/pipeline';
import { record } from './support/record';

jest.setTimeout(240_000);

let stack: PrivateStack;
let f: PipelineFixture;
let kafka: Kafka;

beforeAll(async () => {
  stack = await startPrivateStack('fault-dlq-');
  stack.applyEnv();
  f = await pipelineFixture(stack, 'fq', { seedRows: 0 });
  kafka = createKafka('fault-dlq');
}, 120_000);

afterAll(async () => {
  await f?.close();
  await stack?.down();
});

async function readDlq(topic: string, n: number): Promise<Record<string, unknown>[]> {
  const consumer = kafka.consumer({ groupId: `dlq-reader-${Date.now()}`, maxWaitTimeInMs: 100 });
  const out: Record<string, unknown>[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void out.push(JSON.parse(message.value!.toString()) as Record<string, unknown>) });
  const deadline = Date.now() + 60_000;
  while (out.length < n && Date.now() < deadline) await sleep(200);
  await consumer.disconnect();
  return out;
}

test('an item over 400 KB and a poison message go to the DLQ with a reason; the rest flows', async () => {
  const t = `\`${f.db}\`.${f.table}`;
  for (let id = 1; id <= 50; id++) await f.pool.query(`INSERT INTO ${t} VALUES (${id}, 'u${id}@x.io', ${id}, 0, NULL)`);
  await f.pool.query(`INSERT INTO ${t} VALUES (51, 'big@x.io', 1, 0, REPEAT('x', 500000))`);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await producer.send({ topic: f.topic, acks: -1, messages: [{ key: '[999]', value: 'not json at all' }] });
  await producer.disconnect();
  for (let id = 52; id <= 100; id++) await f.pool.query(`INSERT INTO ${t} VALUES (${id}, 'u${id}@x.io', ${id}, 0, NULL)`);

  await waitFor('both dead-lettered', () => Number(lastLine(f.etl, 'progress')?.deadLettered ?? 0) >= 2, 90_000);
  const letters = await readDlq(`${f.topic}.dlq`, 2);
  const reasons = letters.map((l) => String(l.reason)).sort();
  expect(reasons).toHaveLength(2);
  expect(reasons).toEqual(expect.arrayContaining(['unparseable']));
  const big = letters.find((l) => l.reason !== 'unparseable')!;
  expect(String(big.error)).toMatch(/item is \d+ bytes, over DynamoDB's 409600/);
  expect(big).toMatchObject({ topic: f.topic });
  expect(String(big.offset)).toMatch(/^\d+$/);

  // everything else flowed: verification finds exactly the oversize row missing
  let counts = { missing: -1, extra: -1, different: -1 };
  await waitFor('only the oversize row missing', async () => {
    counts = await f.converge(1).then((r) => r.counts, (e: Error) => {
      const m = /\{.*\}/.exec(e.message);
      return m ? (JSON.parse(m[0]) as typeof counts) : counts;
    });
    return counts.missing === 1 && counts.extra === 0 && counts.different === 0;
  }, 90_000);
  expect(f.etl.child.exitCode).toBeNull();
  record({
    fault: 'a 500 KB row (item over 400 KB) via CDC, and a non-JSON message on the topic', phase: 'stream ETL', recovered: true, recoverMs: 0,
    writesAcked: 101, writesLost: 0, mismatches: 1, command: `npm run test:faults -- dlq (DLQ reasons: ${reasons.join(', ')}; the 1 mismatch is the dead-lettered row, by design)`,
  });
});
