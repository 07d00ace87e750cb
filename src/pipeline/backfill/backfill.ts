/**
 * The backfill: copies every row of a source table into the change stream as `load` events while the application
 * keeps writing, in primary-key order, chunk by chunk, resumable, throttled.
 *
 * Invariants (the argument is in docs/design.md, "Backfill"):
 * - Every chunk is read in its own consistent snapshot (./snapshot.ts) and every row of it carries
 *   loadVersion(snapshot seq): at least the version of every change it reflects, below every change it does not.
 *   The apply keeps the highest version per key, so loads and CDC changes converge in any arrival order; a load
 *   never overwrites a newer change and never resurrects a deleted row (the tombstone's version is higher).
 * - Rows are published (and acknowledged) before the cursor moves past them; `onProgress` only ever reports such a
 *   cursor, so resuming from any reported cursor skips nothing and re-copies at most one chunk per range.
 * - Abort, pause and the slice deadline are checked between chunks and interrupt waits: they take effect within one
 *   chunk. An aborted run returns normally with `stoppedBy: 'cancelled'` and its last acknowledged cursor.
 * - Memory is bounded by parallelism × maxChunkRows rows, whatever the table size.
 * - No Temporal imports: the runBackfill activity wraps this, heartbeating `onProgress` and resuming from it.
 */
import type * as mysql from 'mysql2/promise';
import type { BackfillProgress, StoppedBy } from '../../shared/activity-contract';
import { readColumns, rowFromMysql2 } from '../row/codec';
import { decoderFor } from '../row/decoder';
import type { CdcEvent, Row } from '../types';
import { BackfillOrderError } from './errors';
import { decodeCursor, encodeCursor, initialRanges, type BackfillCursorState, type RangeState } from './cursor';
import { chunkQuery, countQuery, ESTIMATE_QUERY, keyAtOffsetQuery, keyOfRow, tableSpec, type KeyValues, type TableSpec } from './keyset';
import { Backoff, ChunkSizer, RateLimiter, sleep } from './pacing';
import { rateAndEta } from './progress';
import type { LoadSink } from './sink';
import { inSnapshot, loadSeq, SnapshotSeqCache } from './snapshot';
import { loadVersion } from '../version';

/** What the backfill needs from the outside world; the caller owns (and closes) every client. */
export interface BackfillDeps {
  /** Source pool created with ROW_QUERY_OPTIONS (exact types, JSON as text); one connection per parallel range. */
  readonly pool: mysql.Pool;
  readonly sink: LoadSink;
  /** CDC + ETL lag in ms (like gh-ost's max-lag-millis); above `maxLagMs` the copy waits. */
  readonly lagProbe?: () => Promise<number>;
  /** True while an operator has paused the copy; polled between chunks. */
  readonly paused?: () => boolean | Promise<boolean>;
  /** Aborts the run after the chunk in flight (pause-by-cancel, worker shutdown). */
  readonly signal?: AbortSignal;
  /** Called after every acknowledged chunk with cumulative progress (heartbeat it). */
  readonly onProgress?: (p: BackfillRunProgress) => void | Promise<void>;
  readonly log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface BackfillOptions {
  readonly schema: string;
  readonly table: string;
  /** A cursor from a previous run's progress; null/absent starts from the first key. */
  readonly cursor?: string | null;
  /** Key ranges copied concurrently (only used when starting; a resumed cursor keeps its ranges). */
  readonly parallelism?: number;
  readonly targetChunkMs?: number;
  readonly initialChunkRows?: number;
  readonly minChunkRows?: number;
  readonly maxChunkRows?: number;
  readonly maxRowsPerSecond?: number;
  readonly maxLagMs?: number;
  /** Return after this long with `stoppedBy: 'slice-elapsed'` (a Temporal activity slice). */
  readonly sliceMs?: number;
  /** Rows copied by previous slices, so counts are cumulative. */
  readonly rowsCopiedBefore?: number;
  /** GTID domain of the migrated tables when the binlog has several. */
  readonly gtidDomain?: number;
  /** GTID seq CDC publishes from; a chunk whose snapshot is older is refused (BackfillOrderError). */
  readonly cdcStartSeq?: string;
}

/** BackfillProgress (the activity contract) plus what the CLI shows. */
export interface BackfillRunProgress extends BackfillProgress {
  readonly etaSeconds: number | null;
  readonly chunks: number;
  /** GTID sequence number of the newest snapshot a chunk was read in ("0" before the first). */
  readonly lastSnapshotSeq: string;
}

/** Estimated rows: information_schema's TABLE_ROWS, or an exact COUNT(*) when that says the table is small. */
export async function estimateRows(pool: mysql.Pool, spec: TableSpec): Promise<number> {
  const [est] = await pool.query(ESTIMATE_QUERY, [spec.schema, spec.table]);
  const n = Number((est as { n: unknown }[])[0]?.n ?? 0);
  if (n >= 100_000) return n;
  const [cnt] = await pool.query(countQuery(spec));
  return Number((cnt as { n: unknown }[])[0]?.n ?? 0);
}

/** `parts − 1` boundary keys splitting the table into ranges of about equal row counts (fewer if keys repeat). */
export async function splitBoundaries(pool: mysql.Pool, spec: TableSpec, parts: number, estimate: number): Promise<KeyValues[]> {
  const out: KeyValues[] = [];
  if (parts <= 1 || estimate < parts * 2) return out;
  for (let i = 1; i < parts; i += 1) {
    const [rows] = await pool.query(keyAtOffsetQuery(spec, Math.floor((estimate * i) / parts)));
    const r = (rows as Record<string, unknown>[])[0];
    if (!r) break;
    const full: Record<string, unknown> = {};
    for (const c of spec.key) full[c.name] = r[c.name];
    const key = keyOfRow(spec, rowFromMysql2(spec.key, full));
    if (!out.length || JSON.stringify(out[out.length - 1]) !== JSON.stringify(key)) out.push(key);
  }
  return out;
}

function isRetriable(err: unknown): boolean {
  const e = err as { retriable?: unknown; name?: unknown; $retryable?: unknown };
  return e?.retriable === true || e?.$retryable !== undefined || e?.name === 'KafkaJSNumberOfRetriesExceeded' || e?.name === 'KafkaJSRequestTimeoutError';
}

/**
 * Runs (or resumes) the backfill until the table is copied, the slice elapses or the signal aborts, and returns the
 * cumulative progress with the cursor to resume from. Throws on non-retriable errors (bad table, bad cursor).
 */
export async function runBackfill(deps: BackfillDeps, o: BackfillOptions): Promise<BackfillRunProgress> {
  const started = Date.now();
  const id = `${o.schema}.${o.table}`;
  const spec = tableSpec(o.schema, o.table, await readColumns(deps.pool, o.schema, o.table));
  const estimate = await estimateRows(deps.pool, spec);
  let state: BackfillCursorState;
  if (o.cursor) state = decodeCursor(o.cursor, id);
  else state = { v: 1, table: id, ranges: initialRanges(await splitBoundaries(deps.pool, spec, o.parallelism ?? 1, estimate)) };
  const ranges: RangeState[] = [...state.ranges];

  const before = o.rowsCopiedBefore ?? 0;
  let copied = 0;
  let throttles = 0;
  let chunks = 0;
  let lastSeq = '0';
  let stoppedBy: StoppedBy = 'done';
  const limiter = new RateLimiter(o.maxRowsPerSecond, started);
  const deadline = o.sliceMs ? started + o.sliceMs : Infinity;
  // `failed` stops the other ranges when one throws; `signal` interrupts waits for both reasons.
  const failed = new AbortController();
  const signal = deps.signal ? AbortSignal.any([deps.signal, failed.signal]) : failed.signal;
  const stop = (): StoppedBy | null => (signal.aborted ? 'cancelled' : Date.now() >= deadline ? 'slice-elapsed' : null);

  const progress = (): BackfillRunProgress => {
    const total = Math.max(estimate, before + copied);
    const { rowsPerSecond, etaSeconds } = rateAndEta(copied, Date.now() - started, before + copied, total);
    const done = ranges.every((r) => r.done);
    return {
      done,
      cursor: encodeCursor({ v: 1, table: id, ranges }),
      rowsCopied: before + copied,
      rowsTotalEstimate: total,
      rowsPerSecond,
      throttles,
      stoppedBy: done ? 'done' : stoppedBy,
      etaSeconds: done ? 0 : etaSeconds,
      chunks,
      lastSnapshotSeq: lastSeq,
    };
  };

  const waitForGo = async (): Promise<boolean> => {
    const backoff = new Backoff(200, 5_000);
    for (;;) {
      if (stop()) return false;
      if (deps.paused && (await deps.paused())) {
        await sleep(250, signal);
        continue;
      }
      if (deps.lagProbe && o.maxLagMs !== undefined) {
        const lag = await deps.lagProbe();
        if (lag > o.maxLagMs) {
          throttles += 1;
          deps.log?.('backfill waiting for lag', { table: id, lagMs: lag, maxLagMs: o.maxLagMs });
          await sleep(backoff.next(), signal);
          continue;
        }
      }
      return true;
    }
  };

  const publish = async (events: CdcEvent[]): Promise<boolean> => {
    const backoff = new Backoff(100, 10_000);
    for (let attempt = 1; ; attempt += 1) {
      try {
        await deps.sink.publish(events);
        return true;
      } catch (err) {
        if (!isRetriable(err) || attempt >= 30) throw err;
        throttles += 1;
        deps.log?.('backfill publish retry', { table: id, attempt, error: String(err) });
        await sleep(backoff.next(), signal);
        if (signal.aborted) return false;
      }
    }
  };

  // One per run, shared by its ranges: loads may claim a recent snapshot's seq (a lower bound; snapshot.ts).
  const seqCache = new SnapshotSeqCache();
  const copyRange = async (index: number): Promise<void> => {
    const sizer = new ChunkSizer({
      initial: o.initialChunkRows ?? 1_000,
      min: o.minChunkRows ?? 50,
      max: o.maxChunkRows ?? 5_000,
      targetMs: o.targetChunkMs ?? 500,
    });
    const conn = await deps.pool.getConnection();
    try {
      while (!ranges[index].done) {
        if (!(await waitForGo())) return;
        const range = ranges[index];
        const limit = sizer.next;
        const t0 = Date.now();
        const read = await inSnapshot(conn, async () => (await conn.query(chunkQuery(spec, range, limit)))[0] as Record<string, unknown>[], o.gtidDomain, seqCache);
        const pos = read.pos;
        if (o.cdcStartSeq !== undefined && BigInt(pos.seq) < BigInt(o.cdcStartSeq)) throw new BackfillOrderError(pos.seq, o.cdcStartSeq);
        const decode = decoderFor(spec.columns);
        const rows: Row[] = read.result.map((r) => decode(r));
        read.result = []; // the driver's row objects are garbage from here on: one copy of the chunk in memory
        if (rows.length) {
          // Loads claim a seq a margin below the reported one (snapshot.ts: the reported position can run ahead).
          const version = loadVersion(loadSeq(pos.seq, o.cdcStartSeq));
          const events: CdcEvent[] = rows.map((data) => ({ operation: 'load', schema: o.schema, table: o.table, data, version }));
          if (!(await publish(events))) return;
        }
        const last = rows.length ? keyOfRow(spec, rows[rows.length - 1]) : range.after;
        ranges[index] = { ...range, after: last, done: rows.length < limit };
        copied += rows.length;
        chunks += 1;
        if (BigInt(pos.seq) > BigInt(lastSeq)) lastSeq = pos.seq;
        sizer.observe(rows.length, Date.now() - t0);
        await deps.onProgress?.(progress());
        await sleep(limiter.take(rows.length, Date.now()), signal);
      }
    } finally {
      conn.release();
    }
  };

  const outcomes = await Promise.allSettled(
    ranges.map((r, i) =>
      r.done
        ? Promise.resolve()
        : copyRange(i).catch((err: unknown) => {
            failed.abort();
            throw err;
          }),
    ),
  );
  const failure = outcomes.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  if (failure) throw failure.reason;
  stoppedBy = stop() ?? 'done';
  const p = progress();
  deps.log?.('backfill stopped', { table: id, stoppedBy: p.stoppedBy, rowsCopied: p.rowsCopied, chunks });
  return p;
}
