/**
 * DLQ redrive on real Kafka and dynalite: an unparseable message and two items over 400 KB are dead-lettered by the
 * ETL consumer; after the mapping is fixed (the big column excluded) the redrive applies the oversize row that has
 * nothing newer, reports the other oversize row as stale (a newer update is stored, and stays), and the unparseable
 * one as failing again (re-dead-lettered with its reason, not lost); a second redrive (the real `npm run etl --
 * --redrive-dlq` process) does nothing; a filtered redrive does not move the position; a live lease refuses it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { DeleteTableCommand, GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin, Kafka, Producer } from 'kafkajs';
import YAML from 'yaml';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { ControlStore } from '../../../src/pipeline/consumer/control';
import { EtlConsumer } from '../../../src/pipeline/consumer/consumer';
import { groupLag } from '../../../src/pipeline/consumer/offsets';
import { redriveDlq, redriveGroupOf } from '../../../src/pipeline/consumer/redrive';
import { ensureTargetTable } from '../../../src/pipeline/target/table';
import { compileMapping } from '../../../src/pipeline/transform/mapping';
import { changeVersion } from '../../../src/pipeline/version';
import { uniqueName } from '../../support/ids';
import { dms, produce, waitFor } from './support';
import { startWorker } from './worker-process';

jest.setTimeout(240_000);
const WAIT_MS = 120_000;

const db = uniqueName('rd_src');
const topic = uniqueName('rd_topic');
const table = uniqueName('rd_target');
const controlTable = uniqueName('rd_control');
const group = uniqueName('rd_group');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redrive-'));
const children: ChildProcess[] = [];
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let client: DynamoDBClient;
let control: ControlStore;

const spec = (exclude: string[]) => ({
  source: `${db}.users`,
  target: table,
  partitionKey: { attribute: 'pk', template: 'USER#{id}' },
  sortKey: { attribute: 'sk', template: 'PROFILE' },
  nulls: 'omit' as const,
  columns: { id: { sqlType: 'bigint' } },
  exclude,
});
const BUGGY = compileMapping(spec([]));
const FIXED = compileMapping(spec(['note']));
const BIG = 'x'.repeat(500_000);

beforeAll(async () => {
  kafka = createKafka('redrive-test');
  admin = kafka.admin();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  client = createDynamoClient();
  await Promise.all([admin.connect(), producer.connect()]);
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2 }] });
  control = new ControlStore(client, controlTable);
  await control.ensureTable();
  await ensureTargetTable(client, [BUGGY], { create: true });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await admin.deleteGroups([group, redriveGroupOf(group)]).catch(() => undefined);
  await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
  await Promise.all([table, controlTable].map((t) => client.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined)));
  await Promise.all([admin.disconnect(), producer.disconnect()]);
  client.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

const item = async (id: number) => (await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: `USER#${id}` }, sk: { S: 'PROFILE' } }, ConsistentRead: true }))).Item;

test('redrive applies what the fixed mapping can write, skips stale events, re-dead-letters the rest, and remembers its position', async () => {
  const row = (id: number, note: string | null) => ({ id: String(id), email: `u${id}@x.io`, note });
  await produce(producer, topic, [
    ...[1, 2, 3, 4].map((id) => dms(db, 'users', 'insert', row(id, 'small'), changeVersion(1, id))),
    dms(db, 'users', 'insert', row(6, BIG), changeVersion(1, 6)), // too large; nothing newer: the redrive applies it
    dms(db, 'users', 'insert', row(7, BIG), changeVersion(1, 7)), // too large, then a newer small update is stored
    dms(db, 'users', 'update', row(7, 'newer'), changeVersion(1, 70)),
    { key: '[999]', value: 'not json at all' },
  ]);

  // 1. the ETL (buggy mapping) dead-letters three events and applies the rest
  const c = new EtlConsumer({ kafka, client, mappings: [BUGGY], topic, group, control, modePollMs: 200 });
  const running = c.run();
  try {
    await waitFor('lag 0', async () => (await groupLag(admin, group, topic)).every((p) => p.lag === 0), WAIT_MS);
  } finally {
    await c.stop();
  }
  expect((await running).progress.deadLettered).toBe(3);
  expect(await item(6)).toBeUndefined();
  expect((await item(7))?.note).toEqual({ S: 'newer' });

  // a live lease of the group refuses the redrive before anything is read
  const { lease } = await control.acquire(group, topic, 0, 'someone-else', async () => undefined);
  await expect(redriveDlq({ kafka, client, control }, { group, topic, mappings: [FIXED] })).rejects.toMatchObject({ name: 'ReplayRefusedError', code: 'lease-held', message: expect.stringContaining(group) });
  await control.release(lease);

  // 2. the redrive with the fixed mapping (note excluded)
  const r1 = await redriveDlq({ kafka, client, control }, { group, topic, mappings: [FIXED] });
  expect(r1.counts).toEqual({ applied: 1, stale: 1, failed: 1, control: 0, filtered: 0 });
  const by = (outcome: string) => r1.entries.filter((e) => e.outcome === outcome);
  expect(by('applied')[0]).toMatchObject({ sourceTopic: topic, reason: 'item-too-large', key: expect.stringContaining('6') });
  expect(by('stale')[0]).toMatchObject({ sourceTopic: topic, reason: 'item-too-large', key: expect.stringContaining('7') });
  const failed = by('failed')[0];
  expect(failed).toMatchObject({ reason: 'unparseable', newReason: 'unparseable', key: '[999]', redeadLettered: { partition: failed.dlqPartition, offset: expect.stringMatching(/^\d+$/) } });
  expect(failed.error).toMatch(/./);
  expect(await item(6)).toMatchObject({ email: { S: 'u6@x.io' }, _v: { N: changeVersion(1, 6) } });
  expect((await item(6))?.note).toBeUndefined();
  expect(await item(7)).toMatchObject({ note: { S: 'newer' }, _v: { N: changeVersion(1, 70) } }); // the stale redrive changed nothing
  const dlqEnd = await admin.fetchTopicOffsets(`${topic}.dlq`);
  expect(dlqEnd.reduce((s, p) => s + Number(p.high), 0)).toBe(4); // 3 letters + the re-dead-lettered one: nothing lost
  expect(r1.committed?.map((p) => p.offset).sort()).toEqual(dlqEnd.map((p) => p.high).sort());

  // 3. a filtered redrive from the start re-applies nothing new and does not move the position
  const r2 = await redriveDlq({ kafka, client, control }, { group, topic, mappings: [FIXED], filter: { from: { earliest: true }, reasons: ['item-too-large'] } });
  expect(r2.counts).toEqual({ applied: 0, stale: 2, failed: 0, control: 0, filtered: 2 });
  expect(r2.committed).toBeNull();
  expect(r2.notCommitted).toMatch(/reasons/);

  // 4. the operator's second redrive, through the real process: nothing to do
  const mappingFile = path.join(dir, 'fixed.yaml');
  fs.writeFileSync(mappingFile, YAML.stringify({ version: 1, tables: [spec(['note'])] }));
  const etl = startWorker(['--mapping', mappingFile, '--topic', topic, '--group', group, '--control-table', controlTable, '--redrive-dlq'], children);
  expect(await etl.exited).toBe(0);
  const done = etl.lines.find((l) => l.msg === 'redrive done');
  expect(done).toMatchObject({ applied: 0, stale: 0, failed: 0, filtered: 0, dlqTopic: `${topic}.dlq` });
  expect(etl.lines.filter((l) => l.msg === 'redrive')).toHaveLength(0);
  expect(await item(7)).toMatchObject({ note: { S: 'newer' } });

  // a bad option fails fast, naming it
  const bad = startWorker(['--mapping', mappingFile, '--topic', topic, '--group', group, '--redrive-dlq', '--redrive-reasons', 'nope'], children);
  expect(await bad.exited).toBe(1);
  expect(bad.log.join('')).toMatch(/--redrive-reasons: unknown reason\(s\) nope/);
});
