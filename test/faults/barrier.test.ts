/**
 * Fault: during a flag change, an application instance is alive (it keeps heartbeating) but does not apply the new
 * flag version: its flag reads are stuck on the version it already had. The barrier must time out with a message
 * naming that instance, and nothing may advance. Recovery, as the issue prescribes it (an operator acts): once the
 * instance is fixed and the operator approves, the barrier passes and the migration runs to `complete`, every later
 * flag change passing its real barrier with both instances. No writes are involved (there is no data path here).
 *
 * Real parts: the workflow's code (time-skipping server), the production `setRoutingFlags` and `awaitFlagBarrier`
 * activities (src/activities/parts/routing.ts, wrapped by createMigrationActivities as a worker wraps them) on a real
 * MySQL flag store, and two real FlagWatchers (the component of every MigratingTable that heartbeats the applied
 * version): `app-ok` healthy, `app-stuck` whose flag source keeps answering the old version. Every other activity is
 * the workflow tests' fake (no data path is needed to reach the first flag change).
 *
 * The second test is the other reading of "stops heartbeating": an instance cut off from the flag store (its flag
 * reads and heartbeats fail) is silent. After the liveness window (10 s) the barrier treats it as dead and passes,
 * because by then it has fenced itself: its FlagWatcher is no longer `fresh` after staleMs (5 s), and MigratingTable
 * holds writes while it is not (test/integration/routing/behaviour.test.ts). See docs/reliability.md, "Flag barrier:
 * an instance that goes silent".
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type * as mysql from 'mysql2/promise';
import { createMigrationActivities } from '../../src/activities/migration';
import { createRoutingParts } from '../../src/activities/parts/routing';
import type { PartClients } from '../../src/activities/parts/common';
import { createLogger } from '../../src/infra/logger';
import { createSourcePool } from '../../src/pipeline/backfill/source-pool';
import { FlagStore, type InstanceReport } from '../../src/routing/flag-store';
import { FlagWatcher, type FlagSource, type HeartbeatSink } from '../../src/routing/flag-watcher';
import type { TableFlags } from '../../src/routing/flags';
import type { MigrationActivities } from '../../src/shared/activity-contract';
import { approveSignal, statusQuery } from '../../src/shared/messages';
import { tableMigrationWorkflow } from '../../src/workflows';
import { uniqueName } from '../support/ids';
import { createEnv, FakeActivities, makeWorker, testConfig, waitForStatus } from '../workflows/support/harness';
import { record } from './support/record';

jest.setTimeout(120_000);

/** The fake activities, with the flag store's two activities real. */
class RealBarrierFake extends FakeActivities {
  constructor(private readonly real: MigrationActivities) {
    super();
  }
  override activities(): MigrationActivities {
    const a = super.activities();
    const track = <K extends 'setRoutingFlags' | 'awaitFlagBarrier'>(name: K): MigrationActivities[K] =>
      (async (input: never) => {
        this.calls.push({ name, input });
        this.busy += 1; // a real activity runs in real time: waitForStatus must not skip test time meanwhile
        try {
          return await (this.real[name] as (i: never) => Promise<unknown>)(input);
        } finally {
          this.busy -= 1;
        }
      }) as MigrationActivities[K];
    return { ...a, setRoutingFlags: track('setRoutingFlags'), awaitFlagBarrier: track('awaitFlagBarrier') };
  }
}

/** A flag store connection that can be cut: reads and heartbeats fail while `cut` is true. */
class CuttableStore implements FlagSource, HeartbeatSink {
  cut = false;
  constructor(private readonly store: FlagStore) {}
  private check(): void {
    if (this.cut) throw new Error('connect ECONNREFUSED (flag store unreachable)');
  }
  async get(tableId: string): Promise<TableFlags> {
    this.check();
    return this.store.get(tableId);
  }
  async heartbeat(tableId: string, report: InstanceReport): Promise<void> {
    this.check();
    return this.store.heartbeat(tableId, report);
  }
  async retire(tableId: string, instanceId: string): Promise<void> {
    this.check();
    return this.store.retire(tableId, instanceId);
  }
}

/** A flag source frozen on the first answer while `stuck` is true (an instance whose flag refresh is wedged). */
class StuckSource implements FlagSource {
  stuck = true;
  private first: TableFlags | undefined;
  constructor(private readonly store: FlagStore) {}
  async get(tableId: string): Promise<TableFlags> {
    const now = await this.store.get(tableId);
    this.first ??= now;
    return this.stuck ? this.first : now;
  }
}

let env: TestWorkflowEnvironment;
let pool: mysql.Pool;
const schema = uniqueName('fp_barrier');
beforeAll(async () => {
  env = await createEnv();
  pool = createSourcePool({ connectionLimit: 4 });
  await pool.query(`CREATE DATABASE \`${schema}\``);
});
afterAll(async () => {
  await pool?.query(`DROP DATABASE IF EXISTS \`${schema}\``);
  await pool?.end();
  await env?.teardown();
});

test('a live instance that does not apply the new flag version: the real barrier times out naming it, nothing advances until approve; after the fix and approve the migration completes', async () => {
  const store = new FlagStore(pool, schema);
  await store.ensureSchema();
  // setRoutingFlags and awaitFlagBarrier use only the flag store (and its pool) of the worker's clients
  const clients = { pool, flagStore: store } as unknown as PartClients;
  const real = createMigrationActivities({ parts: createRoutingParts(clients), logger: createLogger('barrier-test') });
  const fake = new RealBarrierFake(real);
  const table = uniqueName('t');
  const tableId = `shop.${table}`;
  const report = () => ({ pendingBackground: 0, stats: {} });
  const stuckSource = new StuckSource(store);
  const ok = new FlagWatcher(store, store, tableId, { instanceId: 'app-ok', intervalMs: 200, report });
  const stuck = new FlagWatcher(stuckSource, store, tableId, { instanceId: 'app-stuck', intervalMs: 200, report });
  await ok.start();
  await stuck.start();
  const { worker, taskQueue } = await makeWorker(env, fake);
  try {
    await worker.runUntil(async () => {
      const config = testConfig(table, { barrierTimeoutMs: 3_000 });
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config }] });
      const blocked = await waitForStatus(env, handle, (s) => s.awaiting?.problem === true, 'barrier failure surfaced', 2_000, 600, fake);
      expect(blocked.awaiting?.gate).toMatch(/^flag barrier v1$/);
      expect(blocked.awaiting?.reason).toMatch(new RegExp(`flag barrier v1 failed: .*flag version 1 not applied after \\d+ ms by 1 instance\\(s\\): ${tableId.replace(/\./g, '\\.')}@app-stuck \\(at 0\\)`));
      expect(blocked.awaiting?.reason).not.toMatch(/app-ok/);
      // the healthy instance did apply v1; the stuck one is alive and still reports the old version
      const before = await store.instances(tableId);
      expect(before.map((i) => [i.instanceId, i.live, i.appliedVersion]).sort()).toEqual([['app-ok', true, 1], ['app-stuck', true, 0]]);

      // nothing advances: an hour of (skipped) time later, same phase, same flags in the status and in the real store
      await env.sleep(3_600_000);
      const later = await handle.query(statusQuery);
      expect({ phase: later.phase, flagVersion: later.flagVersion, readPercent: later.readPercent, gate: later.awaiting?.gate }).toEqual({
        phase: blocked.phase, flagVersion: 1, readPercent: blocked.readPercent, gate: 'flag barrier v1',
      });
      expect((await store.get(tableId)).version).toBe(1);
      expect(fake.count('setRoutingFlags')).toBe(1);

      // the instance is fixed (its flag reads work again), the operator approves: the barrier passes, the ladder goes on
      stuckSource.stuck = false;
      const tApprove = Date.now();
      await handle.signal(approveSignal, { by: 'ops', gate: later.awaiting!.gate });
      const moving = await waitForStatus(env, handle, (s) => s.flagVersion >= 2, 'next flag change', 2_000, 600, fake);
      const barrierPassedMs = Date.now() - tApprove;
      expect(moving.awaiting?.gate ?? null).not.toBe('flag barrier v1');
      // v1's barrier ran twice: the attempt that timed out and the one after the approve that passed (v2's barrier may
      // or may not have started yet when the status shows flag version 2, so it is not counted here)
      const v1Barriers = fake.calls.filter((c) => c.name === 'awaitFlagBarrier' && (c.input as { version: number }).version === 1);
      expect(v1Barriers).toHaveLength(2);

      // end to end: the migration runs to completion with no further operator action, every later flag change passing
      // its real barrier with both instances (the fixed one included) on each new version
      const done = await waitForStatus(env, handle, (s) => s.phase === 'complete' || s.awaiting !== null, 'migration complete', 2_000, 2_000, fake);
      expect(done.awaiting).toBeNull();
      expect({ phase: done.phase, readPercent: done.readPercent, writeMode: done.writeMode }).toEqual({ phase: 'complete', readPercent: 100, writeMode: 'dynamo-only' });
      expect((await handle.result()).phase).toBe('complete');
      const completeMs = Date.now() - tApprove;
      const final = await store.get(tableId);
      expect(final.version).toBe(done.flagVersion);
      expect(final.version).toBeGreaterThan(2);
      const after = await store.instances(tableId);
      expect(after.map((i) => [i.instanceId, i.live, i.appliedVersion]).sort()).toEqual([['app-ok', true, final.version], ['app-stuck', true, final.version]]);
      // one flag write per version: the stuck barrier did not make the workflow write v1 again or skip a version
      expect(fake.count('setRoutingFlags')).toBe(final.version);
      record({
        fault: 'Flag barrier: a live application instance stuck on the old flag version',
        phase: 'first flag change (read cut-over, v1)',
        recovered: true,
        outcome: `stopped safely at gate "flag barrier v1" (timed out naming the instance; no flag change for 1 h of skipped time); after the instance was fixed and the operator approved, barrier v1 passed ${barrierPassedMs} ms later (wall clock) and the migration completed (flag v${final.version}, both instances on it) ${completeMs} ms after the approve (soaks skipped by the time-skipping server)`,
        recoverMs: barrierPassedMs,
        writesLost: 0, // no data path in this test: no writes are involved
        mismatches: 0,
        command: 'npx jest test/faults/barrier.test.ts (workflow on the time-skipping server, real flag store and barrier activities, no data path)',
      });
    });
  } finally {
    await ok.stop();
    await stuck.stop();
  }
});

test('an instance cut off from the flag store (silent) has self-fenced before the real barrier stops waiting for it; the barrier passes', async () => {
  const store = new FlagStore(pool, schema);
  await store.ensureSchema();
  const clients = { pool, flagStore: store } as unknown as PartClients;
  const real = createMigrationActivities({ parts: createRoutingParts(clients), logger: createLogger('barrier-test') });
  const fake = new RealBarrierFake(real);
  const table = uniqueName('t');
  const tableId = `shop.${table}`;
  const report = () => ({ pendingBackground: 0, stats: {} });
  const link = new CuttableStore(store);
  const ok = new FlagWatcher(store, store, tableId, { instanceId: 'app-ok', intervalMs: 200, report });
  const silent = new FlagWatcher(link, link, tableId, { instanceId: 'app-silent', intervalMs: 200, report });
  await ok.start();
  await silent.start();
  link.cut = true;
  const { worker, taskQueue } = await makeWorker(env, fake);
  try {
    await worker.runUntil(async () => {
      const config = testConfig(table, { barrierTimeoutMs: 30_000 });
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config }] });
      const moving = await waitForStatus(env, handle, (s) => s.flagVersion >= 2 || s.awaiting?.problem === true, 'barrier v1 passed', 2_000, 2_000, fake);
      expect(moving.awaiting?.problem ?? false).toBe(false);
      expect(moving.flagVersion).toBeGreaterThanOrEqual(2);
      // the silent instance never applied v1, is no longer live for the barrier, and has fenced itself (writes hold)
      const seen = await store.instances(tableId);
      expect(seen.find((i) => i.instanceId === 'app-silent')).toMatchObject({ live: false, appliedVersion: 0 });
      expect(silent.fresh).toBe(false);
      expect(silent.flags.version).toBe(0);
      expect(ok.fresh).toBe(true);
      await handle.terminate('test done');
    });
  } finally {
    await ok.stop();
    link.cut = false;
    await silent.stop();
  }
});
