/**
 * Verification (a VDiff for MySQL → DynamoDB): proves, row by row, that the target holds what the source says.
 *
 * Invariants (the argument is in docs/design.md, "Verification"):
 * - Source walk: the source is read in primary-key order, chunk by chunk, each chunk in its own consistent snapshot
 *   (GTID seq S); every row is mapped through the same compiled mapping the ETL uses and compared with the item at
 *   the mapped key (BatchGetItem, strongly consistent). Finds `missing` and `different`.
 * - Extras scan: the target's items of this source table (Scan filtered on _src, tombstones ignored) are mapped back
 *   to source keys (toRow) and looked up at the source in a snapshot. Finds `extra` (no source row, or an item whose
 *   key is not the key its row maps to).
 * - A first disagreement is only a suspect; ./recheck.ts confirms or resolves it. Only confirmed mismatches are
 *   reported, each in the JSONL file, counts in the report.
 * - Comparison ignores the reserved attributes and treats tombstones as absent (./fingerprint.ts).
 * - That is the `lookup` strategy; the `scan` strategy (./scan-strategy.ts, the default for full runs) reads each
 *   side once in bulk and compares per-bucket digests, reading rows by key only in disagreeing buckets.
 * - Resumable (both strategies): the cursor (phase, last verified key, scan positions; for `scan` its ScanState) is
 *   returned at every slice end and in `onProgress`; suspects are rechecked before a cursor moves past them, so a
 *   resume never loses one.
 * - Sampled mode checks a deterministic fraction of keys (hash of the key) and of scan segments.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type * as mysql from 'mysql2/promise';
import { keyOfRow, keyText, normalizeKey, tableSpec, type KeyValues, type TableSpec } from '../backfill/keyset';
import { readColumns } from '../row/codec';
import type { Item } from '../item';
import { isLive } from '../item';
import type { Row } from '../types';
import { CursorError } from '../backfill/errors';
import { compareItems } from './fingerprint';
import { recheck, type Suspect } from './recheck';
import { initialScanState, ScanVerification, type ScanState } from './scan-strategy';
import { estimateRows } from '../backfill/backfill';
import { MismatchLog, writeReport, type VerifyCountsFull, type VerifyReport } from './report';
import { lookupRows, readChunk } from './source';
import { batchGet, itemKeyText, scanSourcePage } from './target';

/** The part of the ETL's CompiledMapping that verification uses (src/pipeline/transform/mapping.ts). */
export interface VerifyMapping {
  readonly sourceId: string;
  readonly targetTable: string;
  readonly partitionKey: string;
  readonly sortKey?: string;
  toItem(row: Row): Item;
  keyOf(row: Row): Item;
  toRow(item: Item): Row;
}

export interface VerifyDeps {
  /** Source pool created with ROW_QUERY_OPTIONS (../backfill/source-pool.ts). */
  readonly pool: mysql.Pool;
  readonly client: DynamoDBClient;
  readonly mapping: VerifyMapping;
  /** GTID seq through which the ETL has applied every change (see ./recheck.ts); optional. */
  readonly appliedThrough?: () => Promise<string>;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: VerifyRunProgress) => void | Promise<void>;
  readonly log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface VerifyOptions {
  readonly schema: string;
  readonly table: string;
  readonly mode: 'full' | 'sampled' | 'resume';
  readonly sampleFraction?: number;
  /** Cursor from a previous slice / run (required for `resume`). */
  readonly cursor?: string | null;
  /** JSONL file receiving every confirmed mismatch (appended to across slices). */
  readonly mismatchFile: string;
  /** When set, the JSON report (VerifyReport) is (re)written there at the end of every slice. */
  readonly reportFile?: string;
  readonly chunkRows?: number;
  readonly concurrency?: number;
  readonly scanSegments?: number;
  readonly recheckTimeoutMs?: number;
  readonly settleMs?: number;
  readonly reportCap?: number;
  readonly sliceMs?: number;
  readonly before?: VerifyCountsFull;
  readonly gtidDomain?: number;
  /** Least time between two `onProgress` calls of the scan strategy (default 1000 ms). */
  readonly heartbeatMs?: number;
  /** Suspects kept before a recheck round is forced (bounds memory). */
  readonly maxSuspects?: number;
  /**
   * `lookup`: source walk + a point read per row + extras scan (resumable, sliceable; the only one for `sampled`).
   * `scan`: each side read once in bulk + bucket digests (./scan-strategy.ts; as fast as reading both sides);
   * resumable and sliceable too (its cursor carries ≤ 32 KB of bucket sums).
   * `auto` (default): `scan` for a full run from the start and for a scan cursor, `lookup` otherwise.
   */
  readonly strategy?: 'auto' | 'lookup' | 'scan';
}

interface VerifyCursor {
  readonly v: 1;
  readonly table: string;
  readonly phase: 'source' | 'extras' | 'scan' | 'done';
  readonly after: KeyValues | null;
  /** The scan strategy's state (phase 'scan'). */
  readonly scan?: ScanState;
  /** Per scan segment: the next ExclusiveStartKey, null when the segment is done. */
  readonly segments?: (Item | null | 'start')[];
}

export interface VerifyRunProgress {
  readonly done: boolean;
  readonly cursor: string;
  readonly counts: VerifyCountsFull;
  readonly stoppedBy: 'done' | 'slice-elapsed' | 'cancelled';
  readonly report: VerifyReport;
}

const ZERO: VerifyCountsFull = { rowsCompared: 0, itemsScanned: 0, missing: 0, extra: 0, different: 0, resolvedInFlight: 0 };

/** FNV-1a of a key's text into [0, 1): the deterministic sampling decision. */
export function sampleHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32;
}

function decode(text: string, table: string): VerifyCursor {
  try {
    const c = JSON.parse(text) as VerifyCursor;
    if (c.v === 1 && c.table === table) return c;
  } catch {
    // fall through
  }
  throw new CursorError(`not a verify cursor for ${table}`, text);
}

/** Runs (or resumes) one verification slice; returns progress with the final or interim report. */
export async function runVerify(deps: VerifyDeps, o: VerifyOptions): Promise<VerifyRunProgress> {
  const started = Date.now();
  const id = `${o.schema}.${o.table}`;
  const spec: TableSpec = tableSpec(o.schema, o.table, await readColumns(deps.pool, o.schema, o.table));
  const m = deps.mapping;
  const keyNames = [m.partitionKey, ...(m.sortKey ? [m.sortKey] : [])];
  if (o.mode === 'resume' && !o.cursor) throw new CursorError('resume mode needs the cursor of a previous run', '');
  let cur: VerifyCursor = o.cursor ? decode(o.cursor, id) : { v: 1, table: id, phase: 'source', after: null };
  const fraction = o.mode === 'sampled' ? Math.min(1, Math.max(0, o.sampleFraction ?? 0.1)) : 1;
  const log = new MismatchLog(o.mismatchFile, o.reportCap ?? 100, o.cursor !== null && o.cursor !== undefined);
  const counts = { ...(o.before ?? ZERO) };
  const deadline = o.sliceMs ? started + o.sliceMs : Infinity;
  const stopped = (): 'slice-elapsed' | 'cancelled' | null => (deps.signal?.aborted ? 'cancelled' : Date.now() >= deadline ? 'slice-elapsed' : null);
  let suspects: Suspect[] = [];
  let rowsThisRun = 0;
  // Separate connections: the walk's prefetched read, the rechecks, and each scan segment's lookups must never
  // share one (a snapshot transaction is per connection).
  const walkConn = await deps.pool.getConnection();
  const checkConn = await deps.pool.getConnection();
  const ctx = { conn: checkConn, client: deps.client, mapping: m, spec, keyNames, appliedThrough: deps.appliedThrough, signal: deps.signal, domain: o.gtidDomain, concurrency: o.concurrency };

  let rechecking = false;
  const flush = async (): Promise<void> => {
    if (!suspects.length) return;
    const batch = suspects;
    suspects = [];
    rechecking = true;
    const { confirmed, resolved } = await recheck(ctx, batch, { timeoutMs: o.recheckTimeoutMs ?? 30_000, settleMs: o.settleMs ?? 500 }).finally(() => (rechecking = false));
    counts.resolvedInFlight += resolved;
    for (const x of confirmed) {
      log.append(x);
      counts[x.kind] += 1;
    }
  };

  // Rechecks triggered from concurrent segments run one at a time on the recheck connection.
  let flushing: Promise<void> = Promise.resolve();
  const flushOnce = (): Promise<void> => (flushing = flushing.then(flush));

  const progress = (stoppedBy: VerifyRunProgress['stoppedBy'], final = true): VerifyRunProgress => {
    const done = cur.phase === 'done';
    const report: VerifyReport = {
      source: id,
      target: m.targetTable,
      mode: o.mode,
      ...(o.mode === 'sampled' ? { sampleFraction: fraction } : {}),
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date().toISOString(),
      done,
      counts: { ...counts },
      mismatches: log.sample,
      mismatchesTotal: counts.missing + counts.extra + counts.different,
      mismatchFile: o.mismatchFile,
      rowsPerSecond: Math.round((rowsThisRun * 1000) / Math.max(1, Date.now() - started)),
    };
    if (o.reportFile && final) writeReport(o.reportFile, report);
    return { done, cursor: JSON.stringify(cur), counts: { ...counts }, stoppedBy: done ? 'done' : stoppedBy, report };
  };

  try {
    const scanCursor = cur.phase === 'scan';
    const strategy = scanCursor || o.strategy === 'scan' || (o.strategy !== 'lookup' && o.mode === 'full' && !o.cursor) ? 'scan' : 'lookup';
    if (strategy === 'scan') {
      if (o.mode === 'sampled') throw new CursorError('the scan strategy checks everything; use lookup for sampled runs', '');
      if (o.strategy === 'lookup') throw new CursorError('this cursor is from the scan strategy; resume it with the scan (or auto) strategy', o.cursor ?? '');
      if (o.cursor && !scanCursor) throw new CursorError('this cursor is from the lookup strategy; resume it with the lookup (or auto) strategy', o.cursor);
      const state = cur.scan ?? initialScanState(await estimateRows(deps.pool, spec), Math.max(1, o.scanSegments ?? 4));
      let lastBeat = -Infinity;
      const sv: ScanVerification = new ScanVerification(
        {
          pool: deps.pool, client: deps.client, mapping: m, spec, keyNames, chunkRows: o.chunkRows ?? 1_000, concurrency: o.concurrency, domain: o.gtidDomain, counts,
          stopped: () => stopped() !== null,
          suspect: async (x) => {
            suspects.push(x);
            if (suspects.length >= (o.maxSuspects ?? 2_000)) await flushOnce();
          },
          // A cursor is reported only while no suspect is unconfirmed, so a resume never skips one.
          checkpoint: async () => {
            if (suspects.length || rechecking || Date.now() - lastBeat < (o.heartbeatMs ?? 1_000)) return;
            lastBeat = Date.now();
            cur = { v: 1, table: id, phase: 'scan', after: null, scan: sv.state() };
            await deps.onProgress?.(progress('done', false));
          },
        },
        state,
      );
      const bad = await sv.run();
      await flushOnce();
      rowsThisRun = counts.rowsCompared - (o.before?.rowsCompared ?? 0);
      cur = sv.done ? { v: 1, table: id, phase: 'done', after: null } : { v: 1, table: id, phase: 'scan', after: null, scan: sv.state() };
      deps.log?.('verify scan strategy stopped', { table: id, done: sv.done, disagreeingBuckets: bad });
      return progress(stopped() ?? 'done');
    }

    // Phase 1: source walk (prefetching the next chunk while the current one is compared).
    const chunkRows = o.chunkRows ?? 1_000;
    const read = (after: KeyValues | null): ReturnType<typeof readChunk> => readChunk(walkConn, spec, { after, through: null }, chunkRows, o.gtidDomain);
    let nextRead = cur.phase === 'source' ? read(cur.after) : undefined;
    while (cur.phase === 'source' && nextRead) {
      const { pos, rows } = await nextRead;
      const after = rows.length ? keyOfRow(spec, rows[rows.length - 1]) : cur.after;
      const last = rows.length < chunkRows;
      nextRead = last ? undefined : read(after);
      nextRead?.catch(() => undefined); // awaited on the next turn or in `finally`
      const sampled = fraction < 1 ? rows.filter((r) => sampleHash(keyText(keyOfRow(spec, r))) < fraction) : rows;
      const keys = sampled.map((r) => m.keyOf(r));
      const found = await batchGet(deps.client, m.targetTable, keyNames, keys, { concurrency: o.concurrency });
      sampled.forEach((row, i) => {
        const verdict = compareItems(m.toItem(row), found.get(itemKeyText(keys[i], keyNames)));
        if (verdict !== 'match') suspects.push({ kind: verdict, sourceKey: keyOfRow(spec, row), itemKey: keys[i], seenAtSeq: pos.seq });
      });
      counts.rowsCompared += sampled.length;
      rowsThisRun += sampled.length;
      if (suspects.length >= (o.maxSuspects ?? 2_000) || last || stopped()) await flush();
      cur = last ? { v: 1, table: id, phase: 'extras', after: null } : { ...cur, after };
      await deps.onProgress?.(progress('done', false));
      if (stopped()) {
        await nextRead?.catch(() => undefined);
        return progress(stopped()!);
      }
    }

    // Phase 2: extras scan, segment by segment (segments scanned concurrently).
    const total = Math.max(1, o.scanSegments ?? 4);
    const segs: (Item | null | 'start')[] = cur.segments ? [...cur.segments] : Array.from({ length: total }, () => 'start');
    const scanned = fraction < 1 ? Math.max(1, Math.ceil(segs.length * fraction)) : segs.length;
    const scanSegment = async (s: number): Promise<void> => {
      const conn = await deps.pool.getConnection();
      try {
        // At least one page per segment per slice, so every slice makes progress.
        while (s < scanned && segs[s] !== null) {
          const page = await scanSourcePage(deps.client, m.targetTable, m.sourceId, segs[s] === 'start' ? undefined : (segs[s] as Item), { segment: s, totalSegments: segs.length });
          const live = page.items.filter((it) => isLive(it));
          counts.itemsScanned += live.length;
          const byKey = new Map<string, { item: Item; key: KeyValues | null }>();
          for (const it of live) {
            let key: KeyValues | null = null;
            try {
              const row = m.toRow(it);
              key = normalizeKey(spec, spec.key.map((c) => row[c.name] ?? null));
            } catch {
              key = null; // an item the mapping cannot read back is extra
            }
            byKey.set(itemKeyText(it, keyNames), { item: it, key });
          }
          const lookups = [...byKey.values()].filter((x) => x.key && x.key.every((v) => v !== null)).map((x) => x.key!);
          const { pos, rows } = await lookupRows(conn, spec, lookups, o.gtidDomain);
          for (const [, { item, key }] of byKey) {
            const row = key ? rows.get(keyText(key)) : undefined;
            const keyMatches = row !== undefined && itemKeyText(m.keyOf(row), keyNames) === itemKeyText(item, keyNames);
            if (!keyMatches) {
              const itemKey: Item = Object.fromEntries(keyNames.map((k) => [k, item[k]]));
              suspects.push({ kind: 'extra', sourceKey: key ?? [], itemKey, seenAtSeq: pos.seq });
            }
          }
          segs[s] = page.next ?? null;
          if (suspects.length >= (o.maxSuspects ?? 2_000)) await flushOnce();
          if (stopped()) break;
        }
      } finally {
        conn.release();
      }
    };
    if (cur.phase === 'extras') {
      await Promise.all(Array.from({ length: scanned }, (_, s) => scanSegment(s)));
      await flushOnce();
      cur = segs.slice(0, scanned).every((x) => x === null) ? { v: 1, table: id, phase: 'done', after: null } : { ...cur, segments: segs };
    }
    return progress(stopped() ?? 'done');
  } finally {
    walkConn.release();
    checkConn.release();
  }
}
