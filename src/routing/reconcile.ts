/**
 * Reconcile: makes MySQL hold every write acknowledged by a DynamoDB-first mode, and (on the way back to a
 * MySQL-primary mode) moves those items back into the binlog's version band.
 *
 * Run it only while no instance writes DynamoDB first for this table, i.e. behind the fence (`fenced`, barrier
 * passed with requireDrained) — or, without `rebase`, at any time in dynamo-primary to heal failed background writes.
 *
 * Invariants:
 *  - The items to re-apply are found by scanning DynamoDB for this source's items with _v ≥ DIRECT_BAND: exactly the
 *    items whose current state was written first to DynamoDB, whatever happened to their background write (failed,
 *    lost with a crashed instance, never issued because the mode was dynamo-only). Nothing depends on in-memory
 *    failure lists surviving.
 *  - Each is re-applied with MysqlSide.applyVersioned, so a write already in MySQL (same or newer version) is skipped:
 *    reconcile is idempotent and safe to retry.
 *  - `rebase` rewrites each such item's _v to loadVersion(S), S = the binlog position read after every re-apply
 *    committed, conditional on the item still holding the DIRECT version read. At that point MySQL's row equals the
 *    item and every binlog event of the key has a version below loadVersion(S), so the CDC echoes still in flight are
 *    no-ops and the first MySQL-primary change after the rebase (seq > S) overwrites it as it must. A conditional
 *    failure means someone wrote DynamoDB first during the rebase (the fence was not in force) and fails loudly.
 */
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { isLive, SOURCE_ATTR, VERSION_ATTR, type Item } from '../pipeline/item';
import type { ColumnInfo } from '../pipeline/row/codec';
import { DIRECT_BAND, loadVersion, parseMariaGtid } from '../pipeline/version';
import { DynamoSide } from './dynamo-side';
import { UnsafeTransitionError } from './errors';
import type { FlagStore } from './flag-store';
import type { RoutingMapping } from './mapping';
import { MysqlSide } from './mysql-side';

export interface ReconcileInput {
  readonly pool: Pool;
  readonly dynamo: DynamoDBClient;
  readonly mapping: RoutingMapping;
  readonly columns: readonly ColumnInfo[];
  readonly flagStore: FlagStore;
  /** Also move the items back to the binlog band and clear cutover_row_versions (leaving dynamo-primary). */
  readonly rebase?: boolean;
  /** Re-applies running at once (default 8). */
  readonly concurrency?: number;
}

export interface ReconcileResult {
  /** Items found in DIRECT_BAND. */
  readonly directItems: number;
  /** Of those, keys MySQL did not hold yet and now does. */
  readonly reappliedKeys: number;
  readonly rebasedItems: number;
  /** The binlog sequence number the rebase used. */
  readonly rebaseSeq?: string;
}

/** The GTID sequence number of the newest transaction in the binlog (single GTID domain, checked in preflight). */
export async function currentBinlogSeq(pool: Pick<Pool, 'query'>): Promise<bigint> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS pos');
  const pos = String(rows[0]?.pos ?? '');
  if (!pos) return 0n;
  return pos.split(',').map((g) => parseMariaGtid(g).seq).reduce((a, b) => (a > b ? a : b));
}

async function* directItems(client: DynamoDBClient, mapping: RoutingMapping): AsyncGenerator<Item> {
  let start: Item | undefined;
  do {
    const out = await client.send(
      new ScanCommand({
        TableName: mapping.targetTable,
        FilterExpression: '#src = :src AND #v >= :band',
        ExpressionAttributeNames: { '#src': SOURCE_ATTR, '#v': VERSION_ATTR },
        ExpressionAttributeValues: { ':src': { S: mapping.sourceId }, ':band': { N: DIRECT_BAND.toString() } },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    yield* out.Items ?? [];
    start = out.LastEvaluatedKey;
  } while (start);
}

async function inParallel<T>(items: readonly T[], concurrency: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** Re-applies DynamoDB-first writes to MySQL (and optionally rebases them); see the module comment. */
export async function reconcileFromDynamo(input: ReconcileInput): Promise<ReconcileResult> {
  const { mapping } = input;
  const mysql = new MysqlSide(input.pool, mapping, input.columns, input.flagStore.rowVersionsTable);
  const dynamo = new DynamoSide(input.dynamo, mapping);
  const items: Item[] = [];
  for await (const item of directItems(input.dynamo, mapping)) items.push(item);
  const pkOf = (item: Item) => {
    const row = mapping.toRow(item);
    return Object.fromEntries(mapping.source.primaryKey.map((c) => [c, row[c]]));
  };
  let reapplied = 0;
  await inParallel(items, input.concurrency ?? 8, async (item) => {
    const image = isLive(item) ? mapping.toRow(item) : undefined;
    if (await mysql.applyVersioned(pkOf(item), image, item[VERSION_ATTR].N as string)) reapplied++;
  });
  if (!input.rebase) return { directItems: items.length, reappliedKeys: reapplied, rebasedItems: 0 };

  const seq = await currentBinlogSeq(input.pool);
  const version = loadVersion(seq);
  let rebased = 0;
  await inParallel(items, input.concurrency ?? 8, async (item) => {
    const was = item[VERSION_ATTR].N as string;
    if (!(await dynamo.putIfVersion({ ...item, [VERSION_ATTR]: { N: version } }, was))) {
      throw new UnsafeTransitionError(`item ${JSON.stringify(pkOf(item))} changed during the rebase: a DynamoDB-first write ran behind the fence`, mapping.sourceId);
    }
    rebased++;
  });
  await input.pool.query(`DELETE FROM ${input.flagStore.rowVersionsTable} WHERE table_id = ?`, [mapping.sourceId]);
  return { directItems: items.length, reappliedKeys: reapplied, rebasedItems: rebased, rebaseSeq: seq.toString() };
}
