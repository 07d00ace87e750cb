/** FlagWatcher leases and reporting, with an in-memory flag source and heartbeat sink (no I/O). */
import { FlagWatcher, type FlagSource, type HeartbeatSink } from '../../../src/routing/flag-watcher';
import { DEFAULT_FLAGS, type TableFlags } from '../../../src/routing/flags';
import type { InstanceReport } from '../../../src/routing/flag-store';

function memory(): { source: FlagSource; sink: HeartbeatSink; set(f: Partial<TableFlags>): void; beats: InstanceReport[]; fail: { on: boolean } } {
  let flags: TableFlags = DEFAULT_FLAGS;
  const beats: InstanceReport[] = [];
  const fail = { on: false };
  return {
    source: { get: async () => (fail.on ? Promise.reject(new Error('flag store down')) : flags) },
    sink: { heartbeat: async (_t, r) => void beats.push(r), retire: async () => undefined },
    set: (f) => (flags = { ...flags, ...f, version: flags.version + 1 }),
    beats,
    fail,
  };
}

const watchers: FlagWatcher[] = [];
afterEach(async () => {
  for (const w of watchers.splice(0)) await w.stop();
});

function make(m: ReturnType<typeof memory>, staleMs = 5000): FlagWatcher {
  const w = new FlagWatcher(m.source, m.sink, 'db.t', { instanceId: 'i1', intervalMs: 100_000, staleMs, report: () => ({ pendingBackground: 0, stats: {} }) });
  watchers.push(w);
  return w;
}

it('reports the lowest version an open lease holds, and heartbeats as soon as the last old lease ends', async () => {
  const m = memory();
  const w = make(m);
  await w.start();
  const old = w.acquire();
  m.set({ writeMode: 'mysql-primary' });
  await w.refresh();
  const fresh = w.acquire();
  expect(old.version).toBe(0);
  expect(fresh).toMatchObject({ version: 1, writeMode: 'mysql-primary' });
  expect(w.appliedVersion).toBe(0);
  expect(m.beats.at(-1)?.appliedVersion).toBe(0);
  w.release(old);
  await w.heartbeatNow();
  expect(w.appliedVersion).toBe(1);
  expect(m.beats.at(-1)?.appliedVersion).toBe(1);
  w.release(fresh);
});

it('never applies a lower version than it runs', async () => {
  const m = memory();
  m.set({ readPercent: 10 });
  m.set({ readPercent: 20 });
  const w = make(m);
  await w.start();
  expect(w.flags.version).toBe(2);
  const lower: FlagSource = { get: async () => ({ ...DEFAULT_FLAGS, version: 1 }) };
  const w2 = new FlagWatcher(lower, m.sink, 'db.t', { instanceId: 'i2', report: () => ({ pendingBackground: 0, stats: {} }) });
  (w2 as unknown as { current: TableFlags }).current = w.flags;
  await w2.refresh();
  expect(w2.flags.version).toBe(2);
});

it('is not fresh once refreshes fail for longer than staleMs (writes must hold), and recovers', async () => {
  const m = memory();
  const w = make(m, 50);
  await w.start();
  expect(w.fresh).toBe(true);
  m.fail.on = true;
  await new Promise((r) => setTimeout(r, 80));
  expect(w.fresh).toBe(false);
  m.fail.on = false;
  await (w as unknown as { tick(): Promise<void> }).tick();
  expect(w.fresh).toBe(true);
});
