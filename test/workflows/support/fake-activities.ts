/**
 * In-memory activities implementing MigrationActivities for workflow tests: they record every call, keep a flag
 * store that enforces the routing layer's one-step write-mode rule (src/routing/flags.ts), and can hold a long
 * activity "running" (heartbeating, honouring cancellation within one chunk) until the test releases it.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type {
  BackfillProgress,
  MigrationActivities,
  ShadowStats,
  VerifyProgress,
} from '../../../src/shared/activity-contract';
import { isAllowedWriteStep } from '../../../src/routing/flags';
import type { WriteMode } from '../../../src/shared/phases';

export interface Call {
  readonly name: string;
  readonly input: unknown;
}

export interface FlagState {
  readonly version: number;
  readonly readPercent: number;
  readonly writeMode: WriteMode;
}

/** Knobs a test turns to steer the fake. */
export interface FakeOptions {
  rowsTotal: number;
  rowsPerChunk: number;
  chunksPerSlice: number;
  /** Mismatches each verify run reports, in order (then 0). */
  verifyMismatches: number[];
  /** Shadow stats returned for a given flag state. */
  shadowStats: (f: FlagState) => ShadowStats;
  dlqCount: number;
  /** runBackfill holds (heartbeating) once this many rows are copied, until the test raises it. */
  holdAtRows: number;
}

const CLEAN: ShadowStats = { readsCompared: 100, readMismatches: 0, shadowWrites: 50, shadowWriteErrors: 0, backgroundWrites: 50, backgroundWriteErrors: 0 };

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fake with its recorded calls and controls. */
export class FakeActivities {
  readonly calls: Call[] = [];
  /** Flag history per source table (a plan runs several tables on one fake). */
  private readonly flagsByTable = new Map<string, FlagState[]>();
  private firstTable: string | undefined;
  readonly opts: FakeOptions;
  /** Activities held "running" until released. */
  private readonly held = new Set<string>();
  /** Activities that fail (non-retryable, with this error type) until cleared. */
  readonly failing = new Map<string, string>();

  constructor(opts: Partial<FakeOptions> = {}) {
    this.opts = { rowsTotal: 1000, rowsPerChunk: 100, chunksPerSlice: 4, verifyMismatches: [], shadowStats: () => CLEAN, dlqCount: 0, holdAtRows: Infinity, ...opts };
  }

  hold(name: string): void {
    this.held.add(name);
  }
  release(name: string): void {
    this.held.delete(name);
  }
  names(): string[] {
    return this.calls.map((c) => c.name);
  }
  count(name: string): number {
    return this.calls.filter((c) => c.name === name).length;
  }
  /** The flag history of `table` (default: the first table the fake saw). */
  flagsOf(table = this.firstTable): FlagState[] {
    if (table === undefined) return [{ version: 0, readPercent: 0, writeMode: 'mysql-only' }];
    this.firstTable ??= table;
    let list = this.flagsByTable.get(table);
    if (!list) this.flagsByTable.set(table, (list = [{ version: 0, readPercent: 0, writeMode: 'mysql-only' }]));
    return list;
  }
  get flags(): FlagState[] {
    return this.flagsOf();
  }
  current(table?: string): FlagState {
    const list = this.flagsOf(table);
    return list[list.length - 1];
  }
  /** Write modes in the order they were set (consecutive duplicates collapsed). */
  writeModes(): WriteMode[] {
    return this.flags.map((f) => f.writeMode).filter((m, i, a) => i === 0 || a[i - 1] !== m);
  }

  /** Activities currently held running (test time cannot skip while one runs). */
  busy = 0;

  private async heldLoop(name: string): Promise<boolean> {
    if (!this.held.has(name)) return false;
    this.busy += 1;
    try {
      return await this.heldLoopInner(name);
    } finally {
      this.busy -= 1;
    }
  }

  private async heldLoopInner(name: string): Promise<boolean> {
    while (this.held.has(name)) {
      Context.current().heartbeat();
      if (Context.current().cancellationSignal.aborted) return true;
      await pause(20);
    }
    return false;
  }

  private check(name: string): void {
    const type = this.failing.get(name);
    if (type) throw ApplicationFailure.create({ type, message: `${name} made to fail by the test`, nonRetryable: true });
  }

  activities(): MigrationActivities {
    const rec = (name: string, input: unknown) => {
      this.calls.push({ name, input });
      this.check(name);
    };
    const o = this.opts;
    return {
      preflight: async (input) => {
        rec('preflight', input);
        return { checks: [{ name: 'binlog', ok: true, detail: 'ROW' }], primaryKey: ['id'], estimatedRows: o.rowsTotal, sourcePosition: '0-1-1', targetTable: 'target' };
      },
      ensureTarget: async (input) => (rec('ensureTarget', input), { targetTable: 'target', created: true }),
      startCdc: async (input) => (rec('startCdc', input), { cdcId: 'cdc-1', topic: input.cdc.topic, partitions: input.cdc.partitions, startPosition: '0-1-1', createdTopic: true, createdTask: true }),
      describeCdc: async (input) => (rec('describeCdc', input), { state: 'running', publishedPosition: '0-1-9', lagSeconds: 1, counts: { loads: 0, inserts: 1, updates: 2, deletes: 3 } }),
      stopCdc: async (input) => (rec('stopCdc', input), { state: 'stopped', finalPosition: '0-1-99' }),
      drainCdc: async (input) => {
        rec('drainCdc', input);
        const cancelled = await this.heldLoop('drainCdc');
        return { drained: !cancelled, quietForMs: input.quietMs, etlLagEvents: 0, lastEventPosition: '0-1-99', stoppedBy: cancelled ? 'cancelled' : 'done' };
      },
      runBackfill: async (input) => {
        rec('runBackfill', input);
        let copied = input.rowsCopiedBefore;
        const progress = (stoppedBy: BackfillProgress['stoppedBy']): BackfillProgress => ({
          done: copied >= o.rowsTotal, cursor: String(copied), rowsCopied: copied, rowsTotalEstimate: o.rowsTotal, rowsPerSecond: 100, throttles: 0, stoppedBy,
        });
        for (let i = 0; i < o.chunksPerSlice && copied < o.rowsTotal; i++) {
          if (await this.heldLoop('runBackfill')) return progress('cancelled');
          while (copied >= o.holdAtRows) {
            Context.current().heartbeat(progress('slice-elapsed'));
            if (Context.current().cancellationSignal.aborted) return progress('cancelled');
            await pause(20);
          }
          copied = Math.min(o.rowsTotal, copied + o.rowsPerChunk);
          Context.current().heartbeat(progress('slice-elapsed'));
          if (Context.current().cancellationSignal.aborted) return progress('cancelled');
        }
        return progress(copied >= o.rowsTotal ? 'done' : 'slice-elapsed');
      },
      runEtl: async (input) => {
        rec('runEtl', input);
        while (!Context.current().cancellationSignal.aborted) {
          Context.current().heartbeat();
          await pause(20);
        }
        return { appliedEvents: 10, dlqEvents: 0, stoppedBy: 'cancelled' };
      },
      describeEtl: async (input) => (rec('describeEtl', input), { lagEvents: 0, lagByPartition: [], lagSeconds: 0, dlqCount: o.dlqCount, applyRate: 10, throttles: 0, applyMode: null }),
      awaitEtlCatchUp: async (input) => {
        rec('awaitEtlCatchUp', input);
        const cancelled = await this.heldLoop('awaitEtlCatchUp');
        return { caughtUp: !cancelled, throughPosition: '0-1-50', lagEvents: 0, stoppedBy: cancelled ? 'cancelled' : 'done' };
      },
      setApplyMode: async (input) => (rec('setApplyMode', input), { mode: input.mode, version: this.count('setApplyMode'), consumers: 1 }),
      verify: async (input) => {
        rec('verify', input);
        const cancelled = await this.heldLoop('verify');
        const n = cancelled ? 0 : (o.verifyMismatches.shift() ?? 0);
        const p: VerifyProgress = { done: !cancelled, cursor: cancelled ? '500' : null, rowsCompared: cancelled ? 500 : o.rowsTotal, missing: n, extra: 0, different: 0, reportPath: '/tmp/verify-report.json', stoppedBy: cancelled ? 'cancelled' : 'done' };
        return p;
      },
      repair: async (input) => (rec('repair', input), { keysRequeued: 1 }),
      setRoutingFlags: async (input) => {
        rec('setRoutingFlags', input);
        const table = input.ctx.source.table;
        const cur = this.current(table);
        if (!isAllowedWriteStep(cur.writeMode, input.writeMode)) {
          throw ApplicationFailure.create({ type: 'FlagError', message: `write mode cannot go from ${cur.writeMode} to ${input.writeMode}`, nonRetryable: true });
        }
        this.flagsOf(table).push({ version: cur.version + 1, readPercent: input.readPercent, writeMode: input.writeMode });
        return { version: cur.version + 1 };
      },
      awaitFlagBarrier: async (input) => (rec('awaitFlagBarrier', input), { version: input.version, instances: 2, waitedMs: 1 }),
      readShadowStats: async (input) => (rec('readShadowStats', input), o.shadowStats(this.current(input.ctx.source.table))),
      drainBackgroundWrites: async (input) => (rec('drainBackgroundWrites', input), { pending: 0, reconciledKeys: 0 }),
      cleanup: async (input) => (rec('cleanup', input), { tombstonesDeleted: 3 }),
      abortCleanup: async (input) => (rec('abortCleanup', input), { removed: ['cdc-1', 'topic'], kept: ['target'] }),
    };
  }
}
