/**
 * Poison input in the stream, through the real data path on a private stack (MySQL → CDC worker → Kafka → ETL
 * worker → DynamoDB): a row whose item would exceed DynamoDB's 400 KB limit (a 500 KB MEDIUMTEXT), and a message on
 * the topic that is not JSON at all. Expected: both go to the dead-letter topic (<topic>.dlq) with a reason and the
 * source offset; every other row flows (verification: only the oversize row differs, and it is `missing`).
 *
 * Until an operator acts, the oversize row is an acknowledged MySQL write that is *not* in DynamoDB; it is held in
 * the DLQ (with its original message) and the DLQ count the workflow reads (`describeEtl`, the same function the
 * activity calls) is 2, which trips the workflow's `dlq` gate (threshold 0 by default; the gate itself:
 * test/workflows/table-migration.dlq.test.ts). The checker (src/checker, over a log of every insert) sees that row as
 * a lost write at this point.
 *
 * Then the operator's recovery: stop the ETL, fix the mapping (exclude the oversize `note` column), redrive the DLQ
 * with the real process (`npm run etl -- … --redrive-dlq`), start the ETL again. Expected: the oversize row is applied,
 * the poison message fails again and is re-dead-lettered (not lost); verification with the fixed mapping finds 0
 * mismatches and the checker 0 lost writes; a second redrive does nothing. Recorded: the time from the redrive's start
 * until verified clean.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import YAML from 'yaml';
import { runCheck } from '../../src/checker/check';
import { nowMs, type OpRecord } from '../../src/checker/log-format';
import { createKafka } from '../../src/infra/kafka';
import { ControlStore } from '../../src/pipeline/consumer/control';
import { describeEtl } from '../../src/pipeline/consumer/etl-service';
import { readColumns } from '../../src/pipeline/row/codec';
import { compileMapping } from '../../src/pipeline/transform/mapping';
import { runVerify } from '../../src/pipeline/verify/verifier';
import { startPrivateStack, type PrivateStack } from '../support/private-stack';
import { lastLine, pipelineFixture, sleep, spawnWorker, waitFor, type PipelineFixture } from './support/pipeline';
import { verdict } from './support/logged-writer';
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

test('an item over 400 KB and a poison message go to the DLQ with a reason; the rest flows; fix + redrive recovers', async () => {
  const t = `\`${f.db}\`.${f.table}`;
  let acked = 0;
  const ops: OpRecord[] = []; // every insert, in the checker's log format (src/checker/log-format.ts)
  const insert = async (id: number, email: string, balance: number, note: string): Promise<void> => {
    const value = { email, balance: balance.toFixed(2), n: 0 };
    const start = nowMs();
    ops.push({ v: 1, instance: 'dlq-fault', op: id, kind: 'insert', table: 'users', key: { id: String(id) }, start, phase: 'invoke', value });
    await f.pool.query(`INSERT INTO ${t} VALUES (${id}, '${email}', ${balance}, 0, ${note})`);
    ops.push({ v: 1, instance: 'dlq-fault', op: id, kind: 'insert', table: 'users', key: { id: String(id) }, start, phase: 'complete', end: nowMs(), result: 'ok', applied: true, value });
    acked += 1;
  };
  const check = async () => {
    const logFile = path.join(f.logDir, 'ops.jsonl');
    fs.writeFileSync(logFile, ops.map((r) => JSON.stringify(r)).join('\n') + '\n');
    return runCheck([logFile], {
      mysql: f.pool,
      dynamo: f.client,
      tables: [{
        table: 'users', tokenColumn: 'email', mysql: { database: f.db, table: f.table, keyColumns: ['id'] },
        dynamo: { tableName: f.targetTable, key: [{ attribute: 'pk', type: 'S', template: 'USER#{id}' }, { attribute: 'sk', type: 'S', template: 'PROFILE' }], tokenAttribute: 'email', attributes: { email: 'email', balance: 'balance', n: 'n' } },
      }],
    });
  };
  for (let id = 1; id <= 50; id++) await insert(id, `u${id}@x.io`, id, 'NULL');
  await insert(51, 'big@x.io', 1, "REPEAT('x', 500000)");
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await producer.send({ topic: f.topic, acks: -1, messages: [{ key: '[999]', value: 'not json at all' }] });
  await producer.disconnect();
  for (let id = 52; id <= 100; id++) await insert(id, `u${id}@x.io`, id, 'NULL');
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
      const m = /no convergence after \d+ ms: (\{[^{}]*\})/.exec(e.message); // the counts (the message goes on with the stages)
      return m ? (JSON.parse(m[1]) as typeof counts) : counts;
    });
    return counts.missing === 1 && counts.extra === 0 && counts.different === 0;
  }, 90_000);
  const settledMs = Date.now() - tWritten;
  expect(f.etl.child.exitCode).toBeNull();
  // the one missing row is the dead-lettered one: id 51 is absent from DynamoDB (and is in the DLQ, checked above)
  const item51 = await f.client.send(new GetItemCommand({ TableName: f.targetTable, Key: { pk: { S: 'USER#51' }, sk: { S: 'PROFILE' } }, ConsistentRead: true }));
  expect(item51.Item).toBeUndefined();
  const heldInDlq = 1;
  const writesLostBefore = counts.missing + counts.different - heldInDlq;
  expect(writesLostBefore).toBe(0);
  const checkBefore = await check();
  expect(checkBefore.lostWrites).toBe(1); // the checker sees the held row as lost until it is redriven
  const dlqOutcome = `both in the DLQ with reasons (${reasons.join(', ')}); the rest applied (settled ${settledMs} ms after the last write); describeEtl dlqCount ${described.dlqCount} trips the workflow's dlq gate`;

  // The operator's recovery: stop the ETL, fix the mapping (exclude the oversize column), redrive, start the ETL.
  f.etl.child.kill('SIGTERM');
  expect(await f.etl.exited).toBe(0);
  const file = YAML.parse(fs.readFileSync(f.mappingFile, 'utf8')) as { tables: Record<string, unknown>[] };
  file.tables[0].exclude = ['note'];
  fs.writeFileSync(f.mappingFile, YAML.stringify(file));
  const fixed = compileMapping(file.tables[0] as Parameters<typeof compileMapping>[0], await readColumns(f.pool, f.db, f.table));
  const tRedrive = Date.now();
  const redriveArgs = ['src/workers/etl.ts', '--mapping', f.mappingFile, '--topic', f.topic, '--group', 'fq_etl', '--control-table', 'fq_control', '--redrive-dlq'];
  const redrive = spawnWorker(stack, 'redrive', redriveArgs, f.logDir);
  expect(await redrive.exited).toBe(2); // 2: some letters failed again (the poison message)
  const summary = lastLine(redrive, 'redrive done');
  expect(summary).toMatchObject({ applied: 1, stale: 0, failed: 1, filtered: 0 });
  const again = fs.readFileSync(redrive.log, 'utf8').split('\n').filter((l) => l.startsWith('{"msg":"redrive"')).map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(again.find((e) => e.outcome === 'failed')).toMatchObject({ reason: 'unparseable', newReason: 'unparseable', key: '[999]', redeadLettered: expect.anything() });
  expect(again.find((e) => e.outcome === 'applied')).toMatchObject({ reason: 'item-too-large', sourceTopic: f.topic });

  // verify with the fixed mapping: 0 mismatches; the checker: 0 lost writes
  let after = { missing: -1, extra: -1, different: -1 };
  await waitFor('verified clean after the redrive', async () => {
    const r = await runVerify({ pool: f.pool, client: f.client, mapping: fixed, appliedThrough: async () => '999999999999' }, { schema: f.db, table: f.table, mode: 'full', strategy: 'lookup', mismatchFile: path.join(f.logDir, `after-${Date.now()}.jsonl`), recheckTimeoutMs: 2_000, settleMs: 200 }).catch(() => undefined);
    if (r) after = r.counts;
    return !!r?.done && after.missing + after.extra + after.different === 0;
  }, 90_000);
  const recoverMs = Date.now() - tRedrive;
  const checkAfter = await check();
  console.log(`before the redrive: ${verdict(checkBefore)}; after: ${verdict(checkAfter)}`);
  expect(checkAfter.lostWrites).toBe(0);
  expect(Object.values(checkAfter.violationsByKind).reduce((a, b) => a + b, 0)).toBe(0);
  const item51After = await f.client.send(new GetItemCommand({ TableName: f.targetTable, Key: { pk: { S: 'USER#51' }, sk: { S: 'PROFILE' } }, ConsistentRead: true }));
  expect(item51After.Item).toMatchObject({ email: { S: 'big@x.io' } });
  expect(item51After.Item?.note).toBeUndefined();

  // nothing was lost from the DLQ: the 2 letters plus the poison message's re-dead-letter; a second redrive (the
  // ETL still stopped) does nothing
  const dlqNow = await describeEtl({ kafka, client: f.client, control: new ControlStore(f.client, 'fq_control') }, { topic: f.topic, group: 'fq_etl' });
  expect(dlqNow.dlqCount).toBe(3);
  const second = spawnWorker(stack, 'redrive2', redriveArgs, f.logDir);
  expect(await second.exited).toBe(0);
  expect(lastLine(second, 'redrive done')).toMatchObject({ applied: 0, stale: 0, failed: 0 });
  f.etl = f.startEtl(); // the operator resumes the ETL with the fixed mapping (then approves the workflow's dlq gate)

  record({
    fault: 'a 500 KB row (item over 400 KB) via CDC, and a non-JSON message on the topic', phase: 'stream ETL', recovered: true,
    outcome: `${dlqOutcome}; operator: stopped the ETL, excluded the column, npm run etl -- --redrive-dlq (applied 1, failed again 1: the poison message, re-dead-lettered), ETL restarted; second redrive did nothing`,
    recoverMs, writesAcked: acked, heldInDlq: 0, writesLost: checkAfter.lostWrites, mismatches: after.missing + after.different + after.extra,
    command: `npm run test:faults -- dlq (recoverMs: from the redrive's start until verification with the fixed mapping found 0 mismatches; before the redrive ${verdict(checkBefore)}; after ${verdict(checkAfter)})`,
  });
});
