/**
 * runEtlSlice, the body of the workflow's runEtl activity: one member for a slice, with heartbeats, returning counts;
 * and stopping with `dlq-threshold` and a reason when dead letters pass the allowed number.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin, Kafka, Producer } from 'kafkajs';
import YAML from 'yaml';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { ControlStore } from '../../../src/pipeline/consumer/control';
import { runEtlSlice } from '../../../src/pipeline/consumer/etl-service';
import { ensureTargetTable } from '../../../src/pipeline/target/table';
import { loadMappingFile } from '../../../src/pipeline/transform/mapping';
import { changeVersion } from '../../../src/pipeline/version';
import { uniqueName } from '../../support/ids';
import { createTopic, dms, produce, USERS_MAPPING } from './support';

let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let client: DynamoDBClient;
const topic = uniqueName('etl_slice_topic');
const table = uniqueName('etl_slice_target');
const controlTable = uniqueName('etl_slice_control');
const src = uniqueName('users');
let mappingFile: string;

beforeAll(async () => {
  kafka = createKafka('etl-slice-test');
  admin = kafka.admin();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  client = createDynamoClient();
  await Promise.all([admin.connect(), producer.connect()]);
  await createTopic(admin, topic, 2);
  mappingFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'etl-slice-')), 'mapping.yaml');
  fs.writeFileSync(mappingFile, YAML.stringify({ version: 1, tables: [USERS_MAPPING(`shop.${src}`, table)] }));
  await ensureTargetTable(client, loadMappingFile(mappingFile), { create: true });
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
  await Promise.all([table, controlTable].map((t) => client.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined)));
  await Promise.all([admin.disconnect(), producer.disconnect()]);
  client.destroy();
});

test('a slice applies, heartbeats and returns counts; too many dead letters stop it with a reason', async () => {
  const deps = { kafka, client, control: new ControlStore(client, controlTable) };
  const msgs = Array.from({ length: 200 }, (_, i) => dms('shop', src, 'insert', { id: String(i + 1), email_address: 'a', balance: '1.00', prefs: '{}' }, changeVersion(100 + i, 0)));
  await produce(producer, topic, msgs);
  const beats: number[] = [];
  const r = await runEtlSlice(deps, { mappingFile, topic, group: uniqueName('slice_g1'), sliceMs: 8_000, maxDlqEvents: 10 }, { heartbeat: (p) => beats.push(p.events) });
  expect(r).toMatchObject({ appliedEvents: 200, dlqEvents: 0, stoppedBy: 'slice-elapsed' });
  expect(beats.length).toBeGreaterThan(0);

  await produce(producer, topic, Array.from({ length: 30 }, (_, i) => ({ key: `[${i}]`, value: `garbage ${i}` })));
  const bad = await runEtlSlice(deps, { mappingFile, topic, group: uniqueName('slice_g2'), sliceMs: 30_000, maxDlqEvents: 10 });
  expect(bad.stoppedBy).toBe('dlq-threshold');
  expect(bad.reason).toMatch(/dead-lettered, more than the allowed 10/);
});
