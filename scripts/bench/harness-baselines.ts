/**
 * Measuring helpers every benchmark module may use for its same-run baselines: raw BatchWriteItem ingest into an
 * endpoint, timed calls into an hdr histogram, and a scratch DynamoDB table. Not a benchmark module itself (the
 * harness skips `harness-*.ts`).
 */
import { BatchWriteItemCommand, CreateTableCommand, DeleteTableCommand, type AttributeValue, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as hdr from 'hdr-histogram-js';
import { serviceEnv } from '../../src/infra/env';
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

const STACK_DIR = process.env.CUTOVER_STACK_DIR ?? path.join(__dirname, '..', '..', '.stack');

/** CPU ticks (user + system) of process `pid` so far, or undefined when it cannot be read. */
function cpuTicks(pid: number): number | undefined {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/**
 * Waits until the local stack's dynalite is idle (under 2 % of a core over 500 ms; at most `maxMs`), and returns how
 * long that took. dynalite finishes some work after answering: a DeleteTable empties the table in the background, and
 * LevelDB compacts what a big ingest wrote. Measured back to back, a figure would pay for the work of the one before
 * it (seen here: 1.5 cores busy for seconds after a 60k-row table was dropped), so each side of a ratio starts on an
 * idle endpoint. Against any other endpoint (real DynamoDB) this returns 0 at once.
 */
export async function settleEndpoint(maxMs = 30_000): Promise<number> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(STACK_DIR, 'run', 'dynalite.pid'), 'utf8').trim());
  } catch {
    return 0;
  }
  const endpoint = serviceEnv().dynamoEndpoint ?? '';
  if (!/^https?:\/\/(127\.0\.0\.1|localhost)(:|\/|$)/.test(endpoint)) return 0;
  const t0 = performance.now();
  for (;;) {
    const a = cpuTicks(pid);
    await sleep(500);
    const b = cpuTicks(pid);
    if (a === undefined || b === undefined || b - a <= 1 || performance.now() - t0 > maxMs) return performance.now() - t0;
  }
}

/** One round of a throughput figure: raw ingest just before and just after the measured run, each on an idle endpoint. */
export interface Round {
  readonly value: number;
  /** Mean of the raw ingest rates before and after. */
  readonly raw: number;
  readonly note: string;
}

/**
 * Runs `rounds` rounds of `measure` (each returning its rate and a note), each between two raw ingests of `items`
 * into fresh tables (made by `freshTable`, dropped after the round), with the endpoint settled before each part.
 * Returns the rounds and the median one by ratio: on this shared machine single runs of the same code swing by
 * ±0.1 in ratio, and the median of three keeps one outlier from deciding the figure.
 */
export async function roundsBeside(
  client: DynamoDBClient,
  rounds: number,
  items: readonly Record<string, AttributeValue>[],
  freshTable: (name: string) => Promise<string>,
  measure: (round: number) => Promise<{ value: number; note: string }>,
  log: (m: string) => void,
): Promise<{ median: Round; all: Round[] }> {
  const all: Round[] = [];
  const rawOnce = async (label: string): Promise<number> => {
    const table = await freshTable(label);
    await settleEndpoint();
    const r = await batchWriteIngest(client, table, items, 24);
    await client.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
    return r;
  };
  for (let i = 0; i < rounds; i++) {
    const before = await rawOnce(`raw${i}a`);
    await settleEndpoint();
    const m = await measure(i);
    const after = await rawOnce(`raw${i}b`);
    log(`round ${i + 1}: raw before ${before.toFixed(0)}/s, measured ${m.value.toFixed(0)}/s, raw after ${after.toFixed(0)}/s`);
    all.push({ value: m.value, raw: (before + after) / 2, note: m.note });
  }
  const byRatio = [...all].sort((a, b) => a.value / a.raw - b.value / b.raw);
  return { median: byRatio[Math.floor((byRatio.length - 1) / 2)], all };
}
