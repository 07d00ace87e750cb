/**
 * The demo: seed the sample schema, run the application load (N instances through the routing layer, or direct MySQL
 * statements), migrate every table under that load with the demo plan and an in-process worker (`migrate`), stop the
 * load, check the final state with the independent checker over the operation logs, and write the report (Markdown
 * + JSON + PNG). Without `migrate` the load runs against the source only and the report says so at its top
 * (`NOT_MIGRATED`, verdict INCOMPLETE).
 *
 * Guarantees: bounded (the load stops after `durationS`); everything created is under `database` (reset at the
 * start) and the report directory; exit status via the returned verdict.
 */
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SingleBar } from 'cli-progress';
import * as mysql from 'mysql2/promise';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { runCheck } from '../../src/checker/check';
import { writeCheckReport } from '../../src/checker/report';
import { createDynamoClient } from '../../src/infra/dynamodb';
import { createKafka } from '../../src/infra/kafka';
import { createMysqlPool, mysqlConnectionParams } from '../../src/infra/mysql';
import { assertLocalServices, type AppStore } from '../../src/loadgen/app-store';
import { serviceEnv } from '../../src/infra/env';
import { runLoad, type Mix } from '../../src/loadgen/generator';
import { MysqlAppStore } from '../../src/loadgen/mysql-store';
import { readColumns, ROW_QUERY_OPTIONS } from '../../src/pipeline/row/codec';
import { loadMappingFile } from '../../src/pipeline/transform/mapping';
import { RoutingAppStore } from '../../src/routing/app-store';
import { FlagStore } from '../../src/routing/flag-store';
import { MigratingTable } from '../../src/routing/migrating-table';
import { startMigration } from './migrate';
import { removePreviousStreams } from './plan';
import { writeDemoReport, type DemoReportInput } from './report';
import { DEMO_DATABASE, DEMO_KEYS, DEMO_TABLES, type DemoTable } from './schema';
import { seedDemo } from './seed';
import { DEMO_DYNAMO_TABLES, demoCheckedTables, demoDynamoTables, demoLoadTables } from './workload';

/** How the demo runs (see scripts/demo.ts for the command-line flags). */
export interface DemoOptions {
  readonly rows: number;
  readonly instances: number;
  readonly ratePerInstance: number;
  readonly durationS: number;
  readonly mix: Mix;
  /** `mysql`: the app before cutover (direct statements); `routing`: through MigratingTable (flags as they are). */
  readonly via: 'mysql' | 'routing';
  readonly outDir: string;
  readonly database?: string;
  /** Tables to load and migrate (default all four; all four are seeded either way). */
  readonly tables?: readonly DemoTable[];
  /** Schema of the routing flag tables (routing mode). */
  readonly controlSchema?: string;
  /** Also read DynamoDB in the check (once a migration has copied the tables there). */
  readonly checkDynamo?: boolean;
  readonly progress?: boolean;
  readonly temporalUi?: string;
  /** Migrate the tables under the load (needs `via: 'routing'`); the load stops `afterS` seconds after the plan finished. */
  readonly migrate?: { readonly soakS: number; readonly timeoutS: number; readonly afterS: number };
}

/** Printed at the top of a report of a run without migration. */
export const NOT_MIGRATED = [
  'the migration plan was not started (--no-migrate): the load ran against the source only, so there are no phase, lag or verification figures',
];

/** The verdict and the files written. */
export interface DemoResult {
  readonly verdict: 'PASSED' | 'FAILED' | 'INCOMPLETE';
  readonly files: { json: string; markdown: string; png: string; check: string };
}

/** Runs the demo end to end and writes the report into `opts.outDir`. */
export async function runDemo(opts: DemoOptions, log: (m: string) => void = console.log): Promise<DemoResult> {
  const database = opts.database ?? DEMO_DATABASE;
  const tables = opts.tables ?? DEMO_TABLES;
  assertLocalServices(serviceEnv());
  const started = new Date();
  const admin = createMysqlPool({ database: '' });
  const conn = mysqlConnectionParams();
  const pool = mysql.createPool({ ...ROW_QUERY_OPTIONS, host: conn.host, port: conn.port, user: conn.user, password: conn.password, database, connectionLimit: 4 + opts.instances * 4 });
  const dynamo = createDynamoClient();
  try {
    log(`seeding ${database} with ${opts.rows} rows`);
    const seed = await seedDemo(admin, { database, total: opts.rows, reset: true });
    log(`seeded in ${seed.seconds.toFixed(1)} s: ${JSON.stringify(seed.rows)}`);

    if (opts.migrate && opts.via !== 'routing') throw new Error('--migrate needs --via routing: the application must follow the routing flags');
    const controlSchema = opts.controlSchema ?? CONTROL_SCHEMA;
    if (opts.migrate) {
      await resetMigrationState(pool, dynamo, database, controlSchema, demoDynamoTables(database));
      const removed = await removePreviousStreams(createKafka('cutover-demo-reset'), database);
      if (removed.topics.length) log(`removed ${removed.topics.length} topics and ${removed.groups.length} consumer groups of earlier demo runs`);
    }
    const storeFor = await storeFactory(opts, pool, dynamo, database);
    const bar = opts.progress && !opts.migrate ? new SingleBar({ format: 'load |{bar}| {value}/{total} s | {requests} requests, {failed} failed', hideCursor: true }) : undefined;
    let requests = 0;
    let failed = 0;
    const loadS = opts.migrate ? opts.migrate.timeoutS + opts.migrate.afterS : opts.durationS;
    bar?.start(Math.round(loadS), 0, { requests, failed });
    const t0 = performance.now();
    const origin = Date.now();
    const tick = setInterval(() => bar?.update(Math.min(loadS, Math.round((performance.now() - t0) / 1000)), { requests, failed }), 500);
    const stopLoad = new AbortController();
    const loading = runLoad({
      runId: `demo${Date.now().toString(36)}`,
      instances: opts.instances,
      storeFor,
      tables: demoLoadTables(opts.rows, tables),
      mix: opts.mix,
      ratePerInstance: opts.ratePerInstance,
      durationMs: loadS * 1000,
      logDir: path.join(opts.outDir, 'oplogs'),
      signal: stopLoad.signal,
      onComplete: (r) => {
        requests++;
        if (r.result !== 'ok') failed++;
      },
    }).finally(() => {
      clearInterval(tick);
      bar?.update(Math.round(loadS), { requests, failed });
      bar?.stop();
    });
    let migration: Awaited<ReturnType<typeof startMigration>> | undefined;
    let outcome: 'finished' | 'timeout' | 'stuck' | undefined;
    if (opts.migrate) {
      try {
        migration = await startMigration({ database, mappingFile: demoMappingFile(database, opts.outDir), runId: `d${Date.now().toString(36)}`, soakS: opts.migrate.soakS, tables, origin, timeoutS: opts.migrate.timeoutS, bars: opts.progress ?? false, routingSchema: controlSchema, outDir: opts.outDir, log });
        outcome = await migration.finished;
        log(`migration ${outcome}${outcome === 'stuck' ? ` (${migration.monitor.problems().join('; ')})` : ''}; load continues ${opts.migrate.afterS} s`);
        await new Promise((r) => setTimeout(r, opts.migrate!.afterS * 1000));
      } catch (e) {
        stopLoad.abort();
        await loading.catch(() => undefined);
        throw e;
      } finally {
        stopLoad.abort();
        await migration?.close();
      }
    }
    const load = await loading;
    log(`load: ${load.requests} requests (${load.failed} failed), read p99 ${load.read.p99Ms.toFixed(2)} ms, write p99 ${load.write.p99Ms.toFixed(2)} ms`);
    const phases = migration?.monitor.phases() ?? [];
    const incomplete: string[] = [];
    const last = migration?.monitor.lastPhases() ?? {};
    if (migration) {
      if (outcome === 'timeout') incomplete.push(`the migration did not finish within ${opts.migrate!.timeoutS} s`);
      if (outcome === 'stuck') incomplete.push(`the migration stopped at a gate: ${migration.monitor.problems().join('; ')}`);
      const notComplete = Object.entries(last).filter(([, p]) => p !== 'complete');
      if (notComplete.length) incomplete.push(`tables not complete: ${notComplete.map(([t, p]) => `${t} (${p})`).join(', ')}`);
      if (Object.keys(last).length < tables.length) incomplete.push(`only ${Object.keys(last).length} of ${tables.length} tables reported a status`);
    }
    // After every table completed, DynamoDB is the only store the application writes: it alone must hold every write.
    const migrated = outcome === 'finished' && incomplete.length === 0;

    log('checking the final state against the operation logs');
    const checked = demoCheckedTables(database, demoDynamoTables(database), tables);
    fs.writeFileSync(path.join(opts.outDir, 'checker-config.json'), `${JSON.stringify({ tables: checked }, null, 2)}\n`);
    const check = await runCheck(load.logFiles, {
      tables: checked,
      mysql: migrated ? undefined : pool,
      dynamo: migrated || opts.checkDynamo ? dynamo : undefined,
    });
    const checkFiles = writeCheckReport(check, opts.outDir, 'check');
    const endS = load.elapsedMs / 1000;
    const input: DemoReportInput = {
      title: 'cutover demo',
      startedAt: started.toISOString(),
      durationS: (Date.now() - started.getTime()) / 1000,
      seed,
      load: { instances: opts.instances, ratePerInstance: opts.ratePerInstance, requests: load.requests, ok: load.ok, failed: load.failed },
      timeline: load.metrics.timeline(),
      windows: [
        { label: `whole run (via ${opts.via})`, fromS: 0, toS: endS, ...load.metrics.between(0, Number.POSITIVE_INFINITY) },
        ...phases.map((p) => ({ label: `${p.table}: ${p.phase}`, fromS: p.startS, toS: p.endS ?? endS, ...load.metrics.between(p.startS, p.endS ?? endS) })),
      ],
      phases,
      lag: migration?.monitor.lag() ?? [],
      verification: migration?.monitor.verification() ?? [],
      check: {
        passed: check.passed,
        lostWrites: check.lostWrites,
        acknowledgedWrites: check.totals.acknowledgedWrites,
        keysChecked: check.keysChecked,
        keysWithViolations: check.keysWithViolations,
        violationsByKind: check.violationsByKind,
        reads: check.reads,
        report: path.basename(checkFiles.markdown),
      },
      notDone: opts.migrate ? incomplete : NOT_MIGRATED,
      temporalUi: opts.temporalUi,
    };
    const files = writeDemoReport(opts.outDir, input);
    return { verdict: files.verdict, files: { json: files.json, markdown: files.markdown, png: files.png, check: checkFiles.markdown } };
  } finally {
    dynamo.destroy();
    await pool.end();
    await admin.end();
  }
}

/** Default schema of the routing flag tables in the demo. */
const CONTROL_SCHEMA = 'cutover_control';

/** A new run starts from scratch: the previous run's DynamoDB tables and routing rows (flags, heartbeats, versions) of `database` go. */
export async function resetMigrationState(pool: mysql.Pool, dynamo: DynamoDBClient, database: string, controlSchema: string, dynamoTables: Readonly<Record<string, string>>): Promise<void> {
  for (const TableName of Object.values(dynamoTables)) {
    await dynamo.send(new DeleteTableCommand({ TableName })).catch((e: Error) => {
      if (e.name !== 'ResourceNotFoundException') throw e;
    });
  }
  const [tables] = await pool.query<mysql.RowDataPacket[]>(
    "SELECT TABLE_NAME AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND COLUMN_NAME = 'table_id' AND TABLE_NAME LIKE 'cutover\\_%'",
    [controlSchema],
  );
  for (const { t } of tables) await pool.query(`DELETE FROM \`${controlSchema}\`.\`${t}\` WHERE table_id LIKE ?`, [`${database}.%`]);
}

/**
 * scripts/demo/mapping.yaml, or a copy in `dir` whose sources are in `database` instead of cutover_demo and whose
 * DynamoDB tables are `demoDynamoTables(database)` (so a demo in another database never touches the demo's tables).
 */
export function demoMappingFile(database: string, dir: string): string {
  const file = path.join(__dirname, 'mapping.yaml');
  if (database === DEMO_DATABASE) return file;
  const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as { targets?: Record<string, unknown>; tables: { source: string; target: string }[] };
  const rename: Record<string, string> = { [DEMO_DYNAMO_TABLES.app]: demoDynamoTables(database).app, [DEMO_DYNAMO_TABLES.attachments]: demoDynamoTables(database).attachments };
  for (const t of doc.tables) {
    t.source = t.source.replace(/^[^.]+\./, `${database}.`);
    t.target = rename[t.target] ?? t.target;
  }
  if (doc.targets) doc.targets = Object.fromEntries(Object.entries(doc.targets).map(([k, v]) => [rename[k] ?? k, v]));
  const copy = path.join(dir, `mapping.${database}.yaml`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(copy, YAML.stringify(doc));
  return copy;
}

async function storeFactory(opts: DemoOptions, pool: mysql.Pool, dynamo: DynamoDBClient, database: string): Promise<(instance: string) => Promise<AppStore>> {
  if (opts.via === 'mysql') return async () => new MysqlAppStore(pool, DEMO_KEYS);
  const columns = new Map<string, Awaited<ReturnType<typeof readColumns>>>(await Promise.all(DEMO_TABLES.map(async (t) => [`${database}.${t}`, await readColumns(pool, database, t)] as const)));
  const mappings = loadMappingFile(demoMappingFile(database, opts.outDir), (id) => columns.get(id));
  const flagStore = new FlagStore(pool, opts.controlSchema ?? CONTROL_SCHEMA);
  await flagStore.ensureSchema();
  return async (instance) => {
    const tables: Record<string, MigratingTable> = {};
    for (const m of mappings) {
      // Heartbeats every 100 ms so the workflow's flag barrier sees every live instance acknowledge a flag change.
      tables[m.source.table] = await MigratingTable.open({ pool, dynamo, mapping: m, columns: columns.get(m.sourceId), flagStore, instanceId: instance, intervalMs: 100, staleMs: 3_000, fenceTimeoutMs: 40_000 });
    }
    return new RoutingAppStore(tables, DEMO_KEYS);
  };
}
