/**
 * Source versions: every write to a DynamoDB item carries the version of the source state it represents, and no
 * write may replace an item with a lower version. A version is a non-negative integer (decimal string, ≤ 38 digits,
 * stored as a DynamoDB number attribute) built from the MariaDB/MySQL GTID sequence number of the transaction and
 * the row's index inside that transaction:
 *
 *     version = seq × ROW_SPAN + rowIndex           (a change: row `rowIndex` of the transaction with GTID seq `seq`)
 *     version = seq × ROW_SPAN + (ROW_SPAN − 1)     (a backfill load read in a snapshot that includes transaction
 *                                                    `seq` and nothing after it: after every row of `seq`, before
 *                                                    every row of `seq + 1`)
 *
 * Preconditions (checked in preflight): one GTID domain for the migrated tables, gtid_strict_mode so sequence numbers
 * rise in binlog order, and fewer than ROW_SPAN − 1 row events per transaction.
 *
 * Versions of writes that the routing layer makes directly to DynamoDB while DynamoDB is the primary store live in a
 * higher band (DIRECT_BAND and up), so that no CDC echo of the background MySQL write can overwrite them.
 */

export const ROW_SPAN = 10_000_000n;
/** Versions at or above this were written directly to DynamoDB by the routing layer, not derived from the binlog. */
export const DIRECT_BAND = 10n ** 36n;

/** The version of row `rowIndex` of the transaction whose GTID sequence number is `seq`. */
export function changeVersion(seq: bigint | number | string, rowIndex: number): string {
  const s = BigInt(seq);
  if (rowIndex < 0 || BigInt(rowIndex) >= ROW_SPAN - 1n) throw new RangeError(`row index ${rowIndex} out of range`);
  return (s * ROW_SPAN + BigInt(rowIndex)).toString();
}

/** The version of a row read in a consistent snapshot that includes transaction `seq` and nothing after it. */
export function loadVersion(snapshotSeq: bigint | number | string): string {
  return (BigInt(snapshotSeq) * ROW_SPAN + (ROW_SPAN - 1n)).toString();
}

/** -1, 0 or 1 as `a` is lower than, equal to or higher than `b`. */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The GTID sequence number a version was derived from. */
export function versionSeq(version: string): bigint {
  return BigInt(version) / ROW_SPAN;
}

/** Parses a MariaDB GTID "domain-server-seq" into its parts. */
export function parseMariaGtid(gtid: string): { domain: number; server: number; seq: bigint } {
  const m = /^(\d+)-(\d+)-(\d+)$/.exec(gtid.trim());
  if (!m) throw new RangeError(`not a MariaDB GTID: ${gtid}`);
  return { domain: Number(m[1]), server: Number(m[2]), seq: BigInt(m[3]) };
}
