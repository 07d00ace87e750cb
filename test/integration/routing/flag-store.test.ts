/**
 * The flag store and barrier on real MariaDB: versions rise by one per change (compare-and-set, idempotent for the
 * state in force, history kept), illegal write-mode steps are refused, and the barrier waits for every live instance
 * — including one whose in-flight request still runs under the old version — names the laggards on timeout,
 * ignores dead instances, and (requireDrained) waits for background queues.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { FlagBarrierTimeoutError } from '../../../src/shared/errors';
import { FlagError, FlagVersionConflictError } from '../../../src/routing/errors';
import { FlagWatcher } from '../../../src/routing/flag-watcher';
import { createFixture, type Fixture } from './support/fixture';

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture('rt_flags', ['CREATE TABLE t (id INT PRIMARY KEY)'], { t: { partitionKey: { attribute: 'pk', template: '{id}' }, nulls: 'omit' } });
});
afterAll(() => fx?.close());

const watchers: FlagWatcher[] = [];
afterEach(async () => {
  for (const w of watchers.splice(0)) await w.stop({ retire: true });
});

function watcher(tableId: string, instanceId: string, pending = () => 0): FlagWatcher {
  const w = new FlagWatcher(fx.flagStore, fx.flagStore, tableId, { instanceId, intervalMs: 50, report: () => ({ pendingBackground: pending(), stats: {} }) });
  watchers.push(w);
  return w;
}

it('versions flags by compare-and-set, keeps history, is idempotent and refuses skipped steps', async () => {
  const id = `${fx.db}.a`;
  expect(await fx.flagStore.get(id)).toMatchObject({ version: 0, writeMode: 'mysql-only', readPercent: 0 });
  const v1 = await fx.flagStore.update(id, { readPercent: 10 }, { note: 'canary' });
  expect(v1).toMatchObject({ version: 1, readPercent: 10 });
  expect((await fx.flagStore.update(id, { readPercent: 10 })).version).toBe(1); // same state: no new version
  await expect(fx.flagStore.update(id, { writeMode: 'mysql-primary' }, { expectedVersion: 0 })).rejects.toBeInstanceOf(FlagVersionConflictError);
  await expect(fx.flagStore.update(id, { writeMode: 'dynamo-primary' })).rejects.toBeInstanceOf(FlagError);
  await expect(fx.flagStore.update(id, { readPercent: 101 })).rejects.toThrow(/readPercent/);
  expect((await fx.flagStore.update(id, { writeMode: 'mysql-primary' }, { expectedVersion: 1 })).version).toBe(2);
  const [rows] = await fx.pool.query<RowDataPacket[]>(`SELECT version, note FROM ${fx.flagStore.historyTable} WHERE table_id = ? ORDER BY version`, [id]);
  expect(rows.map((r) => [Number(r.version), r.note])).toEqual([
    [1, 'canary'],
    [2, null],
  ]);
});

it('barrier: waits for an in-flight request under the old version, then passes', async () => {
  const id = `${fx.db}.b`;
  const a = watcher(id, 'app-a');
  const b = watcher(id, 'app-b');
  await a.start();
  await b.start();
  const lease = b.acquire(); // a request on b still running under version 0
  const v = await fx.flagStore.update(id, { writeMode: 'mysql-primary' });
  await a.refresh();
  await b.refresh();
  expect(b.flags.version).toBe(v.version); // new requests on b already use the new flags...
  expect(b.appliedVersion).toBe(0); // ...but b reports the old one while the old request runs
  const err = await fx.flagStore.awaitBarrier(id, v.version, { timeoutMs: 300, pollMs: 20 }).catch((e) => e);
  expect(err).toBeInstanceOf(FlagBarrierTimeoutError);
  expect(err.message).toContain('app-b');
  expect(err.message).not.toContain('app-a');
  expect(err.laggards).toEqual([{ instance: `${id}@app-b`, appliedVersion: 0 }]);
  const passing = fx.flagStore.awaitBarrier(id, v.version, { timeoutMs: 5000, pollMs: 20 });
  b.release(lease);
  expect((await passing).map((s) => s.instanceId)).toEqual(['app-a', 'app-b']);
});

it('barrier: ignores instances whose heartbeat is older than the liveness window; requireDrained waits for queues', async () => {
  const id = `${fx.db}.c`;
  const dead = watcher(id, 'app-dead');
  await dead.start();
  await dead.stop(); // stops heartbeating without retiring: looks like a crash
  let pending = 3;
  const live = watcher(id, 'app-live', () => pending);
  await live.start();
  const v = await fx.flagStore.update(id, { writeMode: 'mysql-primary' });
  await live.refresh();
  // The dead instance's last heartbeat precedes this pause (a stopped watcher writes none), so it is older than the
  // liveness window by construction; the window itself is 30 heartbeat intervals, so the live instance stays live
  // even when a loaded machine delays a few heartbeats.
  const livenessMs = 1500;
  await new Promise((r) => setTimeout(r, livenessMs + 100));
  expect((await fx.flagStore.awaitBarrier(id, v.version, { timeoutMs: 2000, livenessMs, pollMs: 20 })).map((s) => s.instanceId)).toEqual(['app-live']);
  await expect(fx.flagStore.awaitBarrier(id, v.version, { timeoutMs: 300, livenessMs, requireDrained: true, pollMs: 20 })).rejects.toThrow(/app-live \[3 background writes pending\]/);
  pending = 0;
  await expect(fx.flagStore.awaitBarrier(id, v.version, { timeoutMs: 3000, livenessMs, requireDrained: true, pollMs: 20 })).resolves.toHaveLength(1);
  const statuses = await fx.flagStore.instances(id, 300);
  expect(statuses.find((s) => s.instanceId === 'app-dead')?.live).toBe(false);
  await live.stop({ retire: true });
  expect(await fx.flagStore.forgetTable(id)).toEqual({ rowVersions: 0, instances: 2 });
  expect(await fx.flagStore.instances(id)).toEqual([]);
  expect((await fx.flagStore.get(id)).version).toBe(v.version); // flags and history stay
});
