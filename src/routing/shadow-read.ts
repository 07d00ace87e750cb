/**
 * Shadow reads, as GitHub's Scientist runs experiments: for a sampled fraction of reads the other store is read
 * too, after the response is settled, and the two results are compared as canonical rows.
 *
 * Invariants:
 *  - The response and its error are exactly the primary's: the comparison starts only after the primary read has
 *    settled, runs detached (`run` returns nothing to await) and every failure inside it is caught and counted.
 *  - Its latency is never added to a response; at most `maxConcurrent` comparisons run at once and a sample that
 *    finds no free slot is skipped and counted (`shadowReadsSkipped`), so a slow secondary cannot pile up work.
 *  - A mismatch is published with the key and the differing column names (never the values, which may be personal
 *    data); with `recheckDelayMs` a mismatch is reported only if it persists on a second pair of reads, which
 *    filters out replication lag.
 */
import type { Logger } from 'pino';
import type { ColumnValue, Row } from '../pipeline/types';

/** One comparison's outcome, as published. */
export interface ShadowResult {
  readonly table: string;
  readonly key: string;
  readonly primaryStore: 'mysql' | 'dynamodb';
  readonly outcome: 'match' | 'mismatch' | 'error';
  /** Columns that differ (a missing row is reported as the column "*"). */
  readonly columns: readonly string[];
  readonly error?: string;
}

export interface ShadowOptions {
  readonly maxConcurrent?: number;
  /** Columns never compared (e.g. updated_at set by a trigger, columns the mapping excludes). */
  readonly ignoreColumns?: readonly string[];
  /** Custom equality per column; return undefined to fall back to the default (canonical JSON equality). */
  readonly equals?: (column: string, a: ColumnValue | undefined, b: ColumnValue | undefined) => boolean | undefined;
  /** Re-read both stores after this delay before reporting a mismatch (0: report at once). */
  readonly recheckDelayMs?: number;
  /** Called for every comparison; must not throw (it is caught and counted if it does). */
  readonly onResult?: (r: ShadowResult) => void;
  readonly logger?: Logger;
}

type Result = Row | undefined | readonly Row[];

/** Columns whose values differ between two results (empty: they match). */
export function diffResults(a: Result, b: Result, opts: Pick<ShadowOptions, 'ignoreColumns' | 'equals'> = {}): string[] {
  const rowsA = Array.isArray(a) ? (a as readonly Row[]) : a === undefined ? [] : [a as Row];
  const rowsB = Array.isArray(b) ? (b as readonly Row[]) : b === undefined ? [] : [b as Row];
  if (rowsA.length !== rowsB.length) return ['*'];
  const ignore = new Set(opts.ignoreColumns ?? []);
  const diff = new Set<string>();
  rowsA.forEach((ra, i) => {
    const rb = rowsB[i];
    for (const c of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
      if (ignore.has(c)) continue;
      const custom = opts.equals?.(c, ra[c], rb[c]);
      const same = custom ?? JSON.stringify(ra[c] ?? null) === JSON.stringify(rb[c] ?? null);
      if (!same) diff.add(c);
    }
  });
  return [...diff].sort();
}

/** Runs sampled, detached comparisons and keeps their counters. */
export class ShadowReader {
  private active = 0;
  readonly counters = { readsCompared: 0, readMismatches: 0, shadowReadErrors: 0, shadowReadsSkipped: 0 };
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly table: string,
    private readonly opts: ShadowOptions = {},
  ) {}

  /**
   * Compares `primaryResult` with `readSecondary()` in the background. `rereadPrimary` is used only for the
   * recheck. Never throws, never awaits.
   */
  run(key: string, primaryStore: 'mysql' | 'dynamodb', primaryResult: Result, readSecondary: () => Promise<Result>, rereadPrimary: () => Promise<Result>): void {
    if (this.active >= (this.opts.maxConcurrent ?? 16)) {
      this.counters.shadowReadsSkipped++;
      return;
    }
    this.active++;
    const p = this.compare(key, primaryStore, primaryResult, readSecondary, rereadPrimary).finally(() => {
      this.active--;
      this.inflight.delete(p);
    });
    this.inflight.add(p);
  }

  /** Resolves when every started comparison has finished (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.inflight.size) await Promise.all([...this.inflight]);
  }

  private async compare(key: string, primaryStore: 'mysql' | 'dynamodb', primary: Result, readSecondary: () => Promise<Result>, rereadPrimary: () => Promise<Result>): Promise<void> {
    let result: ShadowResult;
    try {
      let columns = diffResults(primary, await readSecondary(), this.opts);
      if (columns.length && (this.opts.recheckDelayMs ?? 0) > 0) {
        await new Promise((r) => setTimeout(r, this.opts.recheckDelayMs));
        const [p2, s2] = await Promise.all([rereadPrimary(), readSecondary()]);
        columns = diffResults(p2, s2, this.opts);
      }
      this.counters.readsCompared++;
      if (columns.length) this.counters.readMismatches++;
      result = { table: this.table, key, primaryStore, outcome: columns.length ? 'mismatch' : 'match', columns };
      if (columns.length) this.opts.logger?.warn({ table: this.table, key, primaryStore, columns }, 'shadow read mismatch');
    } catch (e) {
      this.counters.shadowReadErrors++;
      result = { table: this.table, key, primaryStore, outcome: 'error', columns: [], error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
    }
    try {
      this.opts.onResult?.(result);
    } catch {
      this.counters.shadowReadErrors++;
    }
  }
}
