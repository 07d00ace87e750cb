/**
 * The scan strategy of a full verification: as fast as reading both sides once, with no point read per row.
 *
 * Invariants (the argument is in docs/design.md, "Verification"):
 * - Target pass: every item of this source table is read by a parallel Scan (tombstones skipped); its source row is
 *   fetched by primary key (row-value IN, one snapshot per page) and compared through the mapping. Finds every
 *   `different` and `extra` item. Every item whose row exists and maps to the item's key "covers" that key.
 * - Source pass (concurrently): every source key is read (key-only keyset scan).
 * - Missing rows are found without a point read per row: keys are hashed into buckets, and per bucket the count and
 *   two independent 32-bit hash sums of the covered keys and of the source keys are compared. A source row with no
 *   covering item makes its bucket disagree (a covered key is always a source key at lookup time, so a missing key
 *   could hide only if a key deleted between the passes had exactly the same count and both hash sums: the
 *   probability is about 2^-64 per bucket). Only the rows of disagreeing buckets are then read at the target by
 *   key (BatchGetItem) — under churn, the buckets of changed keys; in a quiet, clean table, none.
 * - Every disagreement found is a suspect for ./recheck.ts, exactly as in the lookup strategy.
 * - One pass, not resumable: bucket sums do not fit in a heartbeat. A restarted scan verification starts over.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type * as mysql from 'mysql2/promise';
import { estimateRows } from '../backfill/backfill';
import { chunkQuery, keyOfRow, keyText, normalizeKey, type KeyValues, type TableSpec } from '../backfill/keyset';
import { isLive, type Item } from '../item';
import { rowFromMysql2 } from '../row/codec';
import { compareItems } from './fingerprint';
import type { Suspect } from './recheck';
import { lookupRows, readChunk } from './source';
import { batchGet, itemKeyText, scanSourcePage, type ScanPage } from './target';
import type { VerifyMapping } from './verifier';

export interface ScanContext {
  readonly pool: mysql.Pool;
  readonly client: DynamoDBClient;
  readonly mapping: VerifyMapping;
  readonly spec: TableSpec;
  readonly keyNames: readonly string[];
  readonly segments: number;
  readonly chunkRows: number;
  readonly concurrency?: number;
  readonly domain?: number;
  readonly counts: { rowsCompared: number; itemsScanned: number };
  /** Records a suspect (may trigger a recheck round). */
  suspect(s: Suspect): Promise<void>;
  aborted(): boolean;
}

/** Per-bucket count and two hash sums (mod 2^32) of a multiset of keys. */
class Buckets {
  readonly count: Uint32Array;
  readonly h1: Uint32Array;
  readonly h2: Uint32Array;
  constructor(readonly size: number) {
    this.count = new Uint32Array(size);
    this.h1 = new Uint32Array(size);
    this.h2 = new Uint32Array(size);
  }

  add(text: string): void {
    const [a, b] = hashes(text);
    const i = a & (this.size - 1);
    this.count[i] += 1;
    this.h1[i] = (this.h1[i] + b) >>> 0;
    this.h2[i] = (this.h2[i] + Math.imul(a ^ (b >>> 7), 0x9e3779b1)) >>> 0;
  }

  bucketOf(text: string): number {
    return hashes(text)[0] & (this.size - 1);
  }

  differing(other: Buckets): Set<number> {
    const out = new Set<number>();
    for (let i = 0; i < this.size; i += 1) if (this.count[i] !== other.count[i] || this.h1[i] !== other.h1[i] || this.h2[i] !== other.h2[i]) out.add(i);
    return out;
  }
}

/** FNV-1a and a murmur-style mix of a key text: two independent 32-bit hashes. */
function hashes(text: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x1b873593;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0xcc9e2d51);
    b = (b << 15) | (b >>> 17);
  }
  b ^= b >>> 16;
  b = Math.imul(b, 0x85ebca6b);
  b ^= b >>> 13;
  return [a >>> 0, b >>> 0];
}

async function targetPass(c: ScanContext, covered: Buckets): Promise<void> {
  const m = c.mapping;
  await Promise.all(
    Array.from({ length: c.segments }, async (_, segment) => {
      const conn = await c.pool.getConnection();
      try {
        // The next page is requested before this one is compared, so the target never waits for us.
        const scan = (start: Item | undefined): ReturnType<typeof scanSourcePage> => scanSourcePage(c.client, m.targetTable, m.sourceId, start, { segment, totalSegments: c.segments });
        let next: ReturnType<typeof scanSourcePage> | undefined = scan(undefined);
        while (next) {
          const page: ScanPage = await next;
          next = page.next && !c.aborted() ? scan(page.next) : undefined;
          next?.catch(() => undefined); // awaited on the next turn
          const live: { item: Item; key: KeyValues | null }[] = [];
          for (const item of page.items) {
            if (!isLive(item)) continue;
            let key: KeyValues | null = null;
            try {
              const row = m.toRow(item);
              key = normalizeKey(c.spec, c.spec.key.map((k) => row[k.name] ?? null));
              if (key.some((v) => v === null)) key = null;
            } catch {
              key = null;
            }
            live.push({ item, key });
          }
          c.counts.itemsScanned += live.length;
          const { pos, rows } = await lookupRows(conn, c.spec, live.filter((x) => x.key).map((x) => x.key!), c.domain);
          for (const { item, key } of live) {
            const text = key ? keyText(key) : '';
            const row = key ? rows.get(text) : undefined;
            const itemKey = (): Item => Object.fromEntries(c.keyNames.map((k) => [k, item[k]]));
            if (!row) {
              await c.suspect({ kind: 'extra', sourceKey: key ?? [], itemKey: itemKey(), seenAtSeq: pos.seq });
              continue;
            }
            // toItem(row) carries the key attributes, so an item whose key is not its row's key compares
            // `different` here; the recheck then classifies it as extra (./recheck.ts).
            if (compareItems(m.toItem(row), item) === 'match') covered.add(text);
            else await c.suspect({ kind: 'different', sourceKey: key!, itemKey: itemKey(), seenAtSeq: pos.seq });
          }
        }
      } finally {
        conn.release();
      }
    }),
  );
}

async function sourcePass(c: ScanContext, source: Buckets): Promise<void> {
  const conn = await c.pool.getConnection();
  try {
    let after: KeyValues | null = null;
    for (;;) {
      const [rows] = await conn.query(chunkQuery(c.spec, { after, through: null }, c.chunkRows * 5, true));
      const rs = rows as Record<string, unknown>[];
      for (const r of rs) {
        after = keyOfRow(c.spec, rowFromMysql2(c.spec.key, r));
        source.add(keyText(after));
      }
      c.counts.rowsCompared += rs.length;
      if (rs.length < c.chunkRows * 5 || c.aborted()) return;
    }
  } finally {
    conn.release();
  }
}

/** Reads the rows of `bad` buckets at the target by key; those without a matching item become suspects. */
async function reconcile(c: ScanContext, bad: Set<number>, buckets: Buckets): Promise<void> {
  const conn = await c.pool.getConnection();
  const m = c.mapping;
  try {
    let after: KeyValues | null = null;
    for (;;) {
      const { pos, rows } = await readChunk(conn, c.spec, { after, through: null }, c.chunkRows, c.domain);
      const picked = rows.filter((r) => bad.has(buckets.bucketOf(keyText(keyOfRow(c.spec, r)))));
      const keys = picked.map((r) => m.keyOf(r));
      const found = await batchGet(c.client, m.targetTable, c.keyNames, keys, { concurrency: c.concurrency });
      for (let i = 0; i < picked.length; i += 1) {
        const verdict = compareItems(m.toItem(picked[i]), found.get(itemKeyText(keys[i], c.keyNames)));
        if (verdict !== 'match') await c.suspect({ kind: verdict, sourceKey: keyOfRow(c.spec, picked[i]), itemKey: keys[i], seenAtSeq: pos.seq });
      }
      if (rows.length < c.chunkRows || c.aborted()) return;
      after = keyOfRow(c.spec, rows[rows.length - 1]);
    }
  } finally {
    conn.release();
  }
}

/** Runs the scan strategy; suspects go to `c.suspect`. Returns the number of disagreeing buckets re-read. */
export async function scanStrategy(c: ScanContext): Promise<number> {
  const estimate = await estimateRows(c.pool, c.spec);
  let size = 1024;
  while (size < estimate / 16 && size < 1 << 20) size *= 2;
  const covered = new Buckets(size);
  const source = new Buckets(size);
  await Promise.all([targetPass(c, covered), sourcePass(c, source)]);
  if (c.aborted()) return 0;
  const bad = source.differing(covered);
  if (bad.size) await reconcile(c, bad, source);
  return bad.size;
}
