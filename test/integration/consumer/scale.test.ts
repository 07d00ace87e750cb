/**
 * Horizontal scale: two consumers of one group split the partitions, the mode switch is acknowledged by both, one
 * stops gracefully (its leases are released) and the other takes its partitions over at once; the table ends as the
 * events say. Also covers the workflow-facing helpers (describeEtl, setApplyMode, awaitEtlCatchUp).
 */
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { ControlStore } from '../../../src/pipeline/consumer/control';
import { EtlConsumer } from '../../../src/pipeline/consumer/consumer';
import { awaitEtlCatchUp, describeEtl, setApplyMode } from '../../../src/pipeline/consumer/etl-service';
import { isLive } from '../../../src/pipeline/item';
import { ensureTargetTable } from '../../../src/pipeline/target/table';
import { compileMapping } from '../../../src/pipeline/transform/mapping';
import { changeVersion } from '../../../src/pipeline/version';
import { uniqueName } from '../../support/ids';
import { createTopic, dms, produce, scanAll, USERS_MAPPING, waitFor } from './support';

jest.setTimeout(90_000);

let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let client: DynamoDBClient;
const topic = uniqueName('etl_scale_topic');
const table = uniqueName('etl_scale_target');
const controlTable = uniqueName('etl_scale_control');
const group = uniqueName('etl_scale_group');
const src = uniqueName('users');

beforeAll(async () => {
  kafka = createKafka('etl-scale-test');
  admin = kafka.admin();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  client = createDynamoClient();
  await Promise.all([admin.connect(), producer.connect()]);
  await createTopic(admin, topic, 4);
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
  await Promise.all([table, controlTable].map((t) => client.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined)));
  await Promise.all([admin.disconnect(), producer.disconnect()]);
  client.destroy();
});

test('two members split the partitions, acknowledge a mode switch, and hand over on a graceful stop', async () => {
  const mapping = compileMapping(USERS_MAPPING(`shop.${src}`, table));
  await ensureTargetTable(client, [mapping], { create: true });
  const control = new ControlStore(client, controlTable, { durationMs: 6_000, marginMs: 2_000, skewMs: 500 });
  const deps = { kafka, client, control };
  const mk = () => new EtlConsumer({ kafka, client, mappings: [mapping], topic, group, control, initialMode: 'exclusive', freshTarget: true, modePollMs: 200, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  const expected = new Map<number, Record<string, string> | null>();
  const batch = (from: number, to: number, seq: number) => {
    const msgs = [];
    for (let id = from; id <= to; id++) {
      const row = { id: String(id), email_address: `s${seq}-${id}@x.io`, balance: `${seq}.00`, prefs: '{}' };
      msgs.push(dms('shop', src, id % 5 === 0 ? 'delete' : 'insert', row, changeVersion(seq * 10_000 + id, 0)));
      expected.set(id, id % 5 === 0 ? null : row);
    }
    return msgs;
  };

  const a = mk();
  const b = mk();
  const runA = a.run();
  const runB = b.run();
  await produce(producer, topic, batch(1, 2000, 1));
  await waitFor('both members consuming', () => a.progress().assigned.length > 0 && b.progress().assigned.length > 0 && a.progress().assigned.length + b.progress().assigned.length === 4);
  const caught = await awaitEtlCatchUp(deps, { topic, group, maxLagEvents: 0, sliceMs: 40_000 });
  expect(caught).toMatchObject({ caughtUp: true, lagEvents: 0, stoppedBy: 'done' });

  const mode = await setApplyMode(deps, { group, mode: 'shared', timeoutMs: 15_000 });
  expect(mode).toMatchObject({ mode: 'shared', consumers: 2 });
  await waitFor('members report', async () => (await describeEtl(deps, { topic, group })).applyMode === 'shared');
  const d = await describeEtl(deps, { topic, group });
  expect(d).toMatchObject({ lagEvents: 0, dlqCount: 0, applyMode: 'shared' });

  await a.stop();
  expect((await runA).stoppedBy).toBe('stopped');
  await waitFor('b owns every partition', () => b.progress().assigned.length === 4, 30_000);
  await produce(producer, topic, batch(1, 2000, 2));
  expect((await awaitEtlCatchUp(deps, { topic, group, maxLagEvents: 0, sliceMs: 40_000 })).caughtUp).toBe(true);
  await b.stop();
  await runB;

  const items = new Map((await scanAll(client, table)).map((i) => [i.pk.S, i]));
  for (const [id, row] of expected) {
    const item = items.get(`USER#${id}`);
    if (row === null) expect(isLive(item)).toBe(false);
    else expect(mapping.toRow(item!)).toEqual(row);
  }
});
