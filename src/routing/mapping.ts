/**
 * What the routing layer needs of a table's mapping: exactly the part of the ETL's CompiledMapping
 * (src/pipeline/transform/mapping.ts) that routing uses, so a CompiledMapping is passed in as is and routing never
 * re-implements a conversion. Guarantees it relies on (stated by the mapping): keyOf depends only on primary-key
 * columns and is injective; toItem never emits _v/_del/_src; toRow(toItem(row)) equals row when column facts are
 * known.
 */
import type { Item } from '../pipeline/item';
import type { Row } from '../pipeline/types';

export interface RoutingMapping {
  /** "schema.table": the value of every item's _src. */
  readonly sourceId: string;
  readonly source: { readonly schema: string; readonly table: string; readonly primaryKey: readonly string[] };
  readonly targetTable: string;
  readonly partitionKey: string;
  readonly sortKey?: string;
  toItem(row: Row): Item;
  keyOf(row: Row): Item;
  toRow(item: Item): Row;
}

/** A key's canonical text: the primary-key values in key order as JSON. Same in every instance. */
export function keyString(mapping: RoutingMapping, row: Row): string {
  return JSON.stringify(mapping.source.primaryKey.map((c) => row[c] ?? null));
}

/**
 * The primary-key columns that determine the partition-key attribute, found by rendering keyOf with each
 * column varied alone (the mapping's templates are opaque here). A query by partition must supply exactly these.
 */
export function partitionColumns(mapping: RoutingMapping): string[] {
  const pk = mapping.source.primaryKey;
  const base: Record<string, number> = Object.fromEntries(pk.map((c) => [c, 12]));
  const render = (row: Row) => JSON.stringify(mapping.keyOf(row)[mapping.partitionKey]);
  const b = render(base);
  return pk.filter((c) => render({ ...base, [c]: 34 }) !== b);
}

/** The partition-key attribute value for a partial row holding the partition columns. */
export function partitionValue(mapping: RoutingMapping, partial: Row): Item[string] {
  const filled: Record<string, Row[string]> = Object.fromEntries(mapping.source.primaryKey.map((c) => [c, 12]));
  return mapping.keyOf({ ...filled, ...partial })[mapping.partitionKey];
}

/** Orders items as DynamoDB orders a partition: by the sort-key attribute, numbers numerically, S/B by bytes. */
export function compareSortKeys(a: Item[string] | undefined, b: Item[string] | undefined): number {
  if (!a || !b) return 0;
  if (a.N !== undefined && b.N !== undefined) {
    const d = Number(a.N) - Number(b.N);
    if (d !== 0 && Number.isFinite(d) && Math.abs(Number(a.N)) < 2 ** 53 && Math.abs(Number(b.N)) < 2 ** 53) return d;
    return compareDecimalStrings(a.N, b.N);
  }
  const ab = a.S !== undefined ? Buffer.from(a.S, 'utf8') : Buffer.from(a.B ?? []);
  const bb = b.S !== undefined ? Buffer.from(b.S, 'utf8') : Buffer.from(b.B ?? []);
  return Buffer.compare(ab, bb);
}

function compareDecimalStrings(a: string, b: string): number {
  const [ai, af = ''] = a.split('.');
  const [bi, bf = ''] = b.split('.');
  const scale = Math.max(af.length, bf.length);
  const x = BigInt(ai + af.padEnd(scale, '0'));
  const y = BigInt(bi + bf.padEnd(scale, '0'));
  return x < y ? -1 : x > y ? 1 : 0;
}
