/**
 * A whole table migration on a private stack, for fault tests that kill or restart parts of it: the real worker
 * process (src/workers/main.ts: real activities, the CDC reader hosted in the worker) started as a child process that
 * a SIGKILL really reaches, a seeded source table `<prefix>_src.users (id, email, balance, n)`, its mapping, and a
 * Temporal client. `useMigration(prefix)` registers the beforeAll/afterAll that build and remove all of it.
 *
 * `verifyAll()` is the independent check after completion: verification (src/pipeline/verify, the code the workflow
 * runs) of every source row against DynamoDB; a lost acknowledged write would remain a `missing` or `different` row.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type * as mysql from 'mysql2/promise';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createTemporalClient } from '../../../src/infra/temporal';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { readColumns } from '../../../src/pipeline/row/codec';
import { loadMappingFile, type CompiledMapping } from '../../../src/pipeline/transform/mapping';
import type { VerifyCountsFull } from '../../../src/pipeline/verify/report';
import { runVerify } from '../../../src/pipeline/verify/verifier';
import { statusQuery, type MigrationStatus } from '../../../src/shared/messages';
import { CONFIG_DEFAULTS, type TableMigrationConfig } from '../../../src/shared/migration-config';
import { phaseIndex, type PhaseOrTerminal } from '../../../src/shared/phases';
import type { MigrationOutcome } from '../../../src/workflows/migration/state';
import { tableMigrationWorkflow } from '../../../src/workflows/table-migration';
import { freePort, startPrivateStack, type PrivateStack } from '../../support/private-stack';
import { spawnWorker, waitFor, type Proc } from './pipeline';

/** The migration under test; every field is set once beforeAll ran. */
export interface MigrationBed {
  readonly prefix: string;
  readonly db: string;
  readonly table: string;
  readonly taskQueue: string;
  readonly routingSchema: string;
  stack: PrivateStack;
  logDir: string;
  client: Client;
  /** The current worker process (replaced by killWorker). */
  worker: Proc;
  /** Starts a worker process (the first one is not started by the bed). */
  startWorker(): Proc;
  /** SIGKILL of the current worker (asserting it died of it), then a fresh one at once; returns when it was started. */
  killWorker(): Promise<number>;
  /** Activities the current worker started as a retry (attempt ≥ 2), from its log: what a kill left to redo, and when. */
  retried(): { activity: string; attempt: number; at: number }[];
  /** The migration config used by the fault tests (short soaks, automatic gates), with `overrides`. */
  config(overrides?: Partial<TableMigrationConfig>): TableMigrationConfig;
  /** Starts the table's migration workflow on the bed's task queue. */
  start(config: TableMigrationConfig): Promise<WorkflowHandle<typeof tableMigrationWorkflow>>;
  /** The workflow's status, or undefined while it cannot answer (no worker yet, server restarting). */
  status(h: WorkflowHandle): Promise<MigrationStatus | undefined>;
  /** Waits until the workflow is at `phase` or later; returns the status seen. */
  waitPhase(h: WorkflowHandle, phase: PhaseOrTerminal, timeoutMs?: number): Promise<MigrationStatus>;
  /** The workflow's outcome, or undefined if it did not end within `timeoutMs`. */
  result(h: WorkflowHandle<typeof tableMigrationWorkflow>, timeoutMs?: number): Promise<MigrationOutcome | undefined>;
  /** The table's mapping compiled with the source's columns (as the workers compile it). */
  mapping(pool: mysql.Pool): Promise<CompiledMapping>;
  /** Full verification of every source row against DynamoDB (lookup strategy), after the migration. */
  verifyAll(pool: mysql.Pool): Promise<VerifyCountsFull>;
}

/** True when `s` is at `phase` or a later one. */
export const atOrAfter = (s: MigrationStatus | undefined, phase: PhaseOrTerminal): boolean => s !== undefined && phaseIndex(s.phase) >= phaseIndex(phase);

/** Builds the bed in beforeAll (private stack, databases, `seedRows` rows, mapping, client) and removes it in afterAll. */
export function useMigration(prefix: string, opts: { seedRows: number }): MigrationBed {
  const db = `${prefix}_src`;
  const table = 'users';
  let workerN = 0;
  const bed: MigrationBed = {
    prefix,
    db,
    table,
    taskQueue: `fault-${prefix}-tq`,
    routingSchema: `${prefix}_routing`,
    stack: undefined as unknown as PrivateStack,
    logDir: '',
    client: undefined as unknown as Client,
    worker: undefined as unknown as Proc,
    startWorker() {
      workerN += 1;
      bed.worker = spawnWorker(bed.stack, `worker-${workerN}`, ['src/workers/main.ts'], bed.logDir);
      return bed.worker;
    },
    async killWorker() {
      bed.worker.child.kill('SIGKILL');
      expect(await bed.worker.exited).toBeNull();
      const at = Date.now();
      bed.startWorker();
      return at;
    },
    retried() {
      return fs.readFileSync(bed.worker.log, 'utf8').split('\n').flatMap((l) => {
        if (!l.includes('"msg":"activity started"')) return [];
        const j = JSON.parse(l) as { activity: string; attempt: number; time: string };
        return j.attempt >= 2 ? [{ activity: j.activity, attempt: j.attempt, at: Date.parse(j.time) }] : [];
      });
    },
    config(overrides = {}) {
      return {
        ...CONFIG_DEFAULTS,
        source: { database: db, table },
        mappingFile: path.join(bed.stack.dir, 'mapping.yaml'),
        createTarget: true,
        cdc: { source: 'builtin', topic: `${prefix}_cdc`, partitions: 3 },
        etl: { group: `${prefix}_etl`, runner: 'workflow', consumers: 1 },
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
        ...overrides,
      } as TableMigrationConfig;
    },
    start(config) {
      return bed.client.workflow.start(tableMigrationWorkflow, { taskQueue: bed.taskQueue, workflowId: `migrate:${db}.${table}`, args: [{ config }] });
    },
    status(h) {
      return h.query(statusQuery).catch(() => undefined);
    },
    async waitPhase(h, phase, timeoutMs = 300_000) {
      let s: MigrationStatus | undefined;
      await waitFor(`phase ${phase}`, async () => atOrAfter((s = await bed.status(h)), phase), timeoutMs);
      return s!;
    },
    result(h, timeoutMs = 300_000) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs)));
      return Promise.race([h.result(), late]).finally(() => clearTimeout(timer));
    },
    async mapping(pool) {
      const columns = await readColumns(pool, db, table);
      const [m] = loadMappingFile(path.join(bed.stack.dir, 'mapping.yaml'), () => columns);
      return m;
    },
    async verifyAll(pool) {
      const dynamo = createDynamoClient();
      try {
        const v = await runVerify({ pool, client: dynamo, mapping: await bed.mapping(pool), appliedThrough: async () => '999999999999' }, {
          schema: db, table, mode: 'full', strategy: 'lookup', mismatchFile: path.join(bed.logDir, 'final-mismatches.jsonl'), recheckTimeoutMs: 2_000, settleMs: 200,
        });
        return v.counts;
      } finally {
        dynamo.destroy();
      }
    },
  };

  beforeAll(async () => {
    bed.stack = await startPrivateStack(`fault-${prefix}-`);
    bed.stack.applyEnv();
    bed.logDir = path.join(bed.stack.dir, 'logs-test');
    fs.mkdirSync(bed.logDir, { recursive: true });
    Object.assign(process.env, {
      CUTOVER_TASK_QUEUE: bed.taskQueue, CUTOVER_CDC_META_DB: `${prefix}_meta`, CUTOVER_ROUTING_SCHEMA: bed.routingSchema,
      CUTOVER_ETL_CONTROL_TABLE: `${prefix}_control`, CUTOVER_REPORT_DIR: path.join(bed.stack.dir, 'reports'),
      CUTOVER_METRICS_PORT: String(await freePort()), CUTOVER_TEMPORAL_METRICS_PORT: String(await freePort()),
    });
    const pool = createSourcePool({ connectionLimit: 2 });
    for (const d of [db, `${prefix}_meta`, bed.routingSchema]) await pool.query(`CREATE DATABASE ${d}`);
    await pool.query(`CREATE TABLE ${db}.${table} (id BIGINT PRIMARY KEY, email VARCHAR(64) NOT NULL, balance DECIMAL(12,2) NOT NULL, n INT NOT NULL)`);
    await pool.query(`INSERT INTO ${db}.${table} SELECT seq, CONCAT('s', seq, '@x.io'), seq / 4, 0 FROM ${db}.seq_1_to_${opts.seedRows}`);
    await pool.end();
    fs.writeFileSync(path.join(bed.stack.dir, 'mapping.yaml'), `version: 1
tables:
  - source: ${db}.${table}
    target: ${prefix}_target
    partitionKey: { attribute: pk, template: "USER#{id}" }
    sortKey: { attribute: sk, template: "PROFILE" }
    nulls: omit
`);
    bed.client = await createTemporalClient();
  }, 180_000);

  afterAll(async () => {
    if (bed.worker && bed.worker.child.exitCode === null && bed.worker.child.signalCode === null) bed.worker.child.kill('SIGKILL');
    await bed.client?.connection.close().catch(() => undefined);
    if (process.env.FAULT_KEEP) return void console.log(`kept ${bed.stack?.dir}`);
    await bed.stack?.down();
  });

  return bed;
}
