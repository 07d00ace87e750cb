/**
 * Poison input in the stream, through the real data path on a private stack (MySQL → CDC worker → Kafka → ETL
 * worker → DynamoDB): a row whose item would exceed DynamoDB's 400 KB limit (a 500 KB MEDIUMTEXT), and a message on
 * the topic that is not JSON at all. Expected: both go to the dead-letter topic (<topic>.dlq) with a reason and the
 * source offset; every other row flows (verification: only the oversize row differs, and it is `missing`).
 *
 * Outcome recorded honestly: the oversize row is an acknowledged MySQL write that is *not* in DynamoDB; it is held in
 * the DLQ (with its original message, so it can be replayed) and the DLQ count the workflow reads (`describeEtl`, the
 * same function the activity calls) is 2, which trips the workflow's `dlq` gate (threshold 0 by default; the gate
 * itself: test/workflows/table-migration.dlq.test.ts). So this fault "stops safely and is surfaced to the operator",
 * it is not "recovered": writes lost counts acknowledged rows that are neither in the target nor in the DLQ.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import { createKafka } from '../../src/infra/kafka';
import { ControlStore } from '../../src/pipeline/consumer/control';
import { describeEtl } from '../../src/pipeline/consumer/etl-service';
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
  let acked = 0;
  const insert = async (sql: string): Promise<void> => {
    await f.pool.query(sql);
    acked += 1;
  };
  for (let id = 1; id <= 50; id++) await insert(`INSERT INTO ${t} VALUES (${id}, 'u${id}@x.io', ${id}, 0, NULL)`);
  await insert(`INSERT INTO ${t} VALUES (51, 'big@x.io', 1, 0, REPEAT('x', 500000))`);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await producer.send({ topic: f.topic, acks: -1, messages: [{ key: '[999]', value: 'not json at all' }] });
  await producer.disconnect();
  for (let id = 52; id <= 100; id++) await insert(`INSERT INTO ${t} VALUES (${id}, 'u${id}@x.io', ${id}, 0, NULL)`);
  const tWritten = Date.now();

  await waitFor('both dead-lettered', () => Number(lastLine(f.etl, 'progress')?.deadLettered ?? 0) >= 2, 90_000);
  const letters = await readDlq(`${f.topic}.dlq`, 2);
  const reasons = letters.map((l) => String(l.reason)).sort();
  expect(reasons).toHaveLength(2);
  expect(reasons).toEqual(expect.arrayContaining(['unparseable']));
  const big = letters.find((l) => l.reason !== 'unparseable')!;
  expect(String(big.error)).toMatch(/item is \d+ bytes, over DynamoDB's 409600/);
  expect(big).toMatchObject({ topic: f.topic });
  expect(String(big.offset)).toMatch(/^\d+$/);
  expect(String(big.key)).toMatch(/\b51\b/);
  expect(String(big.value).length).toBeGreaterThan(500_000); // the original event, to replay after the mapping is fixed

  // what the workflow's DLQ gate reads: the same describeEtl the activity calls
  const described = await describeEtl({ kafka, client: f.client, control: new ControlStore(f.client, 'fq_control') }, { topic: f.topic, group: 'fq_etl' });
  expect(described.dlqCount).toBe(2);

  // everything else flowed: verification finds exactly the oversize row missing
  let counts = { missing: -1, extra: -1, different: -1 };
  await waitFor('only the oversize row missing', async () => {
    counts = await f.converge(1).then((r) => r.counts, (e: Error) => {
      const m = /\{.*\}/.exec(e.message);
      return m ? (JSON.parse(m[0]) as typeof counts) : counts;
    });
    return counts.missing === 1 && counts.extra === 0 && counts.different === 0;
  }, 90_000);
  const settledMs = Date.now() - tWritten;
  expect(f.etl.child.exitCode).toBeNull();
  // the one missing row is the dead-lettered one: id 51 is absent from DynamoDB (and is in the DLQ, checked above)
  const item51 = await f.client.send(new GetItemCommand({ TableName: f.targetTable, Key: { pk: { S: 'USER#51' }, sk: { S: 'PROFILE' } }, ConsistentRead: true }));
  expect(item51.Item).toBeUndefined();
  const heldInDlq = 1;
  const writesLost = counts.missing + counts.different - heldInDlq;
  expect(writesLost).toBe(0);
  record({
    fault: 'a 500 KB row (item over 400 KB) via CDC, and a non-JSON message on the topic', phase: 'stream ETL', recovered: false,
    outcome: `stops safely: both in the DLQ with reasons (${reasons.join(', ')}); the rest applied; describeEtl dlqCount ${described.dlqCount} trips the workflow's dlq gate`,
    recoverMs: settledMs, writesAcked: acked, heldInDlq, writesLost, mismatches: counts.missing + counts.different + counts.extra,
    command: 'npm run test:faults -- dlq (recoverMs: from the last write until verification showed only the dead-lettered row missing)',
  });
});
