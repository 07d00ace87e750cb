/**
 * The no-lost-write proof end to end with the real data path: the built-in CDC reader (binlog → Kafka, DMS JSON),
 * the ETL consumer (Kafka → dynalite, versioned conditional apply in `shared` mode) and the routing layer's three
 * application instances stepping through every write-mode transition (support/scenario.ts). "Caught up" is the
 * verifier's applied-through probe (CDC acknowledged position + the ETL group's committed offsets) reaching the
 * binlog's current end. The fence sequence is the workflow's (src/workflows/migration/runtime.ts): no eager reconcile
 * after leaving dynamo-only; the drain behind the next fence repairs those keys. The independent checker finds both
 * stores equal and consistent with every acknowledged write.
 */
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import type { Admin, Kafka } from 'kafkajs';
import { createKafka } from '../../../src/infra/kafka';
import { CheckpointStore } from '../../../src/pipeline/cdc/checkpoint';
import { BinlogCdcReader } from '../../../src/pipeline/cdc/reader';
import { BuiltinCdcSource } from '../../../src/pipeline/cdc/source';
import { EtlConsumer } from '../../../src/pipeline/consumer/consumer';
import { ControlStore } from '../../../src/pipeline/consumer/control';
import type { CompiledMapping } from '../../../src/pipeline/transform/mapping';
import { appliedThroughProbe } from '../../../src/pipeline/verify/applied-probe';
import { currentBinlogSeq } from '../../../src/routing/reconcile';
import { uniqueName } from '../../support/ids';
import { createFixture, type Fixture } from './support/fixture';
import { KV_DDL, KV_MAPPING, runTransitionScenario } from './support/scenario';

jest.setTimeout(110_000);

let fx: Fixture;
let kafka: Kafka;
let admin: Admin;
const topic = uniqueName('rt_e2e');
const group = uniqueName('rt_e2e_g');
const controlTable = uniqueName('rt_e2e_ctl');

beforeAll(async () => {
  fx = await createFixture('rt_e2e', KV_DDL, KV_MAPPING);
  kafka = createKafka('routing-e2e');
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
  await admin?.disconnect();
  await fx?.dynamo.send(new DeleteTableCommand({ TableName: controlTable })).catch(() => undefined);
  await fx?.close();
});

it('keeps every acknowledged write across every transition with the real CDC reader, Kafka and ETL consumer', async () => {
  const { mapping } = await fx.mapping('kv');
  const store = new CheckpointStore(fx.pool, fx.db);
  const started = await new BuiltinCdcSource({ db: fx.pool, store, kafka }).start({ tables: [{ database: fx.db, table: 'kv' }], topic, partitions: 3 });
  const reader = new BinlogCdcReader({ db: fx.pool, store, kafka }, { cdcId: started.cdcId, leaseTtlMs: 10_000, checkpointIntervalMs: 100 });
  const readerRun = reader.run();
  const consumer = new EtlConsumer({ kafka, client: fx.dynamo, mappings: [mapping as CompiledMapping], topic, group, control: new ControlStore(fx.dynamo, controlTable), initialMode: 'shared', modePollMs: 200 });
  const consumerRun = consumer.run();
  const probe = appliedThroughProbe({ admin, topic, group, cdcPosition: () => reader.progress().position });
  const catchUp = async () => {
    const target = await currentBinlogSeq(fx.pool);
    const deadline = Date.now() + 40_000;
    while (BigInt(await probe()) < target) {
      if (Date.now() > deadline) throw new Error(`ETL not caught up to seq ${target} (reader at ${reader.progress().position})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    const { report, summary, transitions, fleet, failures } = await runTransitionScenario(fx, { catchUp }, { dwellMs: 500, reconcileAfterDynamoOnly: false }); // the workflow's sequence
    if (process.env.ROUTING_TEST_DEBUG) console.log(JSON.stringify({ transitions, fleet, etl: consumer.progress(), byKind: summary.byKind }));
    expect(failures).toEqual([]);
    expect(summary.failed).toBe(0);
    if (!report.passed) console.log(JSON.stringify({ transitions, keys: report.keys.slice(0, 5) }, null, 1));
    expect(report.keys).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.keysChecked).toBe(16);
    expect(transitions).toHaveLength(12);
    expect(fleet).toMatchObject({ shadowWriteErrors: 0, backgroundWriteErrors: 0, fenceTimeouts: 0 });
  } finally {
    await consumer.stop();
    await consumerRun.catch(() => undefined);
    reader.stop();
    await readerRun.catch(() => undefined);
  }
});
