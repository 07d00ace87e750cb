/**
 * Builds every activity from real clients: the only place (with the CLI) where clients are created.
 *
 * The clients are built once per process and shared by every activity. The process also hosts the built-in CDC
 * readers: a CdcRuntime that claims any running task of the durable task table whose lease is free (startCdc only
 * creates the task and waits until some host holds it). Every worker does this, as do `npm run cdc` processes, so a
 * task is read by exactly one process at a time and a dead host's task is taken over when its lease expires.
 *
 * Settings (environment, overridable by `opts.settings`): CUTOVER_CDC_META_DB (task table database; default the
 * database of CUTOVER_MYSQL_URL), CUTOVER_ROUTING_SCHEMA (the application's routing flag schema; default
 * cutover_control), CUTOVER_ETL_CONTROL_TABLE, CUTOVER_REPORT_DIR (verification reports, shared by every worker;
 * default .cutover/reports), CUTOVER_CDC_HOST=0 to not host CDC readers in this process, CUTOVER_CDC_LEASE_TTL_MS (the
 * lease of the CDC readers this process hosts: a dead host's task is taken over once it expires; default 30 000, at
 * least 5 000). Each reader renews its lease every third of the TTL and stops publishing once 80 % of it has passed
 * without a renewal; the lease's expiry is stored per task, so workers with different TTLs can share tasks safely.
 */
import * as mysql from 'mysql2/promise';
import * as path from 'node:path';
import { createDynamoClient } from '../infra/dynamodb';
import { serviceEnv } from '../infra/env';
import { createKafka } from '../infra/kafka';
import { createLogger, type Logger } from '../infra/logger';
import { createMysqlPool, mysqlConnectionParams } from '../infra/mysql';
import type { CutoverMetrics } from '../infra/metrics';
import { createSmokeActivities } from '../activities/smoke';
import { createMigrationActivities } from '../activities/migration';
import { createAllParts } from '../activities/parts/index';
import { CheckpointStore } from '../pipeline/cdc/checkpoint';
import { CdcRuntime } from '../pipeline/cdc/runtime';
import { ControlStore, DEFAULT_CONTROL_TABLE } from '../pipeline/consumer/control';
import { createSourcePool } from '../pipeline/backfill/source-pool';
import { ROW_QUERY_OPTIONS } from '../pipeline/row/codec';
import { FlagStore } from '../routing/flag-store';
import { ConfigError } from '../shared/errors';

/** Where the worker keeps its state; every worker of a deployment must agree on these. */
export interface WorkerSettings {
  readonly cdcMetaDb: string;
  readonly routingSchema: string;
  readonly etlControlTable: string;
  readonly reportDir: string;
  /** Host CDC readers in this process (default true). */
  readonly hostCdc: boolean;
  readonly cdcLeaseTtlMs: number;
  readonly cdcClaimTimeoutMs: number;
}

/** Bounds of CUTOVER_CDC_LEASE_TTL_MS: well above the reader's 1 s checkpoint interval, and at most 10 minutes. */
export const CDC_LEASE_TTL_BOUNDS_MS = { default: 30_000, min: 5_000, max: 600_000 } as const;

/** CUTOVER_CDC_LEASE_TTL_MS, or the default; a malformed or out-of-range value fails fast naming the setting. */
export function cdcLeaseTtlFromEnv(raw = process.env.CUTOVER_CDC_LEASE_TTL_MS): number {
  const { default: def, min, max } = CDC_LEASE_TTL_BOUNDS_MS;
  if (raw === undefined || raw.trim() === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`must be a whole number of milliseconds from ${min} to ${max}`, undefined, undefined, 'CUTOVER_CDC_LEASE_TTL_MS');
  return n;
}

/** The settings from the environment. */
export function workerSettings(overrides: Partial<WorkerSettings> = {}): WorkerSettings {
  return {
    cdcMetaDb: process.env.CUTOVER_CDC_META_DB ?? mysqlConnectionParams().database ?? 'cutover',
    routingSchema: process.env.CUTOVER_ROUTING_SCHEMA ?? 'cutover_control',
    etlControlTable: process.env.CUTOVER_ETL_CONTROL_TABLE ?? DEFAULT_CONTROL_TABLE,
    reportDir: process.env.CUTOVER_REPORT_DIR ?? path.join(process.cwd(), '.cutover', 'reports'),
    hostCdc: process.env.CUTOVER_CDC_HOST !== '0',
    cdcLeaseTtlMs: overrides.cdcLeaseTtlMs ?? cdcLeaseTtlFromEnv(),
    cdcClaimTimeoutMs: 60_000,
    ...overrides,
  };
}

/** The clients the activities share, and how to close them. */
export interface WorkerDeps {
  readonly activities: Record<string, (...args: never[]) => Promise<unknown>>;
  close(): Promise<void>;
}

/** Smoke and migration activities (and the CDC host); `logger`/`metrics` are optional so scripts can build a bare worker. */
export function buildActivities(opts: { logger?: Logger; metrics?: CutoverMetrics; settings?: Partial<WorkerSettings> } = {}): WorkerDeps {
  const settings = workerSettings(opts.settings);
  const logger = opts.logger ?? createLogger('worker');
  const env = serviceEnv();
  const mysqlPool = createMysqlPool();
  const dynamo = createDynamoClient();
  const source = createSourcePool({ connectionLimit: 16 });
  const kafka = createKafka(`cutover-worker-${process.pid}`);
  // Checkpoint writes need not reach the binlog (they would only wake the reader up); ignored when not permitted.
  const p = mysqlConnectionParams(env.mysqlUrl);
  const cdcDb = mysql.createPool({ ...ROW_QUERY_OPTIONS, host: p.host, port: p.port, user: p.user, password: p.password, connectionLimit: 4 });
  cdcDb.pool.on('connection', (conn) => conn.query('SET SESSION sql_log_bin = 0', () => undefined));
  const cdcStore = new CheckpointStore(cdcDb, settings.cdcMetaDb);
  const parts = createAllParts({
    pool: source,
    dynamo,
    kafka,
    cdcStore,
    cdcMetaDb: settings.cdcMetaDb,
    etlControl: new ControlStore(dynamo, settings.etlControlTable),
    flagStore: new FlagStore(source, settings.routingSchema),
    reportDir: settings.reportDir,
    cdcClaimTimeoutMs: settings.cdcClaimTimeoutMs,
  });
  const migration = createMigrationActivities({ parts, logger, metrics: opts.metrics });
  let runtime: CdcRuntime | undefined;
  let hosting: Promise<void> | undefined;
  if (settings.hostCdc) {
    const log = logger.child({ component: 'cdc-host' });
    runtime = new CdcRuntime({ db: cdcDb, store: cdcStore, kafka, mysqlUrl: env.mysqlUrl }, {
      leaseTtlMs: settings.cdcLeaseTtlMs,
      pollMs: 500,
      onError: (cdcId, e) => log.error({ cdcId, errorType: (e as Error).name, error: (e as Error).message }, 'cdc reader failed'),
    });
    hosting = runtime.run().catch((e: unknown) => log.error({ errorType: (e as Error).name, error: (e as Error).message }, 'cdc host stopped'));
  }
  return {
    activities: { ...createSmokeActivities({ mysql: mysqlPool, dynamo }), ...(migration as unknown as WorkerDeps['activities']) },
    async close() {
      runtime?.stop();
      await hosting;
      await mysqlPool.end();
      await source.end();
      await cdcDb.end();
      dynamo.destroy();
    },
  };
}
