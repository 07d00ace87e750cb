/**
 * Removes tombstones once the migration is complete (no late load or replay can arrive any more). Each delete is
 * conditional on the tombstone still being the same one (_del = true and the same _v), so a row re-created meanwhile
 * is never removed. Safe to run again after an interruption.
 */
import { DeleteItemCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SOURCE_ATTR, TOMBSTONE_ATTR, VERSION_ATTR, type Item } from '../item';
import type { CompiledMapping } from '../transform/mapping';

/** Items scanned and tombstones removed. */
export interface CleanupResult {
  readonly scanned: number;
  readonly removed: number;
}

/** Deletes every tombstone the `mappings` wrote (only their sources' items, by _src) from their target tables. */
export async function cleanupTombstones(client: DynamoDBClient, mappings: readonly CompiledMapping[], opts: { signal?: AbortSignal; concurrency?: number } = {}): Promise<CleanupResult> {
  let scanned = 0;
  let removed = 0;
  const tables = new Map<string, CompiledMapping[]>();
  for (const m of mappings) tables.set(m.targetTable, [...(tables.get(m.targetTable) ?? []), m]);
  for (const [table, ms] of tables) {
    const sources = ms.map((m) => m.sourceId);
    const keyAttrs = [ms[0].partitionKey, ...(ms[0].sortKey ? [ms[0].sortKey] : [])];
    let start: Item | undefined;
    do {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const page = await client.send(
        new ScanCommand({
          TableName: table,
          ExclusiveStartKey: start,
          FilterExpression: `#d = :t AND #s IN (${sources.map((_, i) => `:s${i}`).join(', ')})`,
          ExpressionAttributeNames: { '#d': TOMBSTONE_ATTR, '#s': SOURCE_ATTR },
          ExpressionAttributeValues: { ':t': { BOOL: true }, ...Object.fromEntries(sources.map((s, i) => [`:s${i}`, { S: s }])) },
        }),
      );
      scanned += page.ScannedCount ?? 0;
      const items = page.Items ?? [];
      let i = 0;
      await Promise.all(
        Array.from({ length: opts.concurrency ?? 8 }, async () => {
          while (i < items.length) {
            const it = items[i++];
            try {
              await client.send(
                new DeleteItemCommand({
                  TableName: table,
                  Key: Object.fromEntries(keyAttrs.map((k) => [k, it[k]])),
                  ConditionExpression: '#d = :t AND #v = :v',
                  ExpressionAttributeNames: { '#d': TOMBSTONE_ATTR, '#v': VERSION_ATTR },
                  ExpressionAttributeValues: { ':t': { BOOL: true }, ':v': it[VERSION_ATTR] },
                }),
              );
              removed++;
            } catch (e) {
              if ((e as Error).name !== 'ConditionalCheckFailedException') throw e;
            }
          }
        }),
      );
      start = page.LastEvaluatedKey;
    } while (start);
  }
  return { scanned, removed };
}
