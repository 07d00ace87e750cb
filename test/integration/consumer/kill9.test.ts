/**
 * kill -9 of a standalone ETL process (src/workers/etl.ts) in the middle of its batches, then a restart: the new
 * process waits for the dead one's partition leases to expire, re-applies the uncommitted events, and the table ends
 * exactly as the events say — nothing lost, nothing regressed. The restarted process stops gracefully on SIGTERM.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin, Producer } from 'kafkajs';
import YAML from 'yaml';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { groupLag } from '../../../src/pipeline/consumer/offsets';
import { isLive } from '../../../src/pipeline/item';
import { loadMappingFile } from '../../../src/pipeline/transform/mapping';
import { changeVersion } from '../../../src/pipeline/version';
import { uniqueName } from '../../support/ids';
import { createTopic, dms, produce, scanAll, USERS_MAPPING, waitFor } from './support';
import { startWorker } from './worker-process';

jest.setTimeout(90_000);

const topic = uniqueName('etl_kill_topic');
const table = uniqueName('etl_kill_target');
const controlTable = uniqueName('etl_kill_control');
const group = uniqueName('etl_kill_group');
const src = uniqueName('users');
let admin: Admin;
let producer: Producer;
let client: DynamoDBClient;
let mappingFile: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  const kafka = createKafka('etl-kill-test');
  admin = kafka.admin();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  client = createDynamoClient();
  await Promise.all([admin.connect(), producer.connect()]);
  await createTopic(admin, topic, 4);
  mappingFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'etl-kill-')), 'mapping.yaml');
  fs.writeFileSync(mappingFile, YAML.stringify({ version: 1, tables: [USERS_MAPPING(`shop.${src}`, table)] }));
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
  await Promise.all([table, controlTable].map((t) => client.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined)));
  await Promise.all([admin.disconnect(), producer.disconnect()]);
  client.destroy();
});

const args = () => ['--mapping', mappingFile, '--topic', topic, '--group', group, '--control-table', controlTable, '--initial-mode', 'exclusive', '--create-target', '--lease-ms', '5000', '--lease-margin-ms', '2000', '--max-write-rate', '800', '--max-events-per-apply', '400', '--session-timeout', '7000'];

test('kill -9 mid-batch, restart: every item ends as the events say', async () => {
  const msgs: { key: string; value: string }[] = [];
  const expected = new Map<number, Record<string, string> | null>();
  for (let id = 1; id <= 4000; id++) {
    const row = { id: String(id), email_address: `u${id}@x.io`, balance: `${id}.25`, prefs: '{}' };
    msgs.push(dms('shop', src, 'insert', row, changeVersion(10_000 + id, 0)));
    expected.set(id, row);
  }
  for (let id = 1; id <= 4000; id += 2) {
    const row = { id: String(id), email_address: `v${id}@x.io`, balance: '1.00', prefs: '[1]' };
    msgs.push(dms('shop', src, 'update', row, changeVersion(20_000 + id, 0)));
    expected.set(id, row);
  }
  for (let id = 3; id <= 4000; id += 7) {
    msgs.push(dms('shop', src, 'delete', { id: String(id), email_address: '', balance: '0.00', prefs: '{}' }, changeVersion(30_000 + id, 0)));
    expected.set(id, null);
  }
  await produce(producer, topic, msgs);

  const first = startWorker(args(), children);
  await waitFor('first worker mid-way', () => first.lines.some((l) => Number(l.events) >= 1500), 60_000);
  first.child.kill('SIGKILL');
  expect(await first.exited).toBeNull(); // killed by the signal, no graceful exit
  const lagAfterKill = (await groupLag(admin, group, topic)).reduce((s, p) => s + p.lag, 0);
  expect(lagAfterKill).toBeGreaterThan(0);

  const second = startWorker(args(), children);
  await waitFor('restarted worker caught up', async () => (await groupLag(admin, group, topic)).every((p) => p.lag === 0), 70_000);
  second.child.kill('SIGTERM');
  expect(await second.exited).toBe(0);
  expect(second.lines.at(-1)).toMatchObject({ msg: 'stopped', stoppedBy: 'aborted' });

  const [mapping] = loadMappingFile(mappingFile);
  const items = new Map((await scanAll(client, table)).map((i) => [i.pk.S, i]));
  for (const [id, row] of expected) {
    const item = items.get(`USER#${id}`);
    if (row === null) expect(isLive(item)).toBe(false);
    else expect(mapping.toRow(item!)).toEqual(row);
  }
});
