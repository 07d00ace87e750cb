/**
 * Abort on the real stack with the real activities: a migration waiting at the manual "reads" gate (verification
 * passed, data copied) is aborted with `dropTarget`; the CDC task stops and what the migration created goes (topic,
 * dead-letter topic, target table) while the source table is untouched.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeleteTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { createLogger } from '../../../src/infra/logger';
import { createMysqlPool } from '../../../src/infra/mysql';
import { createTemporalClient, createWorkerConnection } from '../../../src/infra/temporal';
import { CheckpointStore } from '../../../src/pipeline/cdc/checkpoint';
import { abortUpdate, statusQuery } from '../../../src/shared/messages';
import { CONFIG_DEFAULTS, type TableMigrationConfig } from '../../../src/shared/migration-config';
import { workflowBundle } from '../../../src/workers/bundle';
import { buildActivities, type WorkerDeps } from '../../../src/workers/activities';
import { tableMigrationWorkflow } from '../../../src/workflows/table-migration';
import { cdcIdOf } from '../../../src/activities/parts/cdc';
import { uniqueName } from '../../support/ids';

jest.setTimeout(90_000);

const db = uniqueName('e2ea');
const topic = uniqueName('e2ea_cdc');
const group = uniqueName('e2ea_etl');
const target = uniqueName('e2ea_tgt');
const controlTable = uniqueName('e2ea_ctl');
const taskQueue = uniqueName('e2ea_tq');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-e2ea-'));
const mappingFile = path.join(dir, 'mapping.yaml');
const admin = createMysqlPool({ database: '' });
const dynamo = createDynamoClient();
let deps: WorkerDeps;
let client: Client;

beforeAll(async () => {
  await admin.query(`CREATE DATABASE \`${db}\``);
  await admin.query(`CREATE TABLE \`${db}\`.t (id BIGINT PRIMARY KEY, v VARCHAR(32) NOT NULL)`);
  await admin.query(`INSERT INTO \`${db}\`.t VALUES ${Array.from({ length: 50 }, (_, i) => `(${i + 1}, 'v${i}')`).join(', ')}`);
  fs.writeFileSync(mappingFile, `version: 1\ntables:\n  - source: ${db}.t\n    target: ${target}\n    partitionKey: { attribute: pk, template: "T#{id}" }\n    nulls: omit\n`);
  deps = buildActivities({
    logger: createLogger('e2ea', fs.createWriteStream(path.join(dir, 'worker.log'))),
    settings: { cdcMetaDb: db, routingSchema: db, etlControlTable: controlTable, reportDir: path.join(dir, 'reports'), cdcLeaseTtlMs: 10_000 },
  });
  client = await createTemporalClient();
});

afterAll(async () => {
  await deps?.close();
  await client?.connection.close();
  const kafka = createKafka('e2ea-cleanup');
  const ka = kafka.admin();
  await ka.connect();
  const topics = await ka.listTopics();
  await ka.deleteTopics({ topics: [topic, `${topic}.dlq`].filter((t) => topics.includes(t)) }).catch(() => undefined);
  await ka.deleteGroups([group]).catch(() => undefined);
  await ka.disconnect();
  for (const TableName of [target, controlTable]) await dynamo.send(new DeleteTableCommand({ TableName })).catch(() => undefined);
  await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await admin.end();
  dynamo.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('aborts a migration at the reads gate: CDC stopped, topic and target removed, source untouched', async () => {
  const connection = await createWorkerConnection();
  const worker = await Worker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities: deps.activities });
  const running = worker.run();
  try {
    const config = {
      ...CONFIG_DEFAULTS,
      source: { database: db, table: 't' },
      mappingFile,
      createTarget: true,
      cdc: { source: 'builtin', topic, partitions: 2 },
      etl: { group, runner: 'workflow', consumers: 1 },
      gates: { ...CONFIG_DEFAULTS.gates, reads: 'manual' },
      monitorIntervalMs: 2_000,
      sliceMs: 20_000,
    } as TableMigrationConfig;
    const handle = await client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate_e2ea'), args: [{ config }] });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const s = await handle.query(statusQuery);
      if (s.awaiting?.gate === 'reads') break;
      if (s.awaiting?.problem) throw new Error(`stopped at ${s.awaiting.gate}: ${s.awaiting.reason}`);
      if (Date.now() > deadline) throw new Error(`never reached the reads gate (phase ${s.phase})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await handle.executeUpdate(abortUpdate, { args: [{ by: 'e2e', reason: 'test', dropTarget: true }] });
    expect((await handle.result()).phase).toBe('aborted');
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
  }
  const ka = createKafka('e2ea-check').admin();
  await ka.connect();
  const topics = await ka.listTopics();
  await ka.disconnect();
  expect(topics.filter((t) => t === topic || t === `${topic}.dlq`)).toEqual([]);
  await expect(dynamo.send(new DescribeTableCommand({ TableName: target }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  const task = await new CheckpointStore(admin, db).get(cdcIdOf({ database: db, table: 't' }, topic));
  expect(task?.state).toBe('stopped');
  const [rows] = await admin.query(`SELECT COUNT(*) AS n FROM \`${db}\`.t`);
  expect(Number((rows as { n: number }[])[0].n)).toBe(50);
});
