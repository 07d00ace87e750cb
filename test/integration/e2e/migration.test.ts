/**
 * The table migration end to end on the real stack: the dev Temporal server, MariaDB, Kafka and dynalite, a real
 * Worker (unique task queue) with the real activities built exactly as src/workers/activities.ts builds them (it also
 * hosts the CDC reader), and an application of two routing-layer instances (MigratingTable) writing through every
 * phase while the workflow runs with automatic gates and short soaks. During "flip writes" (DynamoDB first) the test
 * rolls back to shadow writes with the rollback update, then lets the migration go forward again to completion.
 *
 * Proves: the workflow completes; verification reported 0 mismatches; no acknowledged write is lost (the independent
 * checker reads the load generator's operation logs against DynamoDB, the final store); MySQL and DynamoDB agree on
 * every row (through the mapping) that no write touched after MySQL stopped receiving writes; no tombstone is left;
 * and the workflow history holds no row value (a marker string written into every row never appears in it).
 *
 * The writer stops once the workflow reached drain-cdc (after the switch to DynamoDB only), so the tombstone cleanup
 * of the last phase sees its final state.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeleteTableCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import * as mysql from 'mysql2/promise';
import { runCheck } from '../../../src/checker/check';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { createLogger } from '../../../src/infra/logger';
import { createMysqlPool, mysqlConnectionParams } from '../../../src/infra/mysql';
import { createTemporalClient, createWorkerConnection } from '../../../src/infra/temporal';
import { runLoad, type LoadTable } from '../../../src/loadgen/generator';
import { readColumns, rowFromMysql2, ROW_QUERY_OPTIONS } from '../../../src/pipeline/row/codec';
import { loadMappingFile, type CompiledMapping } from '../../../src/pipeline/transform/mapping';
import { RoutingAppStore } from '../../../src/routing/app-store';
import { FlagStore } from '../../../src/routing/flag-store';
import { MigratingTable } from '../../../src/routing/migrating-table';
import { rollbackUpdate, statusQuery, type MigrationStatus } from '../../../src/shared/messages';
import { CONFIG_DEFAULTS, type TableMigrationConfig } from '../../../src/shared/migration-config';
import { phaseIndex } from '../../../src/shared/phases';
import { workflowBundle } from '../../../src/workers/bundle';
import { buildActivities, type WorkerDeps } from '../../../src/workers/activities';
import { tableMigrationWorkflow } from '../../../src/workflows/table-migration';
import { uniqueName } from '../../support/ids';

jest.setTimeout(200_000);

const db = uniqueName('e2e');
const topic = uniqueName('e2e_cdc');
const group = uniqueName('e2e_etl');
const target = uniqueName('e2e_tgt');
const controlTable = uniqueName('e2e_ctl');
const taskQueue = uniqueName('e2e_tq');
const marker = uniqueName('MARK');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-e2e-'));
const mappingFile = path.join(dir, 'mapping.yaml');
const SEED_ROWS = 300;
const LOAD_KEYS = 40;
const BIG = 9007199254740993n; // 2^53 + 1: not representable as a JS number

const DDL = `CREATE TABLE \`${db}\`.items (
  tenant INT NOT NULL, id BIGINT NOT NULL, amount DECIMAL(20,4) NULL, at DATETIME(6) NOT NULL, doc JSON NULL,
  data BLOB NULL, name VARCHAR(128) NOT NULL, rev VARCHAR(96) NOT NULL, PRIMARY KEY (tenant, id))`;

const MAPPING = `version: 1
tables:
  - source: ${db}.items
    target: ${target}
    partitionKey: { attribute: pk, template: "T#{tenant}" }
    sortKey: { attribute: sk, template: "I#{id}" }
    nulls: "null"
    columns:
      doc: { type: json }
`;

const keyFor = (i: number) => ({ tenant: (i % 3) + 1, id: (BIG + BigInt(i)).toString() });
const rowOf = (key: { tenant: number; id: string }, token: string, r: () => number) => ({
  ...key,
  amount: `${Math.floor(r() * 1e6)}.${String(Math.floor(r() * 1e4)).padStart(4, '0')}`,
  at: `2026-11-${String(1 + Math.floor(r() * 28)).padStart(2, '0')} 12:34:56.${String(Math.floor(r() * 1e6)).padStart(6, '0')}`,
  doc: `{"n": ${Math.floor(r() * 1000)}, "tag": "${marker}"}`,
  data: { $b64: Buffer.from([Math.floor(r() * 256), 0, 255, 7]).toString('base64') },
  name: `${marker}-${Math.floor(r() * 1e6)}`,
  rev: token,
});
const items: LoadTable = { name: 'items', keySpace: LOAD_KEYS, keyFor, rowFor: (key, token, r) => rowOf(key as { tenant: number; id: string }, token, r) };

let pool: mysql.Pool;
let deps: WorkerDeps;
let client: Client;
const dynamo = createDynamoClient();

function config(): TableMigrationConfig {
  return {
    ...CONFIG_DEFAULTS,
    source: { database: db, table: 'items' },
    mappingFile,
    createTarget: true,
    cdc: { source: 'builtin', topic, partitions: 3 },
    etl: { group, runner: 'workflow', consumers: 1 },
    backfill: { parallelism: 2, targetChunkMs: 200 },
    verify: { mode: 'full', repairAttempts: 2 },
    readLadder: [50, 100],
    soak: { readStepMs: 1_500, shadowWritesMs: 2_000, flipWritesMs: 4_000 },
    gates: { reads: 'auto', readSteps: 'auto', shadowWrites: 'auto', flipWrites: 'auto', dynamoOnly: 'auto' },
    // Shadow reads race live writes (a compared read may straddle a write): the gates here are about the data path.
    thresholds: { ...CONFIG_DEFAULTS.thresholds, maxShadowReadMismatches: 1_000_000, maxShadowReadMismatchRate: 1 },
    shadowReadFraction: 0.3,
    barrierTimeoutMs: 30_000,
    fenceTimeoutMs: 20_000,
    monitorIntervalMs: 2_000,
    drainQuietMs: 2_000,
    sliceMs: 20_000,
  } as TableMigrationConfig;
}

beforeAll(async () => {
  const admin = createMysqlPool({ database: '' });
  await admin.query(`CREATE DATABASE \`${db}\``);
  await admin.query(DDL);
  await admin.end();
  const p = mysqlConnectionParams();
  pool = mysql.createPool({ ...ROW_QUERY_OPTIONS, host: p.host, port: p.port, user: p.user, password: p.password, database: db, connectionLimit: 12 });
  let seed = 1;
  const r = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  for (let i = 0; i < SEED_ROWS; i += 100) {
    const rows = Array.from({ length: Math.min(100, SEED_ROWS - i) }, (_, j) => rowOf(keyFor(i + j), `seed-${i + j}`, r));
    await pool.query('INSERT INTO items (tenant, id, amount, at, doc, data, name, rev) VALUES ?', [
      rows.map((x) => [x.tenant, x.id, x.amount, x.at, x.doc, Buffer.from(x.data.$b64, 'base64'), x.name, x.rev]),
    ]);
  }
  fs.writeFileSync(mappingFile, MAPPING);
  deps = buildActivities({
    logger: createLogger('e2e', fs.createWriteStream(path.join(dir, 'worker.log'))),
    settings: { cdcMetaDb: db, routingSchema: db, etlControlTable: controlTable, reportDir: path.join(dir, 'reports'), cdcLeaseTtlMs: 10_000 },
  });
  client = await createTemporalClient();
});

afterAll(async () => {
  await deps?.close();
  await client?.connection.close();
  if (process.env.E2E_KEEP) return void console.log(`kept ${db}, ${target}, ${dir}`);
  const kafka = createKafka('e2e-cleanup');
  const admin = kafka.admin();
  await admin.connect();
  const topics = await admin.listTopics();
  await admin.deleteTopics({ topics: [topic, `${topic}.dlq`].filter((t) => topics.includes(t)) }).catch(() => undefined);
  await admin.deleteGroups([group]).catch(() => undefined);
  await admin.disconnect();
  for (const TableName of [target, controlTable]) await dynamo.send(new DeleteTableCommand({ TableName })).catch(() => undefined);
  await pool?.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await pool?.end();
  dynamo.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function scanAll(table: string): Promise<Record<string, AttributeValue>[]> {
  const out: Record<string, AttributeValue>[] = [];
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const r = await dynamo.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey }));
    out.push(...(r.Items ?? []));
    ExclusiveStartKey = r.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return out;
}

/** The user attributes of an item (no reserved _v/_src/_del), binary values as base64, for comparison. */
const userPart = (item: Record<string, AttributeValue>): unknown =>
  JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(item).filter(([k]) => !k.startsWith('_'))), (k, v: unknown) => (k === 'B' ? Buffer.from(v instanceof Uint8Array ? v : ((v as { data: number[] }).data ?? Object.values(v as object))).toString('base64') : v)));

it('migrates a live table through every phase, rolls back from flip-writes and forward again, losing nothing', async () => {
  const started = Date.now();
  const columns = await readColumns(pool, db, 'items');
  const [mapping] = loadMappingFile(mappingFile, () => columns) as CompiledMapping[];
  const flagStore = new FlagStore(pool, db);
  await flagStore.ensureSchema();
  const connection = await createWorkerConnection();
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: deps.activities,
    maxHeartbeatThrottleInterval: '1 second',
    defaultHeartbeatThrottleInterval: '1 second',
  });
  const running = worker.run();
  // The application: two routing-layer instances writing and reading through the whole migration.

  const stopLoad = new AbortController();
  const lastWriteAt = new Map<string, number>();
  const failures: unknown[] = [];
  const load = runLoad({
    runId: 'e2e',
    instances: 2,
    storeFor: async (instance) =>
      new RoutingAppStore({ items: await MigratingTable.open({ pool, dynamo, mapping, columns, flagStore, instanceId: instance, intervalMs: 100, staleMs: 3_000, fenceTimeoutMs: 40_000 }) }, { items: ['tenant', 'id'] }),
    tables: [items],
    mix: { read: 3, insert: 2, update: 4, delete: 1 },
    ratePerInstance: 25,
    concurrency: 2,
    durationMs: 170_000,
    logDir: path.join(dir, 'oplogs'),
    seed: 11,
    signal: stopLoad.signal,
    onComplete: (rec) => {
      if (rec.kind !== 'read') lastWriteAt.set(JSON.stringify(rec.key), Date.now());
      if (rec.result === 'failed' && failures.length < 10) failures.push(rec);
    },
  });

  const workflowId = uniqueName('migrate_e2e');
  const handle = await client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId, args: [{ config: config() }] });
  let rolledBack = false;
  let status: MigrationStatus | undefined;
  let loadStopped = false;
  let summary: Awaited<typeof load>;
  try {
    for (;;) {
      status = await handle.query(statusQuery);
      if (!rolledBack && status.phase === 'flip-writes' && status.writeMode === 'dynamo-primary') {
        const r = await handle.executeUpdate(rollbackUpdate, { args: [{ to: 'shadow-writes', by: 'e2e', reason: 'rollback from DynamoDB-first writes' }] });
        expect(r).toMatchObject({ to: 'shadow-writes', writeMode: 'mysql-primary', applied: true });
        rolledBack = true;
      }
      if (!loadStopped && phaseIndex(status.phase) >= phaseIndex('drain-cdc')) {
        stopLoad.abort();
        loadStopped = true;
      }
      if (status.phase === 'complete' || status.phase === 'failed' || status.phase === 'aborted') break;
      if (status.awaiting?.problem) throw new Error(`migration stopped at ${status.awaiting.gate}: ${status.awaiting.reason}`);
      if (Date.now() - started > 170_000) throw new Error(`migration still in ${status.phase} after 170 s`);
      await new Promise((r) => setTimeout(r, 150));
    }
    const outcome = await handle.result();
    expect(outcome.phase).toBe('complete');
  } finally {
    stopLoad.abort();
    summary = await load;
    if (status?.phase !== 'complete') console.log(JSON.stringify({ status, failures }, null, 1));
    worker.shutdown();
    await running;
    await connection.close();
  }
  {
    expect(failures).toEqual([]);

    if (!status) throw new Error('no status');
    expect(rolledBack).toBe(true);
    expect(status.transitions.some((t) => t.kind === 'operator' && /rollback/i.test(t.cause))).toBe(true);
    expect(status.verification).toMatchObject({ done: true, passed: true, missing: 0, extra: 0, different: 0 });
    expect(status.verification!.rowsCompared).toBeGreaterThanOrEqual(SEED_ROWS - LOAD_KEYS);

    // No acknowledged write lost: the independent checker over the operation logs, against the final store.
    const report = await runCheck(summary.logFiles, {
      tables: [{ table: 'items', tokenColumn: 'rev', dynamo: { tableName: target, key: [{ attribute: 'pk', type: 'S', template: 'T#{tenant}' }, { attribute: 'sk', type: 'S', template: 'I#{id}' }], tokenAttribute: 'rev', itemToRow: (item) => mapping.toRow(item) } }],
      dynamo,
      requireAgreement: false,
    });
    if (!report.passed) console.log(JSON.stringify(report.keys.slice(0, 3), null, 1));
    expect(report.lostWrites).toBe(0);
    expect(report.passed).toBe(true);
    expect(summary.ok).toBeGreaterThan(100);

    // MySQL and DynamoDB agree on every row no write touched after MySQL stopped receiving writes; no tombstones.
    const dynamoOnlyAt = Date.parse(status.transitions.find((t) => t.kind === 'flags' && /writes dynamo-only/.test(t.to ?? ''))?.at ?? '') || Date.now();
    const touchedLate = (key: { tenant: number; id: string }) => (lastWriteAt.get(JSON.stringify({ tenant: key.tenant, id: key.id })) ?? 0) >= dynamoOnlyAt - 2_000;
    const all = await scanAll(target);
    expect(all.filter((i) => i._del !== undefined)).toEqual([]);
    const dyn = new Map(all.map((i) => [JSON.stringify(mapping.keyOf(mapping.toRow(i))), userPart(i)]));
    const [rows] = await pool.query('SELECT * FROM items');
    const mysqlRows = (rows as Record<string, unknown>[]).map((raw) => rowFromMysql2(columns, raw));
    let compared = 0;
    for (const row of mysqlRows) {
      if (touchedLate(row as unknown as { tenant: number; id: string })) continue;
      const k = JSON.stringify(mapping.keyOf(row));
      expect({ key: k, item: dyn.get(k) }).toEqual({ key: k, item: userPart(mapping.toItem(row)) });
      dyn.delete(k);
      compared++;
    }
    const extra = all.filter((i) => dyn.has(JSON.stringify(mapping.keyOf(mapping.toRow(i)))) && !touchedLate(mapping.toRow(i) as unknown as { tenant: number; id: string }));
    expect(extra).toEqual([]);
    expect(compared).toBeGreaterThanOrEqual(SEED_ROWS - LOAD_KEYS);

    // No row value in the workflow history.
    // Payload data comes base64-encoded: decode every one, and check the decoding with values that must be there.
    const history = JSON.stringify(await handle.fetchHistory(), (k, v: unknown) => (k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v));
    expect({ hasTable: history.includes(`${db}.items`), hasMappingFile: history.includes(mappingFile), hasRowValue: history.includes(marker) }).toEqual({
      hasTable: true,
      hasMappingFile: true,
      hasRowValue: false,
    });
    console.log(`e2e migration: ${Math.round((Date.now() - started) / 1000)} s, ${summary.ok} requests ok, ${compared} rows compared, ${status.transitions.length} transitions`);
  }
});
