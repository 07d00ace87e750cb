/**
 * The standalone CDC process: `tsx src/workers/cdc.ts [--cdc-id ID]`. Reads the binlog of the tasks created by
 * BuiltinCdcSource.start and publishes them to Kafka. Run one per machine or several: each task is read by the one
 * process holding its lease. SIGTERM/SIGINT stop gracefully (publish what was read, save the checkpoint); a kill -9
 * loses nothing either: the next reader resumes from the last checkpoint once the lease expires.
 *
 * Progress is printed as one JSON line per checkpoint interval (position, counts per table and operation, lag).
 *
 * Start-up: a MySQL user refused or a malformed setting fails at once (exit 1, one `cdc worker exiting` line
 * naming the setting); MySQL or Kafka not answering yet is waited for, with a `waiting for service` warning per
 * attempt naming the service, endpoint and setting, and capped backoff (CUTOVER_STARTUP_WAIT_MS bounds the wait).
 */
import { Command } from 'commander';
import * as mysql from 'mysql2/promise';
import { loadStackEnv, serviceEnv } from '../infra/env';
import { createKafka } from '../infra/kafka';
import { mysqlConnectionParams } from '../infra/mysql';
import { problemFields, startupWaitMs, waitForServices } from '../infra/reachability';
import { CheckpointStore } from '../pipeline/cdc/checkpoint';
import { CdcRuntime } from '../pipeline/cdc/runtime';
import { ROW_QUERY_OPTIONS } from '../pipeline/row/codec';

async function main(): Promise<void> {
  loadStackEnv();
  const cli = new Command('cutover-cdc')
    .option('--cdc-id <id>', 'run only this CDC task (default: claim any runnable task)')
    .option('--meta-db <db>', 'database holding the cutover_cdc_task table', process.env.CUTOVER_CDC_META_DB)
    .option('--lease-ttl-ms <ms>', 'lease time-to-live', (v) => Number(v), 30_000)
    .option('--checkpoint-interval-ms <ms>', 'checkpoint interval', (v) => Number(v), 1000)
    .option('--max-batch <n>', 'messages per Kafka request', (v) => Number(v), 1000)
    .option('--quiet', 'do not print progress lines')
    .parse(process.argv);
  const o = cli.opts<{ cdcId?: string; metaDb?: string; leaseTtlMs: number; checkpointIntervalMs: number; maxBatch: number; quiet?: boolean }>();
  const ac = new AbortController();
  const early = (): void => ac.abort();
  process.once('SIGTERM', early);
  process.once('SIGINT', early);
  await waitForServices(['mysql', 'kafka'], {
    maxWaitMs: startupWaitMs(),
    signal: ac.signal,
    onWait: (pr, retryInMs, attempt) => console.error(JSON.stringify({ level: 'warn', msg: 'waiting for service', ...problemFields(pr), attempt, retryInMs })),
  });
  process.off('SIGTERM', early);
  process.off('SIGINT', early);
  if (ac.signal.aborted) return;
  const env = serviceEnv();
  const p = mysqlConnectionParams(env.mysqlUrl);
  const metaDb = o.metaDb ?? p.database ?? 'cutover';
  const db = mysql.createPool({ ...ROW_QUERY_OPTIONS, host: p.host, port: p.port, user: p.user, password: p.password, connectionLimit: 4 });
  // Checkpoint writes need not reach the binlog (they would only wake the reader up); ignore when not permitted.
  db.pool.on('connection', (c) => c.query('SET SESSION sql_log_bin = 0', () => undefined));
  const store = new CheckpointStore(db, metaDb);
  const kafka = createKafka(`cutover-cdc-${process.pid}`);
  const runtime = new CdcRuntime({ db, store, kafka, mysqlUrl: env.mysqlUrl }, {
    cdcId: o.cdcId,
    leaseTtlMs: o.leaseTtlMs,
    checkpointIntervalMs: o.checkpointIntervalMs,
    maxBatchMessages: o.maxBatch,
    onProgress: o.quiet ? undefined : (pr) => console.log(JSON.stringify({ msg: 'cdc progress', ...pr })),
    onError: (id, e) => console.error(JSON.stringify({ msg: 'cdc reader failed', cdcId: id, error: (e as Error).name, detail: (e as Error).message })),
  });
  const shutdown = (): void => runtime.stop();
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  console.log(JSON.stringify({ msg: 'cdc worker started', pid: process.pid, cdcId: o.cdcId ?? '(any)', metaDb }));
  try {
    await runtime.run();
  } finally {
    await db.end();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(JSON.stringify({ msg: 'cdc worker exiting', error: (err as Error).name, detail: (err as Error).message }));
    process.exit(1);
  },
);
