/**
 * Measuring helpers every benchmark module may use for its same-run baselines: raw BatchWriteItem ingest into an
 * endpoint, timed calls into an hdr histogram, and a scratch DynamoDB table. Not a benchmark module itself (the
 * harness skips `harness-*.ts`).
 */
import { BatchWriteItemCommand, CreateTableCommand, DeleteTableCommand, type AttributeValue, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import type * as hdr from 'hdr-histogram-js';
import { latencyHistogram } from '../../src/loadgen/metrics';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `fn(i)` for i in [0, n) with `concurrency` calls in flight; returns calls per second. */
export async function throughput(n: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await fn(next++);
  }));
  return n / ((performance.now() - t0) / 1000);
}

/** Runs `fn(i)` n times one after another, recording each call's latency (µs) in a new histogram. */
export async function latencies(n: number, fn: (i: number) => Promise<unknown>): Promise<hdr.Histogram> {
  const h = latencyHistogram();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    h.recordValue(Math.max(1, Math.round((performance.now() - t) * 1000)));
  }
  return h;
}

/** p50 and p99 of `h` in milliseconds. */
export function p50p99(h: hdr.Histogram): { p50: number; p99: number } {
  return { p50: h.getValueAtPercentile(50) / 1000, p99: h.getValueAtPercentile(99) / 1000 };
}

/** Writes `items` with BatchWriteItem (25 per request, `concurrency` in flight, UnprocessedItems retried with backoff); returns items/s. */
export async function batchWriteIngest(client: DynamoDBClient, tableName: string, items: readonly Record<string, AttributeValue>[], concurrency = 8): Promise<number> {
  const batches: WriteRequest[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })));
  const t0 = performance.now();
  await throughput(batches.length, concurrency, async (b) => {
    let pending = batches[b];
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(Math.min(1000, 20 * 2 ** attempt));
      const res = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }));
      pending = res.UnprocessedItems?.[tableName] ?? [];
    }
  });
  return items.length / ((performance.now() - t0) / 1000);
}

/** Creates an on-demand table with a string hash key `pk` (and optional string range key `sk`); returns a dropper. */
export async function scratchTable(client: DynamoDBClient, tableName: string, withSortKey = false): Promise<() => Promise<void>> {
  await client.send(new CreateTableCommand({
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, ...(withSortKey ? [{ AttributeName: 'sk', KeyType: 'RANGE' as const }] : [])],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, ...(withSortKey ? [{ AttributeName: 'sk', AttributeType: 'S' as const }] : [])],
  }));
  return async () => {
    await client.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
  };
}

/** A ~200-byte item shaped like a migrated row (version and source attributes included). */
export function sampleItem(i: number, prefix = 'k'): Record<string, AttributeValue> {
  return {
    pk: { S: `${prefix}#${i}` },
    email: { S: `user${i}@example.com` },
    total: { N: `${(i % 100000) / 100}` },
    status: { S: ['new', 'paid', 'shipped'][i % 3] },
    profile: { M: { city: { S: 'Lisbon' }, tags: { L: [{ S: 'a' }, { S: 'b' }] } } },
    created_at: { S: '2026-11-25 08:00:00.123456' },
    _v: { N: String(1_000_000_000 + i) },
    _src: { S: 'bench.rows' },
  };
}
