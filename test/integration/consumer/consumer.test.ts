/**
 * The ETL consumer against real Kafka and dynalite: applies changes and loads from a partitioned topic, dead-letters
 * what cannot be applied (with reason, topic, partition, offset and key), commits only what is durable, reports lag,
 * switches apply mode with an acknowledgement, and a replay from the earliest offset leaves every item identical.
 */
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { ControlStore } from '../../../src/pipeline/consumer/control';
import { EtlConsumer } from '../../../src/pipeline/consumer/consumer';
import { groupLag, resetGroupOffsets } from '../../../src/pipeline/consumer/offsets';
import { isLive } from '../../../src/pipeline/item';
import { ensureTargetTable } from '../../../src/pipeline/target/table';
import { compileMapping } from '../../../src/pipeline/transform/mapping';
import { changeVersion, loadVersion } from '../../../src/pipeline/version';
import { uniqueName } from '../../support/ids';
import { createTopic, dms, produce, scanAll, USERS_MAPPING, waitFor } from './support';

let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let client: DynamoDBClient;
const topic = uniqueName('etl_topic');
const table = uniqueName('etl_target');
const controlTable = uniqueName('etl_control');
const group = uniqueName('etl_group');

beforeAll(async () => {
  kafka = createKafka('etl-test');
  admin = kafka.admin();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  client = createDynamoClient();
  await Promise.all([admin.connect(), producer.connect()]);
  await createTopic(admin, topic, 3);
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
  await Promise.all([table, controlTable].map((t) => client.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined)));
  await Promise.all([admin.disconnect(), producer.disconnect()]);
  client.destroy();
});

const schema = 'shop';
const src = uniqueName('users');

test('applies, dead-letters, reports lag, switches mode, and replays to an identical table', async () => {
  const mapping = compileMapping(USERS_MAPPING(`${schema}.${src}`, table));
  const target = await ensureTargetTable(client, [mapping], { create: true });
  expect(target.created).toBe(true);
  const control = new ControlStore(client, controlTable, { durationMs: 6_000, marginMs: 2_000, skewMs: 500 });

  // 300 users loaded by a backfill at snapshot 500, changes before and after it, deletes, one late stale load.
  const msgs: { key: string; value: string }[] = [];
  const expected = new Map<number, Record<string, string> | null>();
  for (let id = 1; id <= 300; id++) {
    const row = { id: String(id), email_address: `u${id}@x.io`, balance: `${id}.50`, prefs: `{"n": ${id}}` };
    msgs.push(dms(schema, src, 'insert', row, changeVersion(400 + (id % 50), 0)));
    msgs.push(dms(schema, src, 'load', row, loadVersion(500)));
    expected.set(id, row);
  }
  for (let id = 1; id <= 300; id += 3) {
    const row = { id: String(id), email_address: `new${id}@x.io`, balance: '0.00', prefs: '[]' };
    msgs.push(dms(schema, src, 'update', row, changeVersion(600 + id, 0)));
    expected.set(id, row);
  }
  for (let id = 2; id <= 300; id += 10) {
    msgs.push(dms(schema, src, 'delete', { id: String(id), email_address: 'x', balance: '0.00', prefs: '{}' }, changeVersion(1000 + id, 0)));
    msgs.push(dms(schema, src, 'load', { id: String(id), email_address: 'stale', balance: '9.00', prefs: '{}' }, loadVersion(900))); // late load after the delete
    expected.set(id, null);
  }
  // a producer that sends a key-changing update (DMS or Debezium style): row 300 becomes row 1000. The old key's
  // delete is re-published to the old key's partition and applied there.
  const moved = { id: '1000', email_address: 'moved@x.io', balance: '3.00', prefs: '{}' };
  msgs.push(dms(schema, src, 'update', moved, changeVersion(5000, 0), expected.get(300) as Record<string, string>));
  expected.set(300, null);
  expected.set(1000, moved);
  msgs.push({ key: '[999]', value: 'not json at all' });
  msgs.push(dms(schema, src, 'insert', { id: 'not-a-number', email_address: 'bad', balance: '1.00', prefs: '{"a": }' }, changeVersion(2000, 0)));
  await produce(producer, topic, msgs);

  const consumer = new EtlConsumer({ kafka, client, mappings: [mapping], topic, group, control, initialMode: 'exclusive', freshTarget: target.emptyForSources, modePollMs: 200 });
  const progress: number[] = [];
  const running = consumer.run({ onProgress: (p) => progress.push(p.events) });
  await waitFor('all events consumed', async () => (await groupLag(admin, group, topic)).every((p) => p.lag === 0));
  expect(consumer.progress().deadLettered).toBe(2);
  expect(consumer.progress().redirected).toBe(1);
  expect(consumer.progress().lagByPartition.every((p) => p.lag === 0)).toBe(true);
  expect(progress.length).toBeGreaterThan(0);

  const items = await scanAll(client, table);
  for (const [id, row] of expected) {
    const item = items.find((i) => i.pk.S === `USER#${id}`);
    if (row === null) expect(isLive(item)).toBe(false);
    else expect(mapping.toRow(item!)).toEqual(row);
  }

  // the dead letters: reason, topic, partition, offset and key
  const dlq = kafka.consumer({ groupId: uniqueName('dlq_reader') });
  await dlq.connect();
  await dlq.subscribe({ topic: `${topic}.dlq`, fromBeginning: true });
  const letters: Record<string, unknown>[] = [];
  await dlq.run({ eachMessage: async ({ message }) => void letters.push(JSON.parse(message.value!.toString())) });
  await waitFor('dead letters', () => letters.length === 2);
  await dlq.disconnect();
  expect(letters.map((l) => l.reason).sort()).toEqual(['transform', 'unparseable']);
  for (const l of letters) expect(l).toMatchObject({ topic, partition: expect.any(Number), offset: expect.any(String), key: expect.any(String) });

  // mode switch with acknowledgement
  const v = await control.setMode(group, 'shared');
  const ack = await control.awaitMode(group, v, 10_000);
  expect(ack.laggards).toEqual([]);
  expect(ack.acknowledged).toBe(1);
  await waitFor('mode applied', () => consumer.progress().mode === 'shared');

  await consumer.stop();
  expect((await running).stoppedBy).toBe('stopped');

  // replay from the earliest offset: every item identical
  const before = JSON.stringify(await scanAll(client, table));
  await resetGroupOffsets(admin, group, topic, { earliest: true });
  expect((await groupLag(admin, group, topic)).reduce((s, p) => s + p.lag, 0)).toBe(msgs.length + 1); // + the redirect
  const again = new EtlConsumer({ kafka, client, mappings: [mapping], topic, group, control, modePollMs: 200 });
  const running2 = again.run();
  await waitFor('replay consumed', async () => (await groupLag(admin, group, topic)).every((p) => p.lag === 0));
  await again.stop();
  await running2;
  expect(JSON.stringify(await scanAll(client, table))).toBe(before);
});
