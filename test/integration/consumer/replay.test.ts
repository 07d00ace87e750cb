/**
 * Replay on real Kafka and dynalite (next to the `earliest` replay in consumer.test.ts): a replay from a timestamp
 * (fetchTopicOffsetsByTimestamp) and one from explicit partition offsets each reprocess exactly the events they name
 * and leave EVERY item of the target identical, as does the operator's `npm run etl -- --replay-from <time>`; a
 * reset is refused, naming the group, while a consumer runs or a partition lease is live, and an offset outside a
 * partition's range is refused before anything changes.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { ControlStore } from '../../../src/pipeline/consumer/control';
import { EtlConsumer } from '../../../src/pipeline/consumer/consumer';
import { groupLag } from '../../../src/pipeline/consumer/offsets';
import { replayGroup } from '../../../src/pipeline/consumer/replay';
import { ensureTargetTable } from '../../../src/pipeline/target/table';
import { compileMapping, type CompiledMapping } from '../../../src/pipeline/transform/mapping';
import { changeVersion, loadVersion } from '../../../src/pipeline/version';
import { uniqueName } from '../../support/ids';
import { createTopic, dms, produce, scanAll, USERS_MAPPING, waitFor } from './support';
import { startWorker } from './worker-process';

let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let client: DynamoDBClient;
let mapping: CompiledMapping;
let control: ControlStore;
const topic = uniqueName('replay_topic');
const table = uniqueName('replay_target');
const controlTable = uniqueName('replay_control');
const group = uniqueName('replay_group');
const schema = 'shop';
const src = uniqueName('users');
const children: ChildProcess[] = [];

beforeAll(async () => {
  kafka = createKafka('replay-test');
  admin = kafka.admin();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  client = createDynamoClient();
  await Promise.all([admin.connect(), producer.connect()]);
  await createTopic(admin, topic, 3);
  mapping = compileMapping(USERS_MAPPING(`${schema}.${src}`, table));
  await ensureTargetTable(client, [mapping], { create: true });
  control = new ControlStore(client, controlTable); // default 30 s leases: a loaded shared dynalite answered a renewal in > 4 s
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
  await Promise.all([table, controlTable].map((t) => client.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined)));
  await Promise.all([admin.disconnect(), producer.disconnect()]);
  client.destroy();
});

const row = (id: number, tag: string) => ({ id: String(id), email_address: `${tag}${id}@x.io`, balance: `${id}.25`, prefs: `{"t": "${tag}"}` });
// A consumer group's first join took 30–70 s on the loaded shared machine (normally a few seconds); the waits allow for it.
jest.setTimeout(600_000);
const WAIT_MS = 240_000;
const sum = async () => (await groupLag(admin, group, topic)).reduce((s, p) => s + p.lag, 0);

/** Runs one consumer of the group until it has consumed everything, then stops it. */
async function consumeAll(initialMode?: 'exclusive' | 'shared'): Promise<void> {
  const c = new EtlConsumer({ kafka, client, mappings: [mapping], topic, group, control, initialMode, freshTarget: initialMode !== undefined, modePollMs: 200 });
  const running = c.run();
  try {
    await waitFor('lag 0', async () => (await sum()) === 0, WAIT_MS);
  } finally {
    await c.stop();
    expect((await running).stoppedBy).toBe('stopped');
  }
}

test('replays from a timestamp and from explicit offsets, each leaving every item identical', async () => {
  // history part 1: loads of 150 rows, inserts of 50 more
  const first: { key: string; value: string }[] = [];
  for (let id = 1; id <= 150; id++) first.push(dms(schema, src, 'load', row(id, 'load'), loadVersion(100)));
  for (let id = 151; id <= 200; id++) first.push(dms(schema, src, 'insert', row(id, 'ins'), changeVersion(200 + id, 0)));
  await produce(producer, topic, first);
  await new Promise((r) => setTimeout(r, 50)); // the broker's timestamps of part 2 are all later than `at`
  const at = Date.now();
  await new Promise((r) => setTimeout(r, 50));
  // part 2: updates, deletes, a late load after a delete
  const second: { key: string; value: string }[] = [];
  for (let id = 1; id <= 200; id += 4) second.push(dms(schema, src, 'update', row(id, 'upd'), changeVersion(1000 + id, 0)));
  for (let id = 3; id <= 200; id += 20) {
    second.push(dms(schema, src, 'delete', row(id, 'del'), changeVersion(2000 + id, 0)));
    second.push(dms(schema, src, 'load', row(id, 'stale'), loadVersion(1500)));
  }
  await produce(producer, topic, second);

  const runningConsumer = new EtlConsumer({ kafka, client, mappings: [mapping], topic, group, control, initialMode: 'exclusive', freshTarget: true, modePollMs: 200 });
  const running = runningConsumer.run();
  await waitFor('lag 0', async () => (await sum()) === 0, WAIT_MS);
  // refused while a member runs: nothing is reset and the message names the group
  await expect(replayGroup({ admin, control }, group, topic, { earliest: true })).rejects.toMatchObject({ name: 'ReplayRefusedError', code: 'group-active', group, message: expect.stringContaining(group) });
  expect(await sum()).toBe(0);
  await runningConsumer.stop();
  await running;
  const before = await scanAll(client, table);
  expect(before.length).toBe(200); // 190 live + 10 tombstones
  expect(before.filter((i) => i._del?.BOOL === true)).toHaveLength(10);

  // from a timestamp: exactly part 2 is reprocessed
  const r = await replayGroup({ admin, control }, group, topic, { timestamp: at });
  expect(r.partitions).toHaveLength(3);
  expect(await sum()).toBe(second.length);
  await consumeAll();
  expect(JSON.stringify(await scanAll(client, table))).toBe(JSON.stringify(before));

  // from explicit offsets: partition 0 from its start, partition 1 from its middle, partition 2 unchanged
  const ends = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition);
  const mid = String(Math.floor(Number(ends[1].high) / 2));
  await expect(replayGroup({ admin, control }, group, topic, { offsets: { 1: String(Number(ends[1].high) + 1) } })).rejects.toMatchObject({ name: 'ReplayRefusedError', code: 'bad-offset' });
  await expect(replayGroup({ admin, control }, group, topic, { offsets: { 7: '0' } })).rejects.toMatchObject({ name: 'ReplayRefusedError', code: 'bad-offset' });
  expect(await sum()).toBe(0); // the refusals changed nothing
  await replayGroup({ admin, control }, group, topic, { offsets: { 0: '0', 1: mid } });
  const lag = await groupLag(admin, group, topic);
  expect(lag.map((p) => p.lag)).toEqual([Number(ends[0].high), Number(ends[1].high) - Number(mid), 0]);
  await consumeAll();
  expect(JSON.stringify(await scanAll(client, table))).toBe(JSON.stringify(before));

  // the operator's entry point: `npm run etl -- --replay-from <time>` resets the stopped group, then consumes
  const mappingFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'replay-')), 'mapping.yaml');
  fs.writeFileSync(mappingFile, YAML.stringify({ version: 1, tables: [USERS_MAPPING(`${schema}.${src}`, table)] }));
  const etl = startWorker(['--mapping', mappingFile, '--topic', topic, '--group', group, '--control-table', controlTable, '--replay-from', new Date(at).toISOString(), '--quiet'], children);
  await waitFor('reset', () => etl.log.join('').includes('replay: group offsets reset') || etl.child.exitCode !== null, WAIT_MS);
  const reset = JSON.parse(etl.log.join('').split('\n').find((l) => l.includes('replay: group offsets reset'))!);
  expect(reset).toMatchObject({ group, topic, partitions: expect.arrayContaining([expect.objectContaining({ partition: 0 })]) });
  await waitFor('replayed by the process', async () => (await sum()) === 0, WAIT_MS);
  etl.child.kill('SIGTERM');
  expect(await etl.exited).toBe(0);
  expect(JSON.stringify(await scanAll(client, table))).toBe(JSON.stringify(before));

  // a live lease (a process killed moments ago, or a zombie still writing) also blocks a reset, naming the holder
  const { lease } = await control.acquire(group, topic, 2, 'zombie-member', async () => undefined);
  await expect(replayGroup({ admin, control }, group, topic, { earliest: true })).rejects.toMatchObject({ name: 'ReplayRefusedError', code: 'lease-held', message: expect.stringContaining('partition 2 by zombie-member') });
  expect(await sum()).toBe(0);
  await control.release(lease);
  await replayGroup({ admin, control }, group, topic, { offsets: { 2: ends[2].high } }); // released: allowed again
});
