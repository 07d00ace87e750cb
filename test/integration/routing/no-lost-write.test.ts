/**
 * The no-lost-write proof: three in-process application instances (each its own MigratingTable, pool and
 * heartbeat) write and read the same 16 keys through the load generator while the write mode steps forward and back
 * through every transition — including both fences, the rollback from dynamo-only and the rollback from
 * dynamo-primary to mysql-primary — and reads move between stores, with the binlog flowing to DynamoDB through the
 * CDC stand-in the whole time. At the end the independent checker (src/checker) reads both stores and finds them
 * equal and consistent with every instance's log of acknowledged writes; no request failed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCheck } from '../../../src/checker/check';
import { runLoad, type LoadTable } from '../../../src/loadgen/generator';
import { RoutingAppStore } from '../../../src/routing/app-store';
import { routingStats } from '../../../src/routing/control';
import type { WriteMode } from '../../../src/routing/flags';
import type { MigratingTable } from '../../../src/routing/migrating-table';
import { reconcileFromDynamo } from '../../../src/routing/reconcile';
import { stepWriteMode } from '../../../src/routing/transitions';
import { TestCdcRelay } from './support/cdc-relay';
import { createFixture, type Fixture } from './support/fixture';

jest.setTimeout(90_000);

let fx: Fixture;
let relay: TestCdcRelay;
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-routing-'));

beforeAll(async () => {
  fx = await createFixture(
    'rt_nlw',
    ['CREATE TABLE kv (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, amount DECIMAL(10,2), blob_col VARBINARY(16), rev VARCHAR(96) NOT NULL)'],
    { kv: { partitionKey: { attribute: 'pk', template: 'KV#{id}' }, nulls: 'null' } },
  );
  const { mapping, columns } = await fx.mapping('kv');
  relay = new TestCdcRelay(fx.pool, mapping, columns, fx.dynamo);
  await relay.start();
});

afterAll(async () => {
  await relay?.stop();
  await fx?.close();
  fs.rmSync(logDir, { recursive: true, force: true });
});

const kv: LoadTable = {
  name: 'kv',
  keySpace: 16,
  keyFor: (i) => ({ id: String(i + 1) }),
  rowFor: (key, token, r) => ({
    ...key,
    name: `n${Math.floor(r() * 1000)}`,
    amount: (Math.floor(r() * 100000) / 100).toFixed(2),
    blob_col: { $b64: Buffer.from([Math.floor(r() * 256), 1, 2]).toString('base64') },
    rev: token,
  }),
};

it('keeps every acknowledged write across every mode transition, with both stores equal at the end', async () => {
  const { mapping, columns } = await fx.mapping('kv');
  const tableId = mapping.sourceId;
  const tables: MigratingTable[] = [];
  const pools = [fx.newPool(3), fx.newPool(3), fx.newPool(3)];
  const transitions: string[] = [];
  const deps = {
    flagStore: fx.flagStore,
    tableId,
    barrier: { timeoutMs: 20_000, livenessMs: 5_000, pollMs: 25 },
    awaitEtlCaughtUp: () => relay.catchUp(),
    reconcile: (rebase: boolean) => reconcileFromDynamo({ pool: fx.pool, dynamo: fx.dynamo, mapping, columns, flagStore: fx.flagStore, rebase }),
  };
  await fx.flagStore.update(tableId, { shadowReadFraction: 0.3 });

  const abort = new AbortController();
  let started = 0;
  const load = runLoad({
    runId: 'nlw',
    instances: 3,
    storeFor: async (instance) => {
      const t = await fx.open('kv', { pool: pools[started++], instanceId: instance });
      tables.push(t);
      return new RoutingAppStore({ kv: t }, { kv: ['id'] });
    },
    tables: [kv],
    mix: { read: 3, insert: 2, update: 4, delete: 1 },
    ratePerInstance: 80,
    concurrency: 3,
    durationMs: 80_000,
    logDir,
    seed: 7,
    signal: abort.signal,
  });

  const dwell = () => new Promise((r) => setTimeout(r, 700));
  const step = async (to: WriteMode) => {
    const r = await stepWriteMode(deps, to);
    transitions.push(`${to}@v${r.flags.version}/${r.instances.length}${r.reconciled ? ` reconciled ${r.reconciled.reappliedKeys}/${r.reconciled.directItems}` : ''}`);
    await dwell();
  };
  const reads = async (readPercent: number) => {
    await fx.flagStore.update(tableId, { readPercent });
    await dwell();
  };

  while (tables.length < 3) await new Promise((r) => setTimeout(r, 20));
  await dwell();
  await step('mysql-primary');
  await reads(50);
  await reads(100);
  await step('fenced');
  await step('dynamo-primary');
  await step('dynamo-only');
  await step('dynamo-primary'); // rollback from dynamo-only: reconcile copies what MySQL missed
  await step('fenced'); // rollback: queues drained
  await step('mysql-primary'); // reconcile + rebase behind the fence
  await reads(30);
  await step('fenced');
  await step('dynamo-primary');
  await step('fenced');
  await step('mysql-primary');
  await step('mysql-only');
  const stats = tables.map((t) => t.stats());
  abort.abort();
  const summary = await load;
  if (process.env.ROUTING_TEST_DEBUG) console.log(JSON.stringify({ transitions, stats, relay: { applied: relay.applied, skipped: relay.skipped }, byKind: summary.byKind }));

  // Quiesce: every instance closed (drained) by the load generator; the CDC stand-in caught up.
  await relay.catchUp();
  expect(relay.error).toBeUndefined();
  expect(summary.failed).toBe(0);
  expect(summary.byKind.update.ok + summary.byKind.insert.ok + summary.byKind.delete.ok).toBeGreaterThan(100);

  const report = await runCheck(summary.logFiles, {
    tables: [
      {
        table: 'kv',
        tokenColumn: 'rev',
        mysql: { table: 'kv', keyColumns: ['id'] },
        dynamo: { tableName: fx.dynamoTable, key: [{ attribute: 'pk', type: 'S', template: 'KV#{id}' }], tokenAttribute: 'rev', itemToRow: (item) => mapping.toRow(item) },
      },
    ],
    mysql: fx.pool,
    dynamo: fx.dynamo,
    initial: 'absent',
    requireAgreement: true,
  });
  if (!report.passed) console.log(JSON.stringify({ transitions, keys: report.keys.slice(0, 5) }, null, 1));
  expect(report.keys).toEqual([]);
  expect(report.passed).toBe(true);
  expect(report.lostWrites).toBe(0);
  expect(report.keysChecked).toBe(16);
  expect(transitions).toHaveLength(12);
  // The fleet's heartbeated counters (retired instances keep theirs): nothing failed in the background.
  const fleet = await routingStats(fx.flagStore, tableId);
  expect(fleet).toMatchObject({ instances: 3, liveInstances: 0, shadowWriteErrors: 0, backgroundWriteErrors: 0, fenceTimeouts: 0, pendingBackground: 0 });
  expect(fleet.readsCompared).toBeGreaterThan(0);
  expect(fleet.shadowWrites).toBeGreaterThan(0);
  expect(fleet.backgroundWrites).toBeGreaterThan(0);
  for (const p of pools) await p.end();
});
