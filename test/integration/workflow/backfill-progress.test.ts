/**
 * A running backfill's progress reaches the workflow's status query and the CLI: the table-migration workflow on the
 * real Temporal dev server (unique task queue) runs the REAL runBackfill activity (MariaDB source, loads to a real
 * Kafka topic, capped at a max rows/s so it takes a few short slices); every other activity is the workflow tests'
 * fake. While it copies, `status` shows rows copied of the estimated total, the rate and an ETA consistent with
 * them, and describeStatus (src/cli/render.ts) renders that line; once done it shows "(done)". With no ETL consuming
 * and a small maxLagMessages, a slice ends waiting on lag and status / the CLI say why.
 */
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { Admin, Kafka } from 'kafkajs';
import type * as mysql from 'mysql2/promise';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { createBackfillParts } from '../../../src/activities/parts/backfill';
import type { PartClients } from '../../../src/activities/parts/common';
import { describeStatus } from '../../../src/cli/render';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { createTemporalClient, createWorkerConnection } from '../../../src/infra/temporal';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { CheckpointStore } from '../../../src/pipeline/cdc/checkpoint';
import { BuiltinCdcSource } from '../../../src/pipeline/cdc/source';
import { ControlStore } from '../../../src/pipeline/consumer/control';
import { statusQuery, type MigrationStatus } from '../../../src/shared/messages';
import { workflowBundle } from '../../../src/workers/bundle';
import { tableMigrationWorkflow } from '../../../src/workflows';
import { uniqueName } from '../../support/ids';
import { FakeActivities } from '../../workflows/support/fake-activities';
import { testConfig } from '../../workflows/support/harness';

jest.setTimeout(60_000);

const db = uniqueName('bf_prog');
const metaDb = `${db}_meta`;
const topic = uniqueName('bf_prog_topic');
const lagTopic = uniqueName('bf_prog_lag_topic');
const controlTable = uniqueName('bf_prog_control');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-prog-'));
const ROWS = 8_000;
const MAX_RATE = 1_500;

let pool: mysql.Pool;
let kafka: Kafka;
let admin: Admin;
let client: Client;
let dynamo: DynamoDBClient;

beforeAll(async () => {
  pool = createSourcePool({ connectionLimit: 6 });
  kafka = createKafka('bf-prog-test');
  admin = kafka.admin();
  await admin.connect();
  client = await createTemporalClient();
  dynamo = createDynamoClient();
  await pool.query(`CREATE DATABASE \`${db}\``);
  await pool.query(`CREATE DATABASE \`${metaDb}\``);
  await pool.query(`CREATE TABLE \`${db}\`.t (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)`);
  await pool.query(`INSERT INTO \`${db}\`.t SELECT seq, CONCAT('v', seq) FROM \`${db}\`.seq_1_to_${ROWS}`);
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic, lagTopic] }).catch(() => undefined);
  await dynamo.send(new DeleteTableCommand({ TableName: controlTable })).catch(() => undefined);
  dynamo.destroy();
  await admin.disconnect();
  await client.connection.close();
  await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await pool.query(`DROP DATABASE IF EXISTS \`${metaDb}\``);
  await pool.end();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('status and the CLI show a running backfill: copied / estimated total, rate, ETA; then done', async () => {
  const store = new CheckpointStore(pool, metaDb);
  await new BuiltinCdcSource({ db: pool, store, kafka }).start({ tables: [{ database: db, table: 't' }], topic, partitions: 3 });
  const mappingFile = path.join(dir, 'mapping.yaml');
  fs.writeFileSync(mappingFile, YAML.stringify({ version: 1, tables: [{ source: `${db}.t`, target: 'unused', partitionKey: { attribute: 'pk', template: 'T#{id}' }, nulls: 'omit' }] }));
  const fake = new FakeActivities({ rowsTotal: ROWS });
  // Only what the backfill part uses; the lag back-off is off here (its own test: backfill/lag-backoff.test.ts).
  const real = createBackfillParts({ pool, kafka, cdcStore: store } as unknown as PartClients);
  const taskQueue = uniqueName('bf-prog-q');
  const connection = await createWorkerConnection();
  const worker = await Worker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities: { ...fake.activities(), runBackfill: real.runBackfill! }, maxHeartbeatThrottleInterval: '1 second' });
  const config = testConfig('t', {
    source: { database: db, table: 't' },
    mappingFile,
    cdc: { source: 'builtin', topic, partitions: 3 },
    backfill: { parallelism: 1, targetChunkMs: 200, maxRowsPerSecond: MAX_RATE, maxLagMs: 0, maxLagMessages: 0 },
    sliceMs: 1_000,
  });
  const workflowId = uniqueName('migrate-bf-prog');
  try {
    await worker.runUntil(async () => {
      const handle = await client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId, args: [{ config }] });
      const poll = async (pred: (s: MigrationStatus) => boolean, what: string): Promise<MigrationStatus> => {
        const deadline = Date.now() + 40_000;
        for (;;) {
          const s = await handle.query(statusQuery);
          if (pred(s)) return s;
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${describeStatus(s)}`);
          await new Promise((r) => setTimeout(r, 150));
        }
      };
      const running = await poll((s) => s.phase === 'backfill' && s.rowsCopied > 0 && !s.backfillDone, 'a running backfill with progress');
      expect(running.rowsTotal).toBe(ROWS);
      expect(running.rowsCopied).toBeLessThan(ROWS);
      expect(running.rowsPerSecond).toBeGreaterThan(0);
      expect(running.rowsPerSecond).toBeLessThanOrEqual(MAX_RATE * 1.1);
      expect(running.etaSeconds).toBe(Math.ceil((ROWS - running.rowsCopied) / running.rowsPerSecond));
      expect(running.etaSeconds).toBeGreaterThan(0);
      const text = describeStatus(running);
      const eta = `0m${String(running.etaSeconds).padStart(2, '0')}s`;
      expect(text).toContain(`backfill ${running.rowsCopied}/${ROWS} rows · ${Math.round(running.rowsPerSecond)} rows/s · ETA ${eta}`);
      expect(describeStatus({ ...running, backfillWaitingOn: 'ETL backlog 9000 events > maxLagMessages 5000' })).toContain(`ETA ${eta} · waiting: ETL backlog 9000 events > maxLagMessages 5000`);

      // Later slices: progress keeps rising, then the copy is done.
      const later = await poll((s) => s.rowsCopied > running.rowsCopied, 'a later slice');
      expect(later.rowsTotal).toBe(ROWS);
      const done = await poll((s) => s.backfillDone, 'the backfill to finish');
      expect(done.rowsCopied).toBe(ROWS);
      expect(done.etaSeconds).toBeNull();
      expect(describeStatus(done)).toContain(`backfill ${ROWS}/${ROWS} rows (done)`);
      await handle.terminate('test done');
    });
  } finally {
    await connection.close();
  }
});

test('a copy held by lag (no ETL consuming, small maxLagMessages) shows why in status and in the CLI', async () => {
  const table = 'u';
  await pool.query(`CREATE TABLE \`${db}\`.${table} (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)`);
  await pool.query(`INSERT INTO \`${db}\`.${table} SELECT seq, CONCAT('v', seq) FROM \`${db}\`.seq_1_to_${ROWS}`);
  const store = new CheckpointStore(pool, metaDb);
  await new BuiltinCdcSource({ db: pool, store, kafka }).start({ tables: [{ database: db, table }], topic: lagTopic, partitions: 3 });
  const mappingFile = path.join(dir, 'mapping-u.yaml');
  fs.writeFileSync(mappingFile, YAML.stringify({ version: 1, tables: [{ source: `${db}.${table}`, target: 'unused', partitionKey: { attribute: 'pk', template: 'U#{id}' }, nulls: 'omit' }] }));
  const etlControl = new ControlStore(dynamo, controlTable);
  await etlControl.ensureTable();
  const fake = new FakeActivities({ rowsTotal: ROWS });
  const real = createBackfillParts({ pool, kafka, cdcStore: store, etlControl } as unknown as PartClients);
  const taskQueue = uniqueName('bf-prog-lag-q');
  const connection = await createWorkerConnection();
  const worker = await Worker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities: { ...fake.activities(), runBackfill: real.runBackfill! }, maxHeartbeatThrottleInterval: '1 second' });
  const config = testConfig(table, {
    source: { database: db, table },
    mappingFile,
    cdc: { source: 'builtin', topic: lagTopic, partitions: 3 },
    etl: { group: uniqueName('bf_prog_group'), runner: 'external', consumers: 1 },
    backfill: { parallelism: 1, targetChunkMs: 200, maxLagMs: 0, maxLagMessages: 1_000 },
    sliceMs: 1_000,
  });
  try {
    await worker.runUntil(async () => {
      const handle = await client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate-bf-lag'), args: [{ config }] });
      const deadline = Date.now() + 30_000;
      let s = await handle.query(statusQuery);
      while (!s.backfillWaitingOn) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for the copy to report a lag wait; last: ${describeStatus(s)}`);
        await new Promise((r) => setTimeout(r, 150));
        s = await handle.query(statusQuery);
      }
      expect(s.phase).toBe('backfill');
      expect(s.backfillDone).toBe(false);
      expect(s.backfillWaitingOn).toMatch(/^ETL backlog \d+ events > maxLagMessages 1000$/);
      expect(s.rowsCopied).toBeGreaterThan(1_000);
      expect(s.rowsCopied).toBeLessThan(ROWS);
      expect(describeStatus(s)).toContain(`· waiting: ${s.backfillWaitingOn}`);
      await handle.terminate('test done');
    });
  } finally {
    await connection.close();
  }
});
