/**
 * Faults in the orchestration, on a private stack with the real worker process (src/workers/main.ts: real
 * activities, the CDC reader hosted in the worker) and a real Temporal dev server:
 * - kill -9 of the worker during the backfill, during catch-up (stream ETL) and during verification, each followed by
 *   a fresh worker process;
 * - the Temporal server stopped and started again (its SQLite file kept) during the flag phases.
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

const db = 'wk_src';
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
  stack = await startPrivateStack('fault-worker-');
  stack.applyEnv();
  logDir = path.join(stack.dir, 'logs-test');
  fs.mkdirSync(logDir, { recursive: true });
  Object.assign(process.env, {
    CUTOVER_TASK_QUEUE: 'fault-worker-tq', CUTOVER_CDC_META_DB: 'wk_meta', CUTOVER_ROUTING_SCHEMA: 'wk_routing',
    CUTOVER_ETL_CONTROL_TABLE: 'wk_control', CUTOVER_REPORT_DIR: path.join(stack.dir, 'reports'),
    CUTOVER_METRICS_PORT: String(await freePort()), CUTOVER_TEMPORAL_METRICS_PORT: String(await freePort()),
  });
  const pool = createSourcePool({ connectionLimit: 2 });
  for (const d of [db, 'wk_meta', 'wk_routing']) await pool.query(`CREATE DATABASE ${d}`);
  await pool.query(`CREATE TABLE ${db}.${table} (id BIGINT PRIMARY KEY, email VARCHAR(64) NOT NULL, balance DECIMAL(12,2) NOT NULL, n INT NOT NULL)`);
  await pool.query(`INSERT INTO ${db}.${table} SELECT seq, CONCAT('s', seq, '@x.io'), seq / 4, 0 FROM ${db}.seq_1_to_${SEED}`);
  await pool.end();
  fs.writeFileSync(path.join(stack.dir, 'mapping.yaml'), `version: 1
tables:
  - source: ${db}.${table}
    target: wk_target
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
    cdc: { source: 'builtin', topic: 'wk_cdc', partitions: 3 },
    etl: { group: 'wk_etl', runner: 'workflow', consumers: 1 },
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

test('kill -9 of the worker in backfill, catch-up and verify, and a Temporal restart: completes, 0 mismatches', async () => {
  worker = startWorker();
  const handle = await client.workflow.start(tableMigrationWorkflow, { taskQueue: 'fault-worker-tq', workflowId: `migrate:${db}.${table}`, args: [{ config: config() }] });
  const pool = createSourcePool({ connectionLimit: 4 });
  const writer = new Writer(pool, `${db}.${table}`, SEED, 40);
  writer.start();
  const kills: { phase: string; restartedAt: number; seenMovingMs?: number }[] = [];

  const killIn = async (phase: PhaseOrTerminal, ready: (s: MigrationStatus) => boolean): Promise<void> => {
    let s: MigrationStatus | undefined;
    await waitFor(`phase ${phase}`, async () => ((s = await status(handle)) !== undefined && (s.phase !== phase ? at(s, phase) : ready(s))), 240_000);
    if (s!.phase !== phase) return void kills.push({ phase: `${phase} (passed before the kill could land; not injected)`, restartedAt: Date.now() });
    worker.child.kill('SIGKILL');
    expect(await worker.exited).toBeNull();
    worker = startWorker();
    kills.push({ phase, restartedAt: Date.now() });
  };

  await killIn('backfill', (s) => s.rowsCopied > 0);
  await killIn('catch-up', () => true);
  await killIn('verify', () => true);

  // the Temporal server restarted while the flags move
  await waitFor('read cut-over', async () => at(await status(handle), 'read-cutover'), 300_000);
  await writer.stop();
  await stack.stop('temporal');
  await sleep(5_000);
  const temporalUp = Date.now();
  await stack.up();

  const outcome = await Promise.race([handle.result(), sleep(300_000).then(() => undefined)]);
  expect(outcome?.phase).toBe('complete');
  const final = (await handle.query(statusQuery))!;
  expect(final.verification).toMatchObject({ passed: true, missing: 0, extra: 0, different: 0 });

  const dynamo = createDynamoClient();
  const [mapping] = loadMappingFile(config().mappingFile, () => undefined);
  const columns = await readColumns(pool, db, table);
  const [m2] = loadMappingFile(config().mappingFile, () => columns);
  const v = await runVerify({ pool, client: dynamo, mapping: m2 ?? mapping, appliedThrough: async () => '999999999999' }, {
    schema: db, table, mode: 'full', strategy: 'lookup', mismatchFile: path.join(logDir, 'final-mismatches.jsonl'), recheckTimeoutMs: 2_000, settleMs: 200,
  });
  dynamo.destroy();
  await pool.end();
  expect(v.counts).toMatchObject({ missing: 0, extra: 0, different: 0 });
  for (const k of kills) {
    record({
      fault: 'kill -9 of the worker process (real activities, hosted CDC reader), new worker started at once', phase: k.phase,
      recovered: outcome?.phase === 'complete', recoverMs: NaN, writesAcked: writer.acked, writesLost: v.counts.missing + v.counts.different,
      mismatches: v.counts.missing + v.counts.different + v.counts.extra, command: 'npm run test:faults -- worker-kill',
    });
  }
  record({
    fault: 'Temporal dev server stopped 5 s, then started (SQLite history kept)', phase: `${final.transitions.length ? 'flag phases (read cut-over onwards)' : '?'}`,
    recovered: outcome?.phase === 'complete', recoverMs: Date.now() - temporalUp, writesAcked: writer.acked, writesLost: v.counts.missing + v.counts.different,
    mismatches: v.counts.missing + v.counts.different + v.counts.extra, command: 'npm run test:faults -- worker-kill',
  });
});
