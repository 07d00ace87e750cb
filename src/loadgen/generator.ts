/**
 * The load generator: N in-process application instances, each issuing reads, inserts, updates and deletes at a
 * paced rate and a configured mix over a key space, through its own `AppStore`, logging every operation
 * (src/checker/log-format.ts) to its own file.
 *
 * Guarantees:
 *  - bounded: stops after `durationMs` or `maxOpsPerInstance` operations per instance, whichever comes first (or
 *    when `signal` aborts), and waits for every request in flight before resolving;
 *  - every insert/update writes a full row whose token column holds `<runId>:<instance>:<op>`, unique in the run;
 *  - a write's invoke line is logged before its request is sent, its complete line after the answer;
 *  - key and kind choices come from a seeded PRNG per instance, so a run's request sequence is reproducible.
 */
import { nowMs, type CompleteRecord, type OpKind } from '../checker/log-format';
import type { Row } from '../pipeline/types';
import type { AppStore, WriteOutcome } from './app-store';
import { LoadMetrics, summarize, type LatencySummary } from './metrics';
import { OpLogWriter } from './op-log';

/** A table the load runs against. */
export interface LoadTable {
  readonly name: string;
  /** Keys are `keyFor(i)` for i in [0, keySpace). */
  readonly keySpace: number;
  keyFor(i: number): Row;
  /** A full row (all columns the app writes) for `key` whose token column holds `token`. */
  rowFor(key: Row, token: string, random: () => number): Row;
  /** Relative share of requests; default 1. */
  readonly weight?: number;
}

/** Relative weights of the request kinds (need not sum to 1). */
export type Mix = Readonly<Record<OpKind, number>>;

/** A bounded load run: who, what, how fast, how long, where the logs go. */
export interface LoadOptions {
  readonly runId: string;
  readonly instances: number;
  /** Each instance's store (e.g. its own routing-layer instance); closed by the generator at the end. */
  storeFor(instance: string): AppStore | Promise<AppStore>;
  readonly tables: readonly LoadTable[];
  readonly mix: Mix;
  /** Target requests per second per instance. */
  readonly ratePerInstance: number;
  /** Requests in flight per instance. Default 4. */
  readonly concurrency?: number;
  readonly durationMs: number;
  readonly maxOpsPerInstance?: number;
  readonly logDir: string;
  readonly seed?: number;
  /** Contention: with `probability`, a request picks one of the first `hotKeys` keys of its table. */
  readonly skew?: { readonly hotKeys: number; readonly probability: number };
  readonly signal?: AbortSignal;
  /** Called for every completed request (after it is logged). */
  onComplete?(record: CompleteRecord): void;
}

/** What a run did: log files, outcome counts, latency percentiles (hdr) and the full metrics. */
export interface LoadSummary {
  readonly logFiles: string[];
  readonly requests: number;
  readonly ok: number;
  readonly failed: number;
  readonly byKind: Record<OpKind, { ok: number; failed: number }>;
  readonly read: LatencySummary;
  readonly write: LatencySummary;
  readonly elapsedMs: number;
  readonly metrics: LoadMetrics;
}

/** A small seeded PRNG (mulberry32), uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pickWeighted<T>(items: readonly T[], weight: (t: T) => number, r: number): T {
  const total = items.reduce((s, t) => s + weight(t), 0);
  let x = r * total;
  for (const t of items) if ((x -= weight(t)) < 0) return t;
  return items[items.length - 1];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs the load to completion and returns what happened. */
export async function runLoad(opts: LoadOptions): Promise<LoadSummary> {
  if (opts.instances < 1 || opts.ratePerInstance <= 0 || opts.durationMs <= 0) throw new RangeError('runLoad: instances ≥ 1, ratePerInstance > 0 and durationMs > 0 are required');
  if (opts.tables.length === 0) throw new RangeError('runLoad: no tables');
  const kinds = (Object.keys(opts.mix) as OpKind[]).filter((k) => opts.mix[k] > 0);
  if (kinds.length === 0) throw new RangeError('runLoad: the mix has no positive weight');
  const t0 = nowMs();
  const deadline = t0 + opts.durationMs;
  const metrics = new LoadMetrics(t0);
  const byKind: LoadSummary['byKind'] = { read: { ok: 0, failed: 0 }, insert: { ok: 0, failed: 0 }, update: { ok: 0, failed: 0 }, delete: { ok: 0, failed: 0 } };
  const logFiles: string[] = [];

  const instance = async (index: number): Promise<void> => {
    const name = `${opts.runId}-app${index + 1}`;
    const log = new OpLogWriter(opts.logDir, name);
    logFiles.push(log.file);
    const store = await opts.storeFor(name);
    const random = seededRandom((opts.seed ?? 1) * 7919 + index);
    const interval = 1000 / opts.ratePerInstance;
    const concurrency = opts.concurrency ?? 4;
    let nextAt = nowMs();
    let issued = 0;
    let op = 0;
    const done = (): boolean => opts.signal?.aborted === true || nowMs() >= deadline || (opts.maxOpsPerInstance !== undefined && issued >= opts.maxOpsPerInstance);

    const one = async (): Promise<void> => {
      const table = pickWeighted(opts.tables, (t) => t.weight ?? 1, random());
      const kind = pickWeighted(kinds, (k) => opts.mix[k], random());
      const hot = opts.skew !== undefined && random() < opts.skew.probability;
      const key = table.keyFor(Math.floor(random() * (hot ? Math.min(opts.skew!.hotKeys, table.keySpace) : table.keySpace)));
      const id = ++op;
      const token = `${opts.runId}:${name}:${id}`;
      const value = kind === 'insert' || kind === 'update' ? table.rowFor(key, token, random) : undefined;
      const base = { v: 1 as const, instance: name, op: id, kind, table: table.name, key, start: nowMs() };
      if (kind !== 'read') log.write({ ...base, phase: 'invoke', value });
      let rec: CompleteRecord;
      try {
        let outcome: WriteOutcome | undefined;
        let read: Row | null | undefined;
        if (kind === 'read') read = await store.get(table.name, key);
        else if (kind === 'insert') outcome = await store.insert(table.name, value!);
        else if (kind === 'update') outcome = await store.update(table.name, value!);
        else outcome = await store.delete(table.name, key);
        rec = { ...base, phase: 'complete', end: nowMs(), result: 'ok', applied: outcome?.applied, value: kind === 'read' ? read : value };
      } catch (err) {
        const e = err as Error;
        rec = { ...base, phase: 'complete', end: nowMs(), result: 'failed', value, error: { name: e?.name ?? 'Error', message: String(e?.message ?? err) } };
      }
      log.write(rec);
      byKind[kind][rec.result === 'ok' ? 'ok' : 'failed']++;
      metrics.record(kind, rec.result === 'ok', rec.start, rec.end);
      opts.onComplete?.(rec);
    };

    const worker = async (): Promise<void> => {
      while (!done()) {
        const now = nowMs();
        nextAt = Math.max(nextAt, now - interval * concurrency); // never burst to catch up more than one round
        const at = nextAt;
        nextAt += interval;
        if (at > now) await sleep(at - now);
        if (done()) return;
        issued++;
        await one();
      }
    };
    try {
      await Promise.all(Array.from({ length: concurrency }, worker));
    } finally {
      log.close();
      await store.close();
    }
  };

  await Promise.all(Array.from({ length: opts.instances }, (_, i) => instance(i)));
  const ok = metrics.ok;
  const failed = metrics.failed;
  return { logFiles, requests: ok + failed, ok, failed, byKind, read: summarize(metrics.read), write: summarize(metrics.write), elapsedMs: nowMs() - t0, metrics };
}
