/**
 * One application instance's view of one table's flags: a cache refreshed in the background every `intervalMs` (no
 * request ever waits for the flag store), per-request leases, and the heartbeat the barrier reads.
 *
 * Invariants:
 *  - A request takes one lease and runs entirely under that lease's flags, however the flags change meanwhile.
 *  - The version reported in the heartbeat is the LOWEST version any open lease still holds (or the current one when
 *    none is open), so the barrier cannot pass while a request under an older mode is still in flight here.
 *  - Before `start()` resolves the flags were read once and a heartbeat was written, so a barrier never misses a
 *    serving instance.
 *  - Self-fencing lease: `fresh` turns false when no refresh+heartbeat round has succeeded for `staleMs` (default
 *    half the barrier's liveness window), and MigratingTable holds writes while it is false. The barrier declares an
 *    instance dead only after `livenessMs` without a heartbeat (database clock, stamped after the round started), so
 *    an instance cut off from the flag store stops writing before the barrier stops waiting for it — provided a
 *    single write takes less than livenessMs − staleMs (the usual lease timing assumption).
 *  - After `stop()` no heartbeat is written any more (a refresh round still in flight when it was called included):
 *    a heartbeat landing after `retire` would make a retired instance look alive again, and barriers would wait for
 *    it until its liveness window ran out.
 */
import type { Logger } from 'pino';
import type { TableFlags } from './flags';
import type { InstanceReport } from './flag-store';

/** Where flags come from: the FlagStore, or an OpenFeature client (see ./openfeature.ts). */
export interface FlagSource {
  get(tableId: string): Promise<TableFlags>;
}

/** Where heartbeats go: the FlagStore. */
export interface HeartbeatSink {
  heartbeat(tableId: string, report: InstanceReport): Promise<void>;
  retire(tableId: string, instanceId: string): Promise<void>;
}

export interface FlagWatcherOptions {
  readonly instanceId: string;
  /** How often the flags are re-read and the heartbeat written (default 1000 ms). */
  readonly intervalMs?: number;
  /** Writes hold when the last successful refresh+heartbeat round started longer ago than this (default 5000 ms). */
  readonly staleMs?: number;
  /** Background-queue size and counters to publish with each heartbeat. */
  readonly report: () => { pendingBackground: number; stats: Record<string, number> };
  /** Monotonic clock in ms for freshness (default performance.now; tests inject one). */
  readonly now?: () => number;
  readonly logger?: Logger;
}

/** Caches a table's flags for one instance and heartbeats the version it has applied. */
export class FlagWatcher {
  private current: TableFlags | undefined;
  private readonly open = new Map<number, number>();
  private readonly waiters = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  /** performance.now() at the start of the last round that refreshed and heartbeated successfully. */
  private confirmedAt = -Infinity;
  private beating: Promise<void> | undefined;
  private beatAgain = false;
  private stopped = false;
  private ticking: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly source: FlagSource,
    private readonly sink: HeartbeatSink,
    readonly tableId: string,
    private readonly opts: FlagWatcherOptions,
  ) {
    this.now = opts.now ?? (() => performance.now());
  }

  /** Reads the flags, heartbeats, and starts background refreshing. */
  async start(): Promise<TableFlags> {
    const t0 = this.now();
    this.current = await this.source.get(this.tableId);
    await this.heartbeatNow();
    this.confirmedAt = t0;
    this.timer = setInterval(() => void this.tick(), Math.max(10, this.opts.intervalMs ?? 1000));
    this.timer.unref();
    return this.current;
  }

  /** The cached flags (throws before start). */
  get flags(): TableFlags {
    if (!this.current) throw new Error(`FlagWatcher for ${this.tableId} used before start()`);
    return this.current;
  }

  /** False when the flags could not be confirmed for `staleMs`: writes must hold (see the lease invariant). */
  get fresh(): boolean {
    return this.now() - this.confirmedAt < (this.opts.staleMs ?? 5000); // monotonic: immune to clock steps
  }

  /** The version this instance reports: the lowest still held by an open lease, else the current one. */
  get appliedVersion(): number {
    let v = this.flags.version;
    for (const [version, n] of this.open) if (n > 0 && version < v) v = version;
    return v;
  }

  /**
   * Takes a lease on the current flags and returns them (synchronous, allocation-free: it is on every request's path).
   * Pass the same object to `release` exactly once when the request is done.
   */
  acquire(): TableFlags {
    const flags = this.flags;
    this.open.set(flags.version, (this.open.get(flags.version) ?? 0) + 1);
    return flags;
  }

  /** Ends a lease taken with `acquire`. */
  release(flags: TableFlags): void {
    const n = (this.open.get(flags.version) ?? 1) - 1;
    if (n > 0) {
      this.open.set(flags.version, n);
      return;
    }
    this.open.delete(flags.version);
    // The last request of an older version finished: tell the barrier now rather than at the next beat.
    if (flags.version < this.flags.version) void this.heartbeatNow().catch(() => undefined);
  }

  /**
   * Resolves at the next refresh round or flag change after which the flags differ from `version` or the instance is
   * fresh again, or after `timeoutMs`; returns whether the version changed. Callers loop on their own condition.
   */
  waitForChange(version: number, timeoutMs: number): Promise<boolean> {
    if (this.flags.version !== version) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waiters.delete(done);
        resolve(this.flags.version !== version);
      };
      const t = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  /** Re-reads the flags now (also done every intervalMs). */
  async refresh(): Promise<TableFlags> {
    const next = await this.source.get(this.tableId);
    if (!this.stopped && next.version > this.flags.version) {
      const prev = this.flags;
      this.current = next;
      this.opts.logger?.info({ table: this.tableId, from: prev.version, to: next.version, writeMode: next.writeMode, readPercent: next.readPercent }, 'routing flags applied');
      for (const w of [...this.waiters]) w();
      await this.heartbeatNow();
    }
    return this.flags;
  }

  /** Writes the heartbeat now (coalesces concurrent calls; a call during a write triggers one more write); none after stop. */
  async heartbeatNow(): Promise<void> {
    if (this.stopped) return;
    if (this.beating) {
      this.beatAgain = true;
      return this.beating;
    }
    this.beating = (async () => {
      do {
        this.beatAgain = false;
        const { pendingBackground, stats } = this.opts.report();
        await this.sink.heartbeat(this.tableId, { instanceId: this.opts.instanceId, appliedVersion: this.appliedVersion, pendingBackground, stats });
      } while (this.beatAgain && !this.stopped);
    })().finally(() => {
      this.beating = undefined;
    });
    return this.beating;
  }

  /** Stops refreshing; with `retire`, marks the heartbeat retired so barriers stop waiting for this instance. */
  async stop(opts: { retire?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const w of [...this.waiters]) w();
    // A round in flight ends without heartbeating (heartbeatNow checks `stopped`); wait for it and for a heartbeat
    // already on the wire, so that `retire` below is the last write of this instance.
    await this.ticking;
    await this.beating?.catch(() => undefined);
    if (opts.retire) await this.sink.retire(this.tableId, this.opts.instanceId);
  }

  /** One round (never two at once): re-read the flags, then heartbeat; it counts for freshness only if both succeeded. */
  private tick(): Promise<void> {
    if (this.ticking || this.stopped) return this.ticking ?? Promise.resolve();
    this.ticking = this.round().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async round(): Promise<void> {
    try {
      const t0 = this.now();
      const before = this.flags.version;
      await this.refresh();
      if (this.flags.version === before) await this.heartbeatNow();
      if (this.stopped) return;
      this.confirmedAt = t0;
      for (const w of [...this.waiters]) w();
    } catch (e) {
      this.opts.logger?.warn({ table: this.tableId, err: e }, 'routing flag refresh or heartbeat failed; keeping cached flags');
    }
  }
}
