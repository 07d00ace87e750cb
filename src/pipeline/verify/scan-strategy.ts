/**
 * The scan strategy of a full verification: each side read once, in bulk, with no point read per row; resumable.
 *
 * Invariants (the argument is in docs/design.md, "Verification"):
 * - Digest pass: the source is read once in key order (keyset SELECT of full rows) and every row is mapped through
 *   the ETL's compiled mapping (`toItem`); concurrently the target is read once by a parallel Scan filtered on _src
 *   (tombstones skipped). Every expected item and every target item is reduced to a 64-bit digest of its canonical
 *   user attributes (./fingerprint.ts `itemDigest`, key attributes included) and added (source) or subtracted
 *   (target) into the bucket of its item key (`keyHash`). A bucket sums to zero when both sides hold the same items
 *   in it; a missing, extra or different item makes its bucket non-zero unless the differences cancel exactly
 *   (probability ≈ 2^-64 per bucket). Nothing else is kept per row.
 * - Reconcile pass (only when buckets disagree; in a clean, quiet table, never): the source is walked again in
 *   consistent snapshots and the rows of disagreeing buckets are read at the target by key (BatchGetItem): finds
 *   `missing` and `different`; the target is scanned again and the items of disagreeing buckets are looked up at the
 *   source by the key `toRow` reads back: finds `extra` (no row, or an item whose key is not its row's key). Every
 *   disagreement is a suspect for ./recheck.ts, exactly as in the lookup strategy.
 * - Resumable: the whole state — stage, the source position, each scan segment's ExclusiveStartKey, and the bucket
 *   sums (8 bytes per bucket, at most MAX_BUCKETS) or, in the reconcile stage, the disagreeing-bucket bitmap — is
 *   plain JSON (`ScanState`). A page is added to the sums and its position advanced in one synchronous step, so the
 *   state read at any await point is consistent; pages in flight when a run stops are dropped and re-read.
 * - Memory is bounded whatever the table size: the sums, one source chunk and its prefetched successor, two pages
 *   per scan segment (≤ 1 MB each), and the caller's suspects (recheck rounds are forced at its cap).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type * as mysql from 'mysql2/promise';
import { chunkQuery, keyOfRow, keyText, normalizeKey, type KeyValues, type TableSpec } from '../backfill/keyset';
import { isLive, type Item } from '../item';
import { decoderFor } from '../row/decoder';
import type { Row } from '../types';
import { compareItems, itemDigest, keyHash } from './fingerprint';
import type { Suspect } from './recheck';
import { lookupRows, readChunk } from './source';
import { batchGet, itemKeyText, scanSourcePage, type ScanPage } from './target';
import type { VerifyMapping } from './verifier';

/** Most buckets: bounds the state (and the cursor) to 32 KB of sums. */
export const MAX_BUCKETS = 4096;

/** Where a resumable scan verification stands (plain JSON, part of the verify cursor). */
export interface ScanState {
  readonly stage: 'digest' | 'reconcile' | 'done';
  readonly buckets: number;
  /** Last source key read (null: from the first), or 'done'. */
  readonly source: KeyValues | null | 'done';
  /** Per scan segment: the next ExclusiveStartKey, 'start', or null when the segment is done. */
  readonly segments: (Item | null | 'start')[];
  /** digest stage: the bucket sums (Uint32 pairs in platform byte order — little-endian on x64/arm64 — base64). */
  readonly sums?: string;
  /** reconcile stage: bitmap of the disagreeing buckets (base64). */
  readonly bad?: string;
}

export interface ScanContext {
  readonly pool: mysql.Pool;
  readonly client: DynamoDBClient;
  readonly mapping: VerifyMapping;
  readonly spec: TableSpec;
  readonly keyNames: readonly string[];
  readonly chunkRows: number;
  readonly concurrency?: number;
  readonly domain?: number;
  readonly counts: { rowsCompared: number; itemsScanned: number };
  /** Records a suspect (may trigger a recheck round). */
  suspect(s: Suspect): Promise<void>;
  /** True when the run must stop (abort or slice end): no new page is started. */
  stopped(): boolean;
  /** Called after every page / chunk has been taken into the state. */
  checkpoint(): Promise<void>;
}

/** The bucket count for a table of about `rows` rows: ~16 rows per bucket, 256 … MAX_BUCKETS, a power of two. */
export function bucketCount(rows: number): number {
  let size = 256;
  while (size < rows / 16 && size < MAX_BUCKETS) size *= 2;
  return size;
}

/** A fresh state for a table of about `rows` rows with `segments` scan segments. */
export function initialScanState(rows: number, segments: number): ScanState {
  const buckets = bucketCount(rows);
  return { stage: 'digest', buckets, source: null, segments: Array.from({ length: segments }, () => 'start'), sums: Buffer.alloc(buckets * 8).toString('base64') };
}

/** A running scan verification; `state()` may be read at any await point. */
export class ScanVerification {
  private stage: ScanState['stage'];
  private source: KeyValues | null | 'done';
  private readonly segments: (Item | null | 'start')[];
  private readonly mask: number;
  private readonly sums: Uint32Array;
  private bad: Uint8Array | undefined;

  constructor(
    private readonly c: ScanContext,
    s: ScanState,
  ) {
    if (!(s.buckets >= 1 && (s.buckets & (s.buckets - 1)) === 0 && s.buckets <= MAX_BUCKETS)) throw new RangeError(`bad bucket count ${s.buckets}`);
    this.stage = s.stage;
    this.source = s.source;
    this.segments = [...s.segments];
    this.mask = s.buckets - 1;
    this.sums = new Uint32Array(s.buckets * 2);
    if (s.sums) {
      const bytes = new Uint8Array(Buffer.from(s.sums, 'base64')); // a copy, aligned
      if (bytes.length !== s.buckets * 8) throw new RangeError(`bucket sums of ${bytes.length} bytes for ${s.buckets} buckets`);
      this.sums.set(new Uint32Array(bytes.buffer));
    }
    if (s.bad) this.bad = new Uint8Array(Buffer.from(s.bad, 'base64'));
  }

  /** The current state (consistent at any await point). */
  state(): ScanState {
    const base = { stage: this.stage, buckets: this.mask + 1, source: this.source, segments: [...this.segments] };
    if (this.stage === 'digest') return { ...base, sums: Buffer.from(this.sums.buffer, this.sums.byteOffset, this.sums.byteLength).toString('base64') };
    if (this.stage === 'reconcile') return { ...base, bad: Buffer.from(this.bad!).toString('base64') };
    return base;
  }

  get done(): boolean {
    return this.stage === 'done';
  }

  /** Runs until done or stopped; returns the number of disagreeing buckets found (0 when resumed in reconcile). */
  async run(): Promise<number> {
    let disagreeing = 0;
    if (this.stage === 'digest') {
      await Promise.all([this.digestSource(), ...this.segments.map((_, s) => this.scanSegment(s, false, (items) => this.digestItems(items)))]);
      if (this.source !== 'done' || this.segments.some((x) => x !== null)) return 0; // stopped before the end
      const bad = new Uint8Array(Math.ceil((this.mask + 1) / 8));
      for (let i = 0; i <= this.mask; i += 1) {
        if (this.sums[2 * i] !== 0 || this.sums[2 * i + 1] !== 0) {
          bad[i >> 3] |= 1 << (i & 7);
          disagreeing += 1;
        }
      }
      if (!disagreeing) {
        this.stage = 'done';
        return 0;
      }
      this.stage = 'reconcile';
      this.bad = bad;
      this.source = null;
      this.segments.fill('start');
      await this.c.checkpoint();
    }
    if (this.stage === 'reconcile') {
      await Promise.all([this.reconcileSource(), ...this.segments.map((_, s) => this.scanSegment(s, true, (items, conn) => this.reconcileItems(items, conn!)))]);
      if (this.source === 'done' && this.segments.every((x) => x === null)) this.stage = 'done';
    }
    return disagreeing;
  }

  private isBad(keyItem: Item): boolean {
    const b = keyHash(keyItem, this.c.keyNames) & this.mask;
    return (this.bad![b >> 3] & (1 << (b & 7))) !== 0;
  }

  private add(item: Item, sign: 1 | -1): void {
    const { a: x, b: y, key } = itemDigest(item, this.c.keyNames);
    const b = (key & this.mask) * 2;
    this.sums[b] = sign > 0 ? this.sums[b] + x : this.sums[b] - x;
    this.sums[b + 1] = sign > 0 ? this.sums[b + 1] + y : this.sums[b + 1] - y;
  }

  /** Source side of the digest pass: plain keyset reads (no snapshot needed), the next chunk prefetched. */
  private async digestSource(): Promise<void> {
    if (this.source === 'done') return;
    const c = this.c;
    const conn = await c.pool.getConnection();
    try {
      const read = (after: KeyValues | null): Promise<Record<string, unknown>[]> => conn.query(chunkQuery(c.spec, { after, through: null }, c.chunkRows)).then(([r]) => r as Record<string, unknown>[]);
      let next: Promise<Record<string, unknown>[]> | undefined = read(this.source);
      while (next) {
        const raw: Record<string, unknown>[] = await next;
        const decode = decoderFor(c.spec.columns);
        const rows: Row[] = raw.map((r) => decode(r));
        const last = rows.length < c.chunkRows;
        const after: KeyValues | null = rows.length ? keyOfRow(c.spec, rows[rows.length - 1]) : null;
        next = last || c.stopped() ? undefined : read(after);
        next?.catch(() => undefined); // awaited on the next turn
        for (const row of rows) this.add(c.mapping.toItem(row), 1);
        c.counts.rowsCompared += rows.length;
        this.source = last ? 'done' : after;
        await c.checkpoint();
      }
    } finally {
      conn.release();
    }
  }

  private digestItems(items: readonly Item[]): Promise<void> {
    for (const item of items) this.add(item, -1);
    this.c.counts.itemsScanned += items.length;
    return Promise.resolve();
  }

  /**
   * One scan segment, pages prefetched (at least one page per run, so every slice progresses); `take` handles a
   * page's live items before its position advances. `withConn`: `take` needs a source connection of its own.
   */
  private async scanSegment(segment: number, withConn: boolean, take: (items: Item[], conn?: mysql.PoolConnection) => Promise<void>): Promise<void> {
    if (this.segments[segment] === null) return;
    const c = this.c;
    const m = c.mapping;
    const conn = withConn ? await c.pool.getConnection() : undefined;
    try {
      const scan = (start: Item | 'start'): Promise<ScanPage> => scanSourcePage(c.client, m.targetTable, m.sourceId, start === 'start' ? undefined : start, { segment, totalSegments: this.segments.length });
      let next: Promise<ScanPage> | undefined = scan(this.segments[segment]!);
      while (next) {
        const page: ScanPage = await next;
        next = page.next && !c.stopped() ? scan(page.next) : undefined;
        next?.catch(() => undefined); // awaited on the next turn
        await take(page.items.filter((it) => isLive(it)), conn);
        this.segments[segment] = page.next ?? null;
        await c.checkpoint();
      }
    } finally {
      conn?.release();
    }
  }

  /** Source side of the reconcile pass: rows of disagreeing buckets, compared with the item at their mapped key. */
  private async reconcileSource(): Promise<void> {
    if (this.source === 'done') return;
    const c = this.c;
    const m = c.mapping;
    const conn = await c.pool.getConnection();
    try {
      // At least one chunk per run, so every slice progresses.
      do {
        const { pos, rows } = await readChunk(conn, c.spec, { after: this.source, through: null }, c.chunkRows, c.domain);
        const picked = rows.map((row) => ({ row, key: m.keyOf(row) })).filter((x) => this.isBad(x.key));
        const found = await batchGet(c.client, m.targetTable, c.keyNames, picked.map((x) => x.key), { concurrency: c.concurrency });
        for (const { row, key } of picked) {
          const verdict = compareItems(m.toItem(row), found.get(itemKeyText(key, c.keyNames)));
          if (verdict !== 'match') await c.suspect({ kind: verdict, sourceKey: keyOfRow(c.spec, row), itemKey: key, seenAtSeq: pos.seq });
        }
        this.source = rows.length < c.chunkRows ? 'done' : keyOfRow(c.spec, rows[rows.length - 1]);
        await c.checkpoint();
      } while (this.source !== 'done' && !c.stopped());
    } finally {
      conn.release();
    }
  }

  /** Target side of the reconcile pass: items of disagreeing buckets whose source row is absent or maps elsewhere. */
  private async reconcileItems(items: readonly Item[], conn: mysql.PoolConnection): Promise<void> {
    const c = this.c;
    const m = c.mapping;
    const picked: { item: Item; key: KeyValues | null }[] = [];
    for (const item of items) {
      if (!this.isBad(item)) continue;
      let key: KeyValues | null = null;
      try {
        const row = m.toRow(item);
        key = normalizeKey(c.spec, c.spec.key.map((k) => row[k.name] ?? null));
        if (key.some((v) => v === null)) key = null;
      } catch {
        key = null; // an item the mapping cannot read back is extra
      }
      picked.push({ item, key });
    }
    if (!picked.length) return;
    const { pos, rows } = await lookupRows(conn, c.spec, picked.filter((x) => x.key).map((x) => x.key!), c.domain);
    for (const { item, key } of picked) {
      const row = key ? rows.get(keyText(key)) : undefined;
      if (row && itemKeyText(m.keyOf(row), c.keyNames) === itemKeyText(item, c.keyNames)) continue; // the source side compares it
      await c.suspect({ kind: 'extra', sourceKey: key ?? [], itemKey: Object.fromEntries(c.keyNames.map((k) => [k, item[k]])), seenAtSeq: pos.seq });
    }
  }
}
