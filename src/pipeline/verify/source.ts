/**
 * Reading the source for verification, always inside a consistent snapshot whose GTID seq is returned with the rows
 * (../backfill/snapshot.ts), so every observation says which source state it saw.
 */
import { decoderFor } from '../row/decoder';
import { chunkQuery, keyOfRow, keyText, lookupQuery, type KeyRange, type KeyValues, type TableSpec } from '../backfill/keyset';
import { inSnapshot, type SnapshotConnection, type SnapshotPosition } from '../backfill/snapshot';
import type { Row } from '../types';

/** The next `limit` rows of `range` in key order, read in one snapshot. */
export async function readChunk(conn: SnapshotConnection, spec: TableSpec, range: KeyRange, limit: number, domain?: number): Promise<{ pos: SnapshotPosition; rows: Row[] }> {
  const { pos, result } = await inSnapshot(conn, async () => (await conn.query(chunkQuery(spec, range, limit)))[0] as Record<string, unknown>[], domain);
  return { pos, rows: result.map(decoderFor(spec.columns)) };
}

/** The rows with the given keys that exist, by keyText, read in one snapshot (≤ a few thousand keys per call). */
export async function lookupRows(conn: SnapshotConnection, spec: TableSpec, keys: readonly KeyValues[], domain?: number): Promise<{ pos: SnapshotPosition; rows: Map<string, Row> }> {
  const { pos, result } = await inSnapshot(
    conn,
    async () => (keys.length ? ((await conn.query(lookupQuery(spec, keys)))[0] as Record<string, unknown>[]) : []),
    domain,
  );
  const rows = new Map<string, Row>();
  for (const r of result) {
    const row = decoderFor(spec.columns)(r);
    rows.set(keyText(keyOfRow(spec, row)), row);
  }
  return { pos, rows };
}
