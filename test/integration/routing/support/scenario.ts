/**
 * The no-lost-write scenario shared by the stand-in and the real-CDC variants: three in-process application
 * instances (own pools, own heartbeats) run the load generator over 16 shared keys while the write mode steps
 * forward and back through every transition — both fences, the rollback from dynamo-only and the rollback from
 * dynamo-primary to mysql-primary — reads move between stores and 30 % of reads are shadow-compared. `cdc` is
 * whatever carries the binlog to DynamoDB; `catchUp` resolves once it applied everything up to the binlog's current
 * end. Returns the independent checker's report and what happened.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCheck, type CheckReport } from '../../../../src/checker/check';
import { runLoad, type LoadSummary, type LoadTable } from '../../../../src/loadgen/generator';
import { RoutingAppStore } from '../../../../src/routing/app-store';
import { routingStats, type RoutingStats } from '../../../../src/routing/control';
import type { WriteMode } from '../../../../src/routing/flags';
import type { MigratingTable } from '../../../../src/routing/migrating-table';
import { reconcileFromDynamo } from '../../../../src/routing/reconcile';
import { stepWriteMode } from '../../../../src/routing/transitions';
import type { Fixture } from './fixture';

/** The scenario's table: run `createFixture` with these. */
export const KV_DDL = ['CREATE TABLE kv (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, amount DECIMAL(10,2), blob_col VARBINARY(16), rev VARCHAR(96) NOT NULL)'];
export const KV_MAPPING = { kv: { partitionKey: { attribute: 'pk', template: 'KV#{id}' }, nulls: 'null' as const } };

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

export interface ScenarioResult {
  readonly report: CheckReport;
  readonly summary: LoadSummary;
  readonly transitions: string[];
  readonly fleet: RoutingStats;
  /** The first few failed requests, with their errors (for the test's failure message). */
  readonly failures: { kind: string; key: unknown; error?: { name: string; message: string } }[];
}

export async function runTransitionScenario(fx: Fixture, cdc: { catchUp(): Promise<void> }, opts: { dwellMs?: number; reconcileAfterDynamoOnly?: boolean } = {}): Promise<ScenarioResult> {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-routing-'));
  try {
    const { mapping, columns } = await fx.mapping('kv');
    const tableId = mapping.sourceId;
    const tables: MigratingTable[] = [];
    const pools = [fx.newPool(3), fx.newPool(3), fx.newPool(3)];
    const transitions: string[] = [];
    const failures: ScenarioResult['failures'] = [];
    const deps = {
      flagStore: fx.flagStore,
      tableId,
      barrier: { timeoutMs: 30_000, livenessMs: 10_000, pollMs: 25 }, // liveness − staleness (3 s) leaves a 7 s lease margin
      awaitEtlCaughtUp: () => cdc.catchUp(),
      reconcileAfterDynamoOnly: opts.reconcileAfterDynamoOnly,
      reconcile: (rebase: boolean) => reconcileFromDynamo({ pool: fx.pool, dynamo: fx.dynamo, mapping, columns, flagStore: fx.flagStore, rebase }),
    };
    await fx.flagStore.update(tableId, { shadowReadFraction: 0.3 });

    const abort = new AbortController();
    let started = 0;
    const load = runLoad({
      runId: 'nlw',
      instances: 3,
      storeFor: async (instance) => {
        const t = await fx.open('kv', { pool: pools[started++], instanceId: instance, fenceTimeoutMs: 45_000 }); // held, not failed, through slow fences
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
      onComplete: (r) => {
        if (r.result === 'failed' && failures.length < 10) failures.push({ kind: r.kind, key: r.key, error: r.error });
      },
    });

    const dwell = () => new Promise((r) => setTimeout(r, opts.dwellMs ?? 700));
    const step = async (to: WriteMode) => {
      const r = await stepWriteMode(deps, to);
      transitions.push(`${to}@v${r.flags.version}/${r.instances.length}${r.reconciled ? ` reconciled ${r.reconciled.reappliedKeys}/${r.reconciled.directItems}` : ''}`);
      await dwell();
    };
    const reads = async (readPercent: number) => {
      await fx.flagStore.update(tableId, { readPercent });
      await dwell();
    };

    try {
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
    } catch (e) {
      abort.abort();
      await load.catch(() => undefined);
      throw new Error(`transition failed after [${transitions.join(', ')}]: ${(e as Error).message}`, { cause: e });
    }
    abort.abort();
    const summary = await load;
    for (const p of pools) await p.end();
    await cdc.catchUp(); // every instance was closed (drained) by the load generator; now CDC is caught up too

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
    return { report, summary, transitions, failures, fleet: await routingStats(fx.flagStore, tableId) };
  } finally {
    fs.rmSync(logDir, { recursive: true, force: true });
  }
}
