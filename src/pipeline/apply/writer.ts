/**
 * The two ways planned writes reach DynamoDB.
 *
 * exclusive (this consumer is the only writer of these keys; docs/design.md "Apply" proves when):
 *   stored versions come from the VersionCache or one BatchGetItem per 100 unknown keys; writes whose version is not
 *   higher are dropped; the rest go out in BatchWriteItem requests of 25, UnprocessedItems retried until written.
 *   Before every request `guard()` must pass (the partition lease is still valid with margin), and the request is
 *   aborted when the window closes (so no SDK-internal retry goes out later either), so a consumer that
 *   lost its partition stops writing blind before anyone else may start.
 * shared (anyone may write): one PutItem per key with `attribute_not_exists(_v) OR _v < :v`; a failed condition
 *   means a newer state is stored and the write is correctly skipped.
 *
 * Both: throttling slows the shared RateLimiter and retries; other transient errors retry with backoff; a
 * ValidationException isolates the offending item (single writes) and dead-letters it. Any error of unknown outcome
 * resets the cache, because the stored version of the keys involved is no longer known.
 */
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  PutItemCommand,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { performance } from 'node:perf_hooks';
import { VERSION_ATTR, type Item } from '../item';
import type { DeadLetter, PlannedWrite } from './plan';
import { keyIdOf } from './plan';
import type { Slots } from './slots';
import { isThrottle, isTransient, sleep, type RateLimiter } from './throttle';
import type { VersionCache } from './version-cache';

/** Everything a writer needs: client, pacing, concurrency, cancellation and the lease guard. */
export interface WriterContext {
  readonly client: DynamoDBClient;
  readonly limiter: RateLimiter;
  /**
   * BatchWriteItem/BatchGetItem requests (exclusive) in flight, shared by every partition of the process (./slots.ts);
   * keys in one plan are distinct, so order is free.
   */
  readonly batchSlots: Slots;
  /** Parallel conditional PutItems (shared). */
  readonly conditionalConcurrency: number;
  readonly signal?: AbortSignal;
  /**
   * Throws when blind writes are no longer allowed (lease expiring); checked before every exclusive request. Returns
   * the milliseconds left: the request (and any retry the SDK makes inside it) is aborted when they run out.
   */
  readonly guard?: () => number | void;
  /** Test only: skip every version comparison (to show the property test catches it). */
  readonly unsafeNoVersionCheck?: boolean;
}

/** Writes made, writes skipped as stale, dead letters, and read round trips. */
export interface WriteOutcome {
  written: number;
  skipped: number;
  deadLetters: DeadLetter[];
  /** BatchGetItem round trips made for unknown keys. */
  reads: number;
}

async function pool<T>(items: readonly T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  let failed: unknown;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (i < items.length && failed === undefined) {
        const x = items[i++];
        try {
          await f(x);
        } catch (e) {
          failed ??= e;
        }
      }
    }),
  );
  if (failed !== undefined) throw failed;
}

/**
 * Runs `f` until it succeeds, backing off on transient errors and slowing the limiter on throttles. The SDK client
 * (owned by the caller) may already retry internally: a response that needed more than one attempt counts as a
 * throttle signal too, so the pacing adapts whoever retried.
 */
async function retrying<T>(ctx: WriterContext, f: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await f();
      if (((r as { $metadata?: { attempts?: number } })?.$metadata?.attempts ?? 1) > 1) ctx.limiter.onThrottle();
      return r;
    } catch (e) {
      if (!isTransient(e) || ctx.signal?.aborted) throw e;
      if (isThrottle(e)) ctx.limiter.onThrottle();
      await sleep(Math.min(5_000, 50 * 2 ** Math.min(attempt, 7)) * (0.5 + Math.random()), ctx.signal);
    }
  }
}

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** Reads the stored _v of every write whose key the cache does not know, and records it in the cache. */
async function readUnknown(ctx: WriterContext, writes: readonly PlannedWrite[], cache: VersionCache): Promise<number> {
  const unknown = writes.filter((w) => cache.lookup(w.keyId) === undefined);
  const groups = chunks(unknown, 100);
  await pool(groups, ctx.batchSlots.size, (group) => ctx.batchSlots.run(async () => {
    const byTable = new Map<string, Item[]>();
    for (const w of group) byTable.set(w.table, [...(byTable.get(w.table) ?? []), w.key]);
    let request: Record<string, { Keys: Item[]; ProjectionExpression: string; ExpressionAttributeNames: Record<string, string>; ConsistentRead: boolean }> = {};
    const names = new Map<string, string[]>();
    for (const [table, keys] of byTable) {
      const attrs = Object.keys(keys[0]);
      names.set(table, attrs);
      request[table] = {
        Keys: keys,
        ProjectionExpression: ['#v', ...attrs.map((_, i) => `#k${i}`)].join(', '),
        ExpressionAttributeNames: { '#v': VERSION_ATTR, ...Object.fromEntries(attrs.map((a, i) => [`#k${i}`, a])) },
        ConsistentRead: true,
      };
    }
    const seen = new Set<string>();
    for (let attempt = 0; Object.keys(request).length; attempt++) {
      if (attempt > 0) await sleep(Math.min(2_000, 25 * 2 ** attempt), ctx.signal);
      const r = await retrying(ctx, () => ctx.client.send(new BatchGetItemCommand({ RequestItems: request })));
      for (const [table, items] of Object.entries(r.Responses ?? {})) {
        for (const it of items) {
          const key = Object.fromEntries((names.get(table) ?? []).map((a) => [a, it[a]]));
          const id = keyIdOf(table, key);
          seen.add(id);
          cache.set(id, it[VERSION_ATTR]?.N !== undefined ? BigInt(it[VERSION_ATTR].N) : -1n);
        }
      }
      request = (r.UnprocessedKeys ?? {}) as typeof request;
    }
    for (const w of group) if (!seen.has(w.keyId)) cache.set(w.keyId, null);
  }));
  return groups.length;
}

/** Writes `items` with BatchWriteItem until none is unprocessed; isolates items DynamoDB rejects as invalid. */
async function batchWrite(ctx: WriterContext, writes: PlannedWrite[], dead: DeadLetter[]): Promise<PlannedWrite[]> {
  const done: PlannedWrite[] = [];
  await pool(chunks(writes, 25), ctx.batchSlots.size, (chunk) => ctx.batchSlots.run(async () => {
    let pending: PlannedWrite[] = chunk;
    for (let attempt = 0; pending.length; attempt++) {
      ctx.guard?.();
      await ctx.limiter.take(pending.length, ctx.signal);
      const byTable: Record<string, WriteRequest[]> = {};
      for (const w of pending) (byTable[w.table] ??= []).push({ PutRequest: { Item: w.item } });
      let unprocessed: Record<string, WriteRequest[]>;
      try {
        const r = await retrying(ctx, () => guarded(ctx, (abortSignal) => ctx.client.send(new BatchWriteItemCommand({ RequestItems: byTable }), { abortSignal })));
        unprocessed = (r.UnprocessedItems ?? {}) as Record<string, WriteRequest[]>;
      } catch (e) {
        if ((e as Error).name !== 'ValidationException') throw e;
        for (const w of pending) {
          try {
            await retrying(ctx, () => guarded(ctx, (abortSignal) => ctx.client.send(new PutItemCommand({ TableName: w.table, Item: w.item }), { abortSignal })));
            done.push(w);
          } catch (e2) {
            if ((e2 as Error).name !== 'ValidationException') throw e2;
            dead.push({ event: w.event, reason: 'validation', error: (e2 as Error).message });
          }
        }
        return;
      }
      const left = new Set<string>();
      for (const [table, reqs] of Object.entries(unprocessed)) for (const q of reqs) if (q.PutRequest?.Item) left.add(keyIdOf(table, pickKey(q.PutRequest.Item, pending.find((p) => p.table === table)?.key)));
      for (const w of pending) if (!left.has(w.keyId)) done.push(w);
      pending = pending.filter((w) => left.has(w.keyId));
      if (pending.length) {
        ctx.limiter.onThrottle();
        await sleep(Math.min(5_000, 50 * 2 ** Math.min(attempt, 7)) * (0.5 + Math.random()), ctx.signal);
      } else ctx.limiter.onSuccess();
    }
  }));
  return done;
}

/**
 * Runs a blind write under the guard: refused once the window closed, aborted (SDK retries included) when it does.
 * A request the window's timer aborted is sent again only under a new window: when a lease renewal (a successful
 * conditional write on the same owner and epoch, so no one else can hold the partition) extended it meanwhile.
 */
async function guarded<T>(ctx: WriterContext, send: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  for (;;) {
    const left = ctx.guard?.(); // throws LeaseLostError once the window is closed
    const closesAt = typeof left === 'number' ? performance.now() + left : undefined;
    const signals = [ctx.signal, typeof left === 'number' ? AbortSignal.timeout(Math.max(1, Math.floor(left))) : undefined].filter((x): x is AbortSignal => x !== undefined);
    try {
      return await send(signals.length > 1 ? AbortSignal.any(signals) : signals[0]);
    } catch (e) {
      if ((e as Error).name !== 'AbortError' || ctx.signal?.aborted || closesAt === undefined) throw e;
      // The window's timer aborted the request. It may fire a moment before the guard's clock says the window closed
      // (timer granularity, Math.floor): wait until the window the request was sent under has closed, then ask the
      // guard again. Without the wait the AbortError escaped as a fatal error (found by
      // test/faults/dynalite-outage.test.ts: DynamoDB down 10 s stopped the ETL). The guard then throws
      // LeaseLostError, or, if a renewal extended the window while the request was slow, the write (idempotent and
      // versioned) goes out again under the new window. Waiting instead until the guard threw held the chunk, and with
      // it every partition's fetches, for up to 100 windows while renewals kept succeeding: the ETL applied nothing
      // for minutes on a loaded machine (found by test/faults/kafka-outage.fault.ts, 2026-11-25 15:10 UTC).
      const rest = closesAt - performance.now();
      if (rest > 0) await new Promise((r) => setTimeout(r, Math.ceil(rest) + 1));
    }
  }
}

function pickKey(item: Item, like: Item | undefined): Item {
  return Object.fromEntries(Object.keys(like ?? {}).map((k) => [k, item[k]]));
}

/** The exclusive path (see the module comment). Updates `cache` only with durable facts. */
export async function writeExclusive(ctx: WriterContext, writes: readonly PlannedWrite[], cache: VersionCache): Promise<WriteOutcome> {
  const dead: DeadLetter[] = [];
  try {
    const reads = ctx.unsafeNoVersionCheck ? 0 : await readUnknown(ctx, writes, cache);
    const fresh = ctx.unsafeNoVersionCheck
      ? [...writes]
      : writes.filter((w) => {
          const stored = cache.lookup(w.keyId);
          return stored === null || stored === undefined || w.version > stored;
        });
    const done = await batchWrite(ctx, fresh, dead);
    for (const w of done) cache.set(w.keyId, w.version);
    return { written: done.length, skipped: writes.length - fresh.length, deadLetters: dead, reads };
  } catch (e) {
    cache.reset();
    throw e;
  }
}

/** The shared path: conditional single writes; correct whoever else writes the same keys. */
export async function writeShared(ctx: WriterContext, writes: readonly PlannedWrite[]): Promise<WriteOutcome> {
  const dead: DeadLetter[] = [];
  let written = 0;
  let skipped = 0;
  await pool(writes, ctx.conditionalConcurrency, async (w) => {
    await ctx.limiter.take(1, ctx.signal);
    try {
      await retrying(ctx, () =>
        ctx.client.send(
          new PutItemCommand(
            ctx.unsafeNoVersionCheck
              ? { TableName: w.table, Item: w.item }
              : {
                  TableName: w.table,
                  Item: w.item,
                  ConditionExpression: 'attribute_not_exists(#v) OR #v < :v',
                  ExpressionAttributeNames: { '#v': VERSION_ATTR },
                  ExpressionAttributeValues: { ':v': { N: w.version.toString() } },
                },
          ),
        ),
      );
      written++;
      ctx.limiter.onSuccess();
    } catch (e) {
      const name = (e as Error).name;
      if (name === 'ConditionalCheckFailedException') skipped++;
      else if (name === 'ValidationException') dead.push({ event: w.event, reason: 'validation', error: (e as Error).message });
      else throw e;
    }
  });
  return { written, skipped, deadLetters: dead, reads: 0 };
}
