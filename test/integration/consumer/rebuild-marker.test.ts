/**
 * The durable rebuild marker, on real Kafka and dynalite: `npm run etl -- --rebuild --truncate-target` killed (-9)
 * between its deletes and its offset reset leaves the target half rebuilt with the group's offsets past the deleted
 * items; while the marker stands, an ETL consumer of the group (in process, and the real process) refuses to start,
 * naming the group and the command; re-running the rebuild finishes it and the items come back.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin, Kafka, Producer } from 'kafkajs';
import YAML from 'yaml';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { ControlStore } from '../../../src/pipeline/consumer/control';
import { EtlConsumer } from '../../../src/pipeline/consumer/consumer';
import { groupLag } from '../../../src/pipeline/consumer/offsets';
import { ensureTargetTable } from '../../../src/pipeline/target/table';
import { compileMapping } from '../../../src/pipeline/transform/mapping';
import { changeVersion } from '../../../src/pipeline/version';
import { uniqueName } from '../../support/ids';
import { dms, produce, scanAll, waitFor } from './support';
import { startWorker } from './worker-process';

jest.setTimeout(300_000);
const WAIT_MS = 150_000;

const db = uniqueName('rm_src');
const topic = uniqueName('rm_topic');
const table = uniqueName('rm_target');
const controlTable = uniqueName('rm_control');
const group = uniqueName('rm_group');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rebuild-marker-'));
const children: ChildProcess[] = [];
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let client: DynamoDBClient;
let control: ControlStore;

const SPEC = { source: `${db}.users`, target: table, partitionKey: { attribute: 'pk', template: 'USER#{id}' }, sortKey: { attribute: 'sk', template: 'PROFILE' }, nulls: 'omit' as const, columns: { id: { sqlType: 'bigint' } } };
const mapping = compileMapping(SPEC);
const N = 40;

beforeAll(async () => {
  kafka = createKafka('rebuild-marker-test');
  admin = kafka.admin();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  client = createDynamoClient();
  await Promise.all([admin.connect(), producer.connect()]);
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '-1' }] }] });
  control = new ControlStore(client, controlTable);
  await control.ensureTable();
  await ensureTargetTable(client, [mapping], { create: true });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await admin.deleteGroups([group]).catch(() => undefined);
  await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
  await Promise.all([table, controlTable].map((t) => client.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined)));
  await Promise.all([admin.disconnect(), producer.disconnect()]);
  client.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

const ours = async () => (await scanAll(client, table)).filter((i) => i._src?.S === mapping.sourceId);
const lagZero = async () => (await groupLag(admin, group, topic)).every((p) => p.lag === 0);

function rebuildProcess(killAfterDeletes: boolean) {
  const mappingFile = path.join(dir, 'm.yaml');
  fs.writeFileSync(mappingFile, YAML.stringify({ version: 1, tables: [SPEC] }));
  const env = { CUTOVER_ROUTING_SCHEMA: uniqueName('rm_no_routing'), CUTOVER_TEST_KILL_AFTER_REBUILD_DELETES: killAfterDeletes ? '1' : '0' };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env); // startWorker passes process.env to the child
  try {
    return startWorker(['--mapping', mappingFile, '--topic', topic, '--group', group, '--control-table', controlTable, '--rebuild', '--truncate-target', '--quiet'], children);
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

test('a rebuild killed between its deletes and its reset blocks every consumer of the group until it is re-run', async () => {
  await produce(producer, topic, Array.from({ length: N }, (_, i) => dms(db, 'users', 'insert', { id: String(i + 1), email: `u${i + 1}@x.io` }, changeVersion(1, i + 1))));
  const first = new EtlConsumer({ kafka, client, mappings: [mapping], topic, group, control, initialMode: 'exclusive', freshTarget: true, modePollMs: 200 });
  const running = first.run();
  try {
    await waitFor('lag 0', lagZero, WAIT_MS);
  } finally {
    await first.stop();
  }
  expect((await running).stoppedBy).toBe('stopped');
  expect(await ours()).toHaveLength(N);

  // 1. the rebuild dies (kill -9) after deleting, before resetting the offsets
  const killed = rebuildProcess(true);
  await killed.exited;
  expect(killed.child.signalCode).toBe('SIGKILL');
  expect(await ours()).toHaveLength(0);
  expect(await lagZero()).toBe(true); // the committed offsets are still past every deleted item
  expect(await control.rebuildPending(group)).toMatchObject({ topic, tables: [table] });

  // 2. no consumer of the group may start: in process, and the real ETL process
  const blocked = new EtlConsumer({ kafka, client, mappings: [mapping], topic, group, control });
  await expect(blocked.run()).rejects.toMatchObject({ name: 'RebuildPendingError', group, message: expect.stringMatching(new RegExp(`group ${group} has an unfinished rebuild.*--rebuild --truncate-target`)) });
  await blocked.stop();
  const mappingFile = path.join(dir, 'm.yaml');
  const plain = startWorker(['--mapping', mappingFile, '--topic', topic, '--group', group, '--control-table', controlTable, '--quiet'], children);
  expect(await plain.exited).toBe(1);
  expect(plain.log.join('')).toMatch(/"error":"RebuildPendingError".*unfinished rebuild/);
  expect(await ours()).toHaveLength(0);

  // 3. re-running the rebuild finishes it: the marker goes, the group replays, every item is back
  const again = rebuildProcess(false);
  await waitFor('rebuilt', async () => (await ours()).length === N && (await lagZero()), WAIT_MS);
  expect(again.log.join('')).toContain('rebuild: ready to replay');
  expect(await control.rebuildPending(group)).toBeUndefined();
  again.child.kill('SIGTERM');
  expect(await again.exited).toBe(0);
});
