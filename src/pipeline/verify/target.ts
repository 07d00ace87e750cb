/**
 * Reading the target for verification: strongly consistent point reads (BatchGetItem) of the keys the mapping says
 * the source rows have, and a Scan filtered on _src for the items of one source table (to find extras).
 *
 * Invariants:
 * - Every requested key gets an answer: `UnprocessedKeys` are re-requested with back-off until none remain; a key
 *   absent from the result is absent from the table.
 * - Throttling (ProvisionedThroughputExceeded, ThrottlingException, RequestLimitExceeded) and transient network
 *   errors back off and retry; anything else propagates.
 * - Reads are strongly consistent, so an item written before the read started is seen.
 */
import { BatchGetItemCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SOURCE_ATTR, type Item } from '../item';
import { Backoff, sleep } from '../backfill/pacing';

const THROTTLE_NAMES = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'TimeoutError']);

/** True for errors worth retrying (throttling, 5xx, network). */
export function isRetriableAwsError(err: unknown): boolean {
  const e = err as { name?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number }; code?: string };
  return THROTTLE_NAMES.has(e?.name ?? '') || e?.$retryable !== undefined || (e?.$metadata?.httpStatusCode ?? 0) >= 500 || ['ECONNRESET', 'ECONNREFUSED', 'EPIPE'].includes(e?.code ?? '');
}

async function withRetry<T>(what: () => Promise<T>, onThrottle?: () => void): Promise<T> {
  const backoff = new Backoff(50, 5_000);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await what();
    } catch (err) {
      if (!isRetriableAwsError(err) || attempt >= 20) throw err;
      onThrottle?.();
      await sleep(backoff.next());
    }
  }
}

/** A stable text of an item key (the key attributes only, in key-schema order). */
export function itemKeyText(key: Item, keyNames: readonly string[]): string {
  return JSON.stringify(keyNames.map((k) => key[k]));
}

/**
 * Strongly consistent reads of `keys` (duplicates allowed), `concurrency` requests of ≤ 100 keys in flight.
 * Returns found items by itemKeyText.
 */
export async function batchGet(
  client: DynamoDBClient,
  table: string,
  keyNames: readonly string[],
  keys: readonly Item[],
  opts: { concurrency?: number; onThrottle?: () => void } = {},
): Promise<Map<string, Item>> {
  const found = new Map<string, Item>();
  const unique = new Map<string, Item>();
  for (const k of keys) unique.set(itemKeyText(k, keyNames), k);
  const all = [...unique.values()];
  const batches: Item[][] = [];
  for (let i = 0; i < all.length; i += 100) batches.push(all.slice(i, i + 100));
  const worker = async (): Promise<void> => {
    for (let batch = batches.shift(); batch; batch = batches.shift()) {
      let pending: Item[] = batch;
      const backoff = new Backoff(50, 2_000);
      while (pending.length) {
        const r = await withRetry(() => client.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } })), opts.onThrottle);
        for (const item of r.Responses?.[table] ?? []) found.set(itemKeyText(item, keyNames), item);
        pending = (r.UnprocessedKeys?.[table]?.Keys as Item[] | undefined) ?? [];
        if (pending.length) {
          opts.onThrottle?.();
          await sleep(backoff.next());
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 4, batches.length)) }, worker));
  return found;
}

/** One page of a filtered scan and where to continue. */
export interface ScanPage {
  readonly items: Item[];
  readonly next: Item | undefined;
}

/**
 * One page of the items whose _src is `sourceId` (tombstones included: the caller decides), in segment `segment` of
 * `totalSegments`. Pass the previous page's `next` as `start`; `next` undefined means the segment is done.
 */
export async function scanSourcePage(
  client: DynamoDBClient,
  table: string,
  sourceId: string,
  start: Item | undefined,
  opts: { segment?: number; totalSegments?: number; limit?: number; onThrottle?: () => void } = {},
): Promise<ScanPage> {
  const segments = opts.totalSegments && opts.totalSegments > 1 ? { Segment: opts.segment ?? 0, TotalSegments: opts.totalSegments } : {};
  const r = await withRetry(
    () =>
      client.send(
        new ScanCommand({
          TableName: table,
          ConsistentRead: true,
          FilterExpression: '#src = :src',
          ExpressionAttributeNames: { '#src': SOURCE_ATTR },
          ExpressionAttributeValues: { ':src': { S: sourceId } },
          ExclusiveStartKey: start,
          Limit: opts.limit,
          ...segments,
        }),
      ),
    opts.onThrottle,
  );
  return { items: (r.Items ?? []) as Item[], next: r.LastEvaluatedKey as Item | undefined };
}
