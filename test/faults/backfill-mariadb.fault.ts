/**
 * Faults during a whole migration, on a private stack with the real worker process (src/workers/main.ts: real
 * activities, the CDC reader hosted in the worker) and a real Temporal dev server:
 * - MariaDB stopped for 10 s and started again while the backfill runs (the backfill activity and the hosted CDC
 *   reader lose their connections);
 * - kill -9 of the worker during a flag change (the shadow-writes phase), followed by a fresh worker process.
 * Afterwards the workflow history is searched for row values and the MySQL URL / password: none may appear.
 * A plain MySQL writer changes rows until reads are cut over (there is no application instance, so flag barriers
 * pass at once). Expected: the migration completes, its own verification passed with 0 mismatches, and an
 * independent verification run after completion finds every source row in DynamoDB (0 mismatches).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { createDynamoClient } from '../../src/infra/dynamodb';
import { createTemporalClient } from '../../src/infra/temporal';
import { createSourcePool } from '../../src/pipeline/backfill/source-pool';
import { readColumns } from '../../src/pipeline/row/codec';
import { loadMappingFile } from '../../src/pipeline/transform/mapping';
import { runVerify } from '../../src/pipeline/verify/verifier';
import { statusQuery, type MigrationStatus } from '../../src/shared/messages';
import { CONFIG_DEFAULTS, type TableMigrationConfig } from '../../src/shared/migration-config';
import { phaseIndex, type PhaseOrTerminal } from '../../src/shared/phases';
import { tableMigrationWorkflow } from '../../src/workflows/table-migration';
import { freePort, startPrivateStack, type PrivateStack } from '../support/private-stack';
import { sleep, spawnWorker, waitFor, Writer, type Proc } from './support/pipeline';
import { record } from './support/record';

jest.setTimeout(700_000);

const db = 'wm_src';
const table = 'users';
const SEED = 40_000;
let stack: PrivateStack;
let logDir: string;
let client: Client;
let worker: Proc;
let workerN = 0;

function startWorker(): Proc {
  workerN += 1;
  return spawnWorker(stack, `worker-${workerN}`, ['src/workers/main.ts'], logDir);
}

beforeAll(async () => {
  stack = await startPrivateStack('fault-bfmdb-');
  stack.applyEnv();
  logDir = path.join(stack.dir, 'logs-test');
  fs.mkdirSync(logDir, { recursive: true });
  Object.assign(process.env, {
    CUTOVER_TASK_QUEUE: 'fault-mdb-tq', CUTOVER_CDC_META_DB: 'wm_meta', CUTOVER_ROUTING_SCHEMA: 'wm_routing',
    CUTOVER_ETL_CONTROL_TABLE: 'wm_control', CUTOVER_REPORT_DIR: path.join(stack.dir, 'reports'),
    CUTOVER_METRICS_PORT: String(await freePort()), CUTOVER_TEMPORAL_METRICS_PORT: String(await freePort()),
  });
  const pool = createSourcePool({ connectionLimit: 2 });
  for (const d of [db, 'wm_meta', 'wm_routing']) await pool.query(`CREATE DATABASE ${d}`);
  await pool.query(`CREATE TABLE ${db}.${table} (id BIGINT PRIMARY KEY, email VARCHAR(64) NOT NULL, balance DECIMAL(12,2) NOT NULL, n INT NOT NULL)`);
  await pool.query(`INSERT INTO ${db}.${table} SELECT seq, CONCAT('s', seq, '@x.io'), seq / 4, 0 FROM ${db}.seq_1_to_${SEED}`);
  await pool.end();
  fs.writeFileSync(path.join(stack.dir, 'mapping.yaml'), `version: 1
tables:
  - source: ${db}.${table}
    target: wm_target
    partitionKey: { attribute: pk, template: "USER#{id}" }
    sortKey: { attribute: sk, template: "PROFILE" }
    nulls: omit
`);
  client = await createTemporalClient();
}, 180_000);

afterAll(async () => {
  if (worker && worker.child.exitCode === null) worker.child.kill('SIGKILL');
  await client?.connection.close().catch(() => undefined);
  if (process.env.FAULT_KEEP) return void console.log(`kept ${stack.dir}`);
  await stack?.down();
});

function config(): TableMigrationConfig {
  return {
    ...CONFIG_DEFAULTS,
    source: { database: db, table },
    mappingFile: path.join(stack.dir, 'mapping.yaml'),
    createTarget: true,
    cdc: { source: 'builtin', topic: 'wm_cdc', partitions: 3 },
    etl: { group: 'wm_etl', runner: 'workflow', consumers: 1 },
    backfill: { parallelism: 2, targetChunkMs: 200, maxRowsPerSecond: 2_500 },
    verify: { mode: 'full', repairAttempts: 2 },
    readLadder: [50, 100],
    soak: { readStepMs: 1_500, shadowWritesMs: 2_000, flipWritesMs: 2_000 },
    gates: { reads: 'auto', readSteps: 'auto', shadowWrites: 'auto', flipWrites: 'auto', dynamoOnly: 'auto' },
    barrierTimeoutMs: 30_000,
    fenceTimeoutMs: 20_000,
    monitorIntervalMs: 2_000,
    drainQuietMs: 2_000,
    sliceMs: 10_000,
  } as TableMigrationConfig;
}

async function status(h: WorkflowHandle): Promise<MigrationStatus | undefined> {
  return h.query(statusQuery).catch(() => undefined);
}

const at = (s: MigrationStatus | undefined, phase: PhaseOrTerminal) => s !== undefined && phaseIndex(s.phase) >= phaseIndex(phase);

test('MariaDB restarted during the backfill, kill -9 of the worker during a flag change: completes, 0 mismatches', async () => {
  worker = startWorker();
  const handle = await client.workflow.start(tableMigrationWorkflow, { taskQueue: 'fault-mdb-tq', workflowId: `migrate:${db}.${table}`, args: [{ config: config() }] });
  const pool = createSourcePool({ connectionLimit: 4 });
  const writer = new Writer(pool, `${db}.${table}`, SEED, 40);
  writer.start();

  let s: MigrationStatus | undefined;
  await waitFor('backfill copying', async () => ((s = await status(handle)) !== undefined && (s.phase !== 'backfill' ? at(s, 'backfill') : s.rowsCopied > 0)), 240_000);
  expect(s!.phase).toBe('backfill');
  const copiedBefore = s!.rowsCopied;
  await stack.stop('mariadb');
  await sleep(10_000);
  const mariaUp = Date.now();
  await stack.up();
  await waitFor('backfill done', async () => ((s = await status(handle)) !== undefined && (s.backfillDone || at(s, 'catch-up'))), 300_000);
  const backfillRecoverMs = Date.now() - mariaUp;
  expect(worker.child.exitCode).toBeNull(); // the worker survived the source restart

  await waitFor('shadow writes', async () => ((s = await status(handle)) !== undefined && at(s, 'shadow-writes')), 300_000);
  await writer.stop();
  const flagPhase = s!.phase;
  worker.child.kill('SIGKILL');
  expect(await worker.exited).toBeNull();
  const restarted = Date.now();
  worker = startWorker();

  const outcome = await Promise.race([handle.result(), sleep(300_000).then(() => undefined)]);
  expect(outcome?.phase).toBe('complete');
  const completeMs = Date.now() - restarted;
  const final = (await handle.query(statusQuery))!;
  expect(final.verification).toMatchObject({ passed: true, missing: 0, extra: 0, different: 0 });
  // the workflow history (every input, result, heartbeat and failure of every activity) holds no credentials and no
  // row data: every row's email ends in "@x.io", and the MySQL URL carries the password
  const decode = (k: string, v: unknown): unknown =>
    k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v;
  const history = JSON.stringify(await handle.fetchHistory(), decode);
  expect(history).toContain(`${db}.${table}`); // payloads are decoded: the table id is there
  expect(history).not.toContain('@x.io');
  expect(history).not.toContain('mysql://');
  expect(history).not.toContain(`:${new URL(process.env.CUTOVER_MYSQL_URL!).password}@`);

  const dynamo = createDynamoClient();
  const columns = await readColumns(pool, db, table);
  const [mapping] = loadMappingFile(config().mappingFile, () => columns);
  const v = await runVerify({ pool, client: dynamo, mapping, appliedThrough: async () => '999999999999' }, {
    schema: db, table, mode: 'full', strategy: 'lookup', mismatchFile: path.join(logDir, 'final-mismatches.jsonl'), recheckTimeoutMs: 2_000, settleMs: 200,
  });
  dynamo.destroy();
  await pool.end();
  expect(v.counts).toMatchObject({ missing: 0, extra: 0, different: 0 });
  const lost = v.counts.missing + v.counts.different;
  record({
    fault: `MariaDB stopped 10 s, then started (backfill had copied ${copiedBefore} rows)`, phase: 'backfill', recovered: true, recoverMs: backfillRecoverMs,
    writesAcked: writer.acked, writesLost: lost, mismatches: lost + v.counts.extra, command: 'npm run test:faults -- backfill-mariadb',
  });
  record({
    fault: 'kill -9 of the worker, new worker started at once', phase: `flag change (${flagPhase})`, recovered: true, recoverMs: completeMs,
    writesAcked: writer.acked, writesLost: lost, mismatches: lost + v.counts.extra, command: 'npm run test:faults -- backfill-mariadb (recoverMs: restart to complete)',
  });
});
