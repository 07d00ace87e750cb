/**
 * DynamoDB item size as the service computes it (attribute names + values, UTF-8), to dead-letter items over the
 * 400 KB limit before a write fails. Numbers are counted at their upper bound (1 byte per 2 digits + 1) so an item
 * this function accepts is never rejected for size.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Item } from '../item';

/** DynamoDB's item size limit. */
export const MAX_ITEM_BYTES = 400 * 1024;

function numBytes(n: string): number {
  return Math.ceil(n.replace(/[^0-9]/g, '').length / 2) + 1;
}

function valueBytes(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S, 'utf8');
  if (v.N !== undefined) return numBytes(v.N);
  if (v.B !== undefined) return v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS) return v.SS.reduce((s, x) => s + Buffer.byteLength(x, 'utf8'), 0);
  if (v.NS) return v.NS.reduce((s, x) => s + numBytes(x), 0);
  if (v.BS) return v.BS.reduce((s, x) => s + x.length, 0);
  if (v.L) return 3 + v.L.reduce((s, x) => s + 1 + valueBytes(x), 0);
  if (v.M) return 3 + Object.entries(v.M).reduce((s, [k, x]) => s + 1 + Buffer.byteLength(k, 'utf8') + valueBytes(x), 0);
  return 0;
}

/** Upper bound of the item's stored size in bytes. */
export function itemBytes(item: Item): number {
  let n = 0;
  for (const k in item) n += Buffer.byteLength(k, 'utf8') + valueBytes(item[k]);
  return n;
}

/**
 * A cheaper, looser bound than valueBytes: 3 bytes per UTF-16 code unit of text (UTF-8 needs at most 3 per unit: a
 * character outside the BMP is 2 units and 4 bytes), and the text length of numbers, so no native call per value.
 */
function roughBytes(v: AttributeValue): number {
  if (v.S !== undefined) return 3 * v.S.length;
  if (v.N !== undefined) return v.N.length + 1;
  if (v.B !== undefined) return v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.L) {
    let n = 3;
    for (const x of v.L) n += 1 + roughBytes(x);
    return n;
  }
  if (v.M) {
    let n = 3;
    for (const k in v.M) n += 1 + 3 * k.length + roughBytes(v.M[k]);
    return n;
  }
  return valueBytes(v);
}

/**
 * The item's size bound (as itemBytes) when it is over `limit`, else undefined. Most items are far below the limit:
 * the rough bound (never below itemBytes) settles those without computing the exact one.
 */
export function bytesOverLimit(item: Item, limit = MAX_ITEM_BYTES): number | undefined {
  let rough = 0;
  for (const k in item) rough += 3 * k.length + roughBytes(item[k]);
  if (rough <= limit) return undefined;
  const exact = itemBytes(item);
  return exact > limit ? exact : undefined;
}
