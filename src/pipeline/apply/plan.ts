/**
 * Planning a batch: CDC events → at most one write per item key.
 *
 * Invariants:
 * - Per key, the planned write is the event with the highest version (ties: the first delivered, which carries the
 *   same source state). Since the final value of a key is the write with the highest version, applying only that
 *   write gives the same table as applying every event in order with the version rule — and keeps per-key order
 *   without ordering the writes of a batch.
 * - Every planned item carries _v (the event's version) and _src; a delete plans a tombstone (_del = true) at its
 *   version. A primary-key change (update whose before image has another key) plans the new key's put and a delete
 *   of the old key at the same version: as a redirect (re-published to the old key's partition, so each key keeps a
 *   single writer, see docs/design.md "Apply") or, with pkChange 'direct', as a tombstone in this batch.
 * - An event that cannot be mapped (unknown table, bad value, item over 400 KB) becomes a dead letter; it never
 *   blocks the rest of the batch.
 */
import { SOURCE_ATTR, TOMBSTONE_ATTR, VERSION_ATTR, type Item } from '../item';
import type { CompiledMapping } from '../transform/mapping';
import type { CdcEvent } from '../types';
import type { DeadLetterReason } from './errors';
import { bytesOverLimit, MAX_ITEM_BYTES } from './size';

/** One write the apply will make (or skip when the stored version is not lower). */
export interface PlannedWrite {
  /** Stable identity of the target item: table + key attribute values. */
  readonly keyId: string;
  readonly table: string;
  readonly key: Item;
  /** The full item, with _v, _src and (tombstones) _del. */
  readonly item: Item;
  readonly version: bigint;
  readonly event: CdcEvent;
}

/** An event the apply could not turn into a write. */
export interface DeadLetter {
  readonly event?: CdcEvent;
  readonly reason: DeadLetterReason;
  readonly error: string;
}

/** A batch's planned writes (one per key), dead letters and PK-change redirects. */
export interface Plan {
  readonly writes: PlannedWrite[];
  readonly deadLetters: DeadLetter[];
  /** Deletes of old keys of primary-key changes, to re-publish keyed by the old primary key. */
  readonly redirects: CdcEvent[];
}

/** How to plan primary-key changes (and a test-only ordering switch). */
export interface PlanOptions {
  /** 'redirect' (default, what the consumer does) or 'direct' (tombstone the old key in this batch). */
  readonly pkChange?: 'redirect' | 'direct';
  /** Test only: keep the last delivered event per key instead of the highest version. */
  readonly lastDeliveredWins?: boolean;
}

function attrText(v: Item[string]): string {
  if (v.S !== undefined) return `S${v.S}`;
  if (v.N !== undefined) return `N${v.N}`;
  if (v.B !== undefined) return `B${Buffer.from(v.B).toString('base64')}`;
  return JSON.stringify(v);
}

/** The identity of an item key in `table` (key attributes sorted by name). */
export function keyIdOf(table: string, key: Item): string {
  return `${table}\u0000${Object.keys(key).sort().map((k) => `${k}=${attrText(key[k])}`).join('\u0000')}`;
}

/** Maps `events` with `mappings` (by "schema.table") into per-key writes, dead letters and redirects. */
export function planEvents(events: readonly CdcEvent[], mappings: ReadonlyMap<string, CompiledMapping>, opts: PlanOptions = {}): Plan {
  const byKey = new Map<string, PlannedWrite>();
  const deadLetters: DeadLetter[] = [];
  const redirects: CdcEvent[] = [];
  const add = (w: PlannedWrite) => {
    const prev = byKey.get(w.keyId);
    if (!prev || w.version > prev.version || (opts.lastDeliveredWins && prev)) byKey.set(w.keyId, w);
  };
  for (const event of events) {
    const mapping = mappings.get(`${event.schema}.${event.table}`);
    if (!mapping) {
      deadLetters.push({ event, reason: 'unmapped-table', error: `no mapping for source table ${event.schema}.${event.table}` });
      continue;
    }
    try {
      const version = BigInt(event.version);
      const src = { S: mapping.sourceId };
      const ver = { N: version.toString() };
      const tombstone = (key: Item): Item => ({ ...key, [VERSION_ATTR]: ver, [TOMBSTONE_ATTR]: { BOOL: true }, [SOURCE_ATTR]: src });
      const table = mapping.targetTable;
      if (event.operation === 'delete') {
        const key = mapping.keyOf(event.data);
        add({ keyId: keyIdOf(table, key), table, key, item: tombstone(key), version, event });
        continue;
      }
      const full = mapping.toItem(event.data); // a new object: ours to complete
      full[VERSION_ATTR] = ver;
      full[SOURCE_ATTR] = src;
      const size = bytesOverLimit(full);
      if (size !== undefined) {
        deadLetters.push({ event, reason: 'item-too-large', error: `item is ${size} bytes, over DynamoDB's ${MAX_ITEM_BYTES}` });
        continue;
      }
      const key = mapping.keyOf(event.data);
      const keyId = keyIdOf(table, key);
      if (event.operation === 'update' && event.before) {
        let oldKey: Item | undefined;
        try {
          oldKey = mapping.keyOf(event.before);
        } catch {
          oldKey = undefined; // a before image without the key columns: treat as an upsert of the new key
        }
        if (oldKey && keyIdOf(table, oldKey) !== keyId) {
          if (opts.pkChange === 'direct') add({ keyId: keyIdOf(table, oldKey), table, key: oldKey, item: tombstone(oldKey), version, event });
          else redirects.push({ operation: 'delete', schema: event.schema, table: event.table, data: event.before, version: event.version, commitTimestamp: event.commitTimestamp, origin: event.origin });
        }
      }
      add({ keyId, table, key, item: full, version, event });
    } catch (e) {
      deadLetters.push({ event, reason: 'transform', error: (e as Error).message });
    }
  }
  return { writes: [...byKey.values()], deadLetters, redirects };
}
