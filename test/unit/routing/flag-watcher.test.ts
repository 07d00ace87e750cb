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

function make(m: ReturnType<typeof memory>, staleMs = 5000, now?: () => number): FlagWatcher {
  const w = new FlagWatcher(m.source, m.sink, 'db.t', { instanceId: 'i1', intervalMs: 100_000, staleMs, now, report: () => ({ pendingBackground: 0, stats: {} }) });
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
  // A controlled clock: freshness is a statement about elapsed time, and a loaded machine must not decide it.
  let clock = 1_000;
  const m = memory();
  const w = make(m, 50, () => clock);
  const tick = () => (w as unknown as { tick(): Promise<void> }).tick();
  await w.start();
  clock += 49;
  expect(w.fresh).toBe(true);
  m.fail.on = true;
  await tick(); // a failed round does not confirm
  clock += 1;
  expect(w.fresh).toBe(false);
  m.fail.on = false;
  await tick();
  expect(w.fresh).toBe(true);
  clock += 49;
  expect(w.fresh).toBe(true); // confirmed as of the start of the last successful round
});

it('writes no heartbeat after stop, not even from a refresh round that was in flight (it would un-retire the instance)', async () => {
  const m = memory();
  let releaseGet: (() => void) | undefined;
  const slow: FlagSource = { get: (id) => (releaseGet ? m.source.get(id) : new Promise((r) => (releaseGet = () => r(m.source.get(id))))) };
  const retired: string[] = [];
  const sink: HeartbeatSink = { heartbeat: m.sink.heartbeat, retire: async (_t, id) => void retired.push(`retired ${id}`) };
  const w = new FlagWatcher(slow, sink, 'db.t', { instanceId: 'i9', intervalMs: 100_000, report: () => ({ pendingBackground: 0, stats: {} }) });
  releaseGet = () => undefined; // start() reads at once
  await w.start();
  const beatsAtStart = m.beats.length;
  releaseGet = undefined; // the next read hangs until released
  const round = (w as unknown as { tick(): Promise<void> }).tick();
  await new Promise((r) => setImmediate(r));
  const stopping = w.stop({ retire: true });
  (releaseGet as unknown as () => void)();
  await Promise.all([round, stopping]);
  w.release(w.acquire()); // a request ending after stop does not heartbeat either
  await w.heartbeatNow();
  expect(m.beats.length).toBe(beatsAtStart);
  expect(retired).toEqual(['retired i9']);
});
