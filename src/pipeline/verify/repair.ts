/**
 * Repair: re-enqueue mismatching keys through the normal apply path (the CDC topic), then re-verify them.
 *
 * Invariants:
 * - Nothing is written to the target directly: each key's current source state is published as a `load` at
 *   loadVersion(S) (row present) or a `delete` at loadVersion(S) (row absent: a tombstone "absent as of S"). Both are
 *   ordinary versioned events, so a repair racing a live change can never overwrite it (the change's version is
 *   higher), and the key's partition consumer stays its only writer.
 * - S never over-claims: a snapshot's reported position can run a transaction or two ahead of its read view
 *   (../backfill/snapshot.ts), so S is the position reported by a first snapshot and the rows are read in a second
 *   one begun `settleMs` later, which contains every transaction ≤ S (they were in the binlog before it began; the
 *   anomaly is a commit in progress). The rows may also reflect later changes: under-claiming is safe, those changes
 *   are in the topic with higher versions and re-apply over the load.
 * - A load only replaces an item whose version is below loadVersion(S). An item corrupted at an equal or higher
 *   version needs a newer source snapshot: repair waits (up to `waitForNewerMs`) for the source to commit anything,
 *   then reports the key as not repairable through the stream rather than writing behind the consumer's back.
 * - An extra item whose source key cannot be read back from it (no usable key) cannot be addressed through the
 *   stream; it is reported, not deleted.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { keyText, rowOfKey, tableSpec, type KeyValues } from '../backfill/keyset';
import { sleep } from '../backfill/pacing';
import { inSnapshot } from '../backfill/snapshot';
import type { LoadSink } from '../backfill/sink';
import { readColumns } from '../row/codec';
import type { CdcEvent } from '../types';
import type { Item } from '../item';
import { recheck, type Suspect } from './recheck';
import type { Mismatch } from './report';
import { lookupRows } from './source';
import type { VerifyDeps } from './verifier';

export interface RepairDeps extends Pick<VerifyDeps, 'pool' | 'client' | 'mapping' | 'appliedThrough' | 'log'> {
  readonly sink: LoadSink;
}

export interface RepairOptions {
  readonly schema: string;
  readonly table: string;
  readonly mismatches: readonly Mismatch[];
  readonly gtidDomain?: number;
  readonly waitForNewerMs?: number;
  /** Re-verification deadline (see ./recheck.ts). */
  readonly recheckTimeoutMs?: number;
  readonly settleMs?: number;
}

export interface RepairResult {
  readonly keysRequeued: number;
  readonly loads: number;
  readonly deletes: number;
  /** Keys that could not be re-enqueued, with why. */
  readonly notRepairable: readonly { readonly sourceKey: KeyValues; readonly reason: string }[];
  /** Mismatches that remain after re-verification (empty when the repair worked). */
  readonly remaining: readonly Mismatch[];
}

/** The Item of a plain key written by report.plainKey (canonical attribute texts). */
export function itemKeyFromPlain(plain: Record<string, string>): Item {
  const out: Item = {};
  for (const [k, t] of Object.entries(plain)) {
    let v: AttributeValue;
    if (t.startsWith('S')) v = { S: JSON.parse(t.slice(1)) as string };
    else if (t.startsWith('N')) v = { N: t.slice(1) };
    else if (t.startsWith('B')) v = { B: Buffer.from(t.slice(1), 'base64') };
    else throw new RangeError(`key attribute ${k} has unsupported type: ${t}`);
    out[k] = v;
  }
  return out;
}

/** Re-enqueues every mismatching key, then re-verifies them; see the module invariants. */
export async function repairMismatches(deps: RepairDeps, o: RepairOptions): Promise<RepairResult> {
  const spec = tableSpec(o.schema, o.table, await readColumns(deps.pool, o.schema, o.table));
  const byKey = new Map<string, Mismatch>();
  const notRepairable: { sourceKey: KeyValues; reason: string }[] = [];
  for (const m of o.mismatches) {
    if (m.sourceKey.length !== spec.key.length) notRepairable.push({ sourceKey: m.sourceKey, reason: 'the item has no readable source key; delete it by hand' });
    else byKey.set(keyText(m.sourceKey), m);
  }
  let loads = 0;
  let deletes = 0;
  const conn = await deps.pool.getConnection();
  try {
    let pending = [...byKey.values()];
    const giveUp = Date.now() + (o.waitForNewerMs ?? 10_000);
    while (pending.length) {
      const later: Mismatch[] = [];
      for (let i = 0; i < pending.length; i += 500) {
        const batch = pending.slice(i, i + 500);
        const { pos } = await inSnapshot(conn, async () => undefined, o.gtidDomain); // S: its position only
        await sleep(o.settleMs ?? 500);
        const { rows } = await lookupRows(conn, spec, batch.map((m) => m.sourceKey), o.gtidDomain);
        const events: CdcEvent[] = [];
        for (const m of batch) {
          if (m.itemVersion !== undefined && BigInt(m.itemVersion) >= BigInt(pos.version)) {
            if (Date.now() < giveUp) later.push(m);
            else notRepairable.push({ sourceKey: m.sourceKey, reason: `item version ${m.itemVersion} is not below the newest source snapshot ${pos.version}` });
            continue;
          }
          const row = rows.get(keyText(m.sourceKey));
          if (row) events.push({ operation: 'load', schema: o.schema, table: o.table, data: row, version: pos.version });
          else events.push({ operation: 'delete', schema: o.schema, table: o.table, data: rowOfKey(spec, m.sourceKey), version: pos.version });
        }
        await deps.sink.publish(events);
        for (const e of events) if (e.operation === 'load') loads += 1;
        else deletes += 1;
      }
      pending = later;
      if (pending.length) await sleep(250);
    }
    deps.log?.('repair published', { table: `${o.schema}.${o.table}`, loads, deletes, notRepairable: notRepairable.length });

    // Re-verify the re-enqueued keys with the same recheck rule as verification.
    const keyNames = [deps.mapping.partitionKey, ...(deps.mapping.sortKey ? [deps.mapping.sortKey] : [])];
    const suspects: Suspect[] = [...byKey.values()]
      .filter((m) => !notRepairable.some((n) => keyText(n.sourceKey) === keyText(m.sourceKey)))
      .map((m) => ({ kind: m.kind, sourceKey: m.sourceKey, itemKey: m.kind === 'extra' ? itemKeyFromPlain(m.itemKey) : deps.mapping.keyOf(rowOfKey(spec, m.sourceKey)), seenAtSeq: m.seenAtSeq }));
    const ctx = { conn, client: deps.client, mapping: deps.mapping, spec, keyNames, appliedThrough: deps.appliedThrough, domain: o.gtidDomain };
    const { confirmed } = await recheck(ctx, suspects, { timeoutMs: o.recheckTimeoutMs ?? 30_000, settleMs: o.settleMs ?? 500 });
    return { keysRequeued: loads + deletes, loads, deletes, notRepairable, remaining: confirmed };
  } finally {
    conn.release();
  }
}
