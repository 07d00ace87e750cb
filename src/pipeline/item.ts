/**
 * The reserved attributes every cutover-written DynamoDB item carries, shared by apply, verify and routing.
 *
 *   _v    N     the source version of the state the item holds (./version.ts); writes never lower it
 *   _del  BOOL  true on a tombstone: the row was deleted at version _v. Readers treat a tombstone as absent; it stays
 *               until the migration completes so that no late backfill load (lower version) can resurrect the row
 *   _src  S     "schema.table" of the source row, so several source tables can share one target table and every
 *               stage can tell their items apart
 *
 * User attributes may not start with "_" followed by these names; the mapping validator rejects such renames.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export const VERSION_ATTR = '_v';
export const TOMBSTONE_ATTR = '_del';
export const SOURCE_ATTR = '_src';
export const RESERVED_ATTRS: readonly string[] = [VERSION_ATTR, TOMBSTONE_ATTR, SOURCE_ATTR];

/** A DynamoDB item in the low-level representation (numbers stay exact decimal strings). */
export type Item = Record<string, AttributeValue>;

/** True when `item` exists and is not a tombstone. */
export function isLive(item: Item | undefined): item is Item {
  return item !== undefined && item[TOMBSTONE_ATTR]?.BOOL !== true;
}

/** The item's version, or undefined for an item that cutover did not write. */
export function itemVersion(item: Item | undefined): string | undefined {
  return item?.[VERSION_ATTR]?.N;
}

/** `item` without the reserved attributes: what the application sees. */
export function userAttributes(item: Item): Item {
  const out: Item = {};
  for (const [k, v] of Object.entries(item)) if (!RESERVED_ATTRS.includes(k)) out[k] = v;
  return out;
}
