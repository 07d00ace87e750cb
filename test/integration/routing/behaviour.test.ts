/**
 * Routing behaviour on the real stack: shadow reads catch a deliberately corrupted item and stay silent when the
 * stores agree; a failing background write never fails the request, is counted with its key, and reconcile repairs
 * it; fenced writes are held (then released into the new mode) or time out with nothing written; partition queries
 * return the same rows in the same order from either store; the read share is sticky per partition; an instance cut
 * off from its flag source stops writing (self-fencing) and resumes when it can confirm its flags again.
 */
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { FenceTimeoutError } from '../../../src/routing/errors';
import { readsDynamo } from '../../../src/routing/flags';
import type { MigratingTable } from '../../../src/routing/migrating-table';
import { MysqlSide } from '../../../src/routing/mysql-side';
import { reconcileFromDynamo } from '../../../src/routing/reconcile';
import type { ShadowResult } from '../../../src/routing/shadow-read';
import { createFixture, type Fixture } from './support/fixture';

let fx: Fixture;
const results: ShadowResult[] = [];
let t: MigratingTable;

beforeAll(async () => {
  fx = await createFixture(
    'rt_beh',
    ['CREATE TABLE ev (tenant INT NOT NULL, seq BIGINT NOT NULL, body VARCHAR(100) NOT NULL, score DECIMAL(8,3), PRIMARY KEY (tenant, seq))'],
    { ev: { partitionKey: { attribute: 'pk', template: 'T#{tenant}' }, sortKey: { attribute: 'sk', template: '{seq}', type: 'N' }, nulls: 'null' } },
    { pk: 'S', sk: 'N' },
  );
  t = await fx.open('ev', { shadow: { onResult: (r) => results.push(r), maxConcurrent: 64 } });
});

afterAll(() => fx?.close());

const tableId = () => `${fx.db}.ev`;
const ev = (tenant: number, seq: number, body = `b${seq}`) => ({ tenant, seq: String(seq), body, score: `${seq}.250` });

/** Moves the write mode stepwise to `to` (no traffic here, so the barrier protocol is not needed). */
async function writeMode(to: 'mysql-only' | 'mysql-primary' | 'fenced' | 'dynamo-primary') {
  const order = ['mysql-only', 'mysql-primary', 'fenced', 'dynamo-primary'] as const;
  for (;;) {
    const cur = await fx.flagStore.get(tableId());
    const i = order.indexOf(cur.writeMode as (typeof order)[number]);
    const j = order.indexOf(to);
    if (i === j) break;
    await fx.flagStore.update(tableId(), { writeMode: order[i + (j > i ? 1 : -1)] });
  }
  await t.refreshFlags();
}

it('percentage reads: a stable share of partitions reads DynamoDB, each partition always the same store', async () => {
  // mysql-only and no CDC in this file: rows exist only in MySQL, so a partition routed to DynamoDB reads as absent.
  await writeMode('mysql-only');
  for (let p = 100; p < 160; p++) for (const s of [1, 2]) await t.insert(ev(p, s));
  await fx.flagStore.update(tableId(), { readPercent: 40 });
  await t.refreshFlags();
  const { mapping } = await fx.mapping('ev');
  const seen = new Map<number, boolean>();
  for (let round = 0; round < 2; round++) {
    for (let p = 100; p < 160; p++) {
      const a = (await t.get({ tenant: p, seq: '1' })) === undefined;
      const b = (await t.get({ tenant: p, seq: '2' })) === undefined;
      const q = (await t.query({ tenant: p })).length === 0;
      expect([b, q]).toEqual([a, a]); // one partition, one store, for gets and queries alike
      if (round > 0) expect(a).toBe(seen.get(p)); // sticky
      seen.set(p, a);
      expect(a).toBe(readsDynamo(t.flags, mapping.sourceId, JSON.stringify([p])));
    }
  }
  const n = [...seen.values()].filter(Boolean).length;
  expect(n).toBeGreaterThan(10);
  expect(n).toBeLessThan(40);
  await fx.flagStore.update(tableId(), { readPercent: 0 });
  await t.refreshFlags();
  for (let p = 100; p < 160; p++) for (const s of [1, 2]) await t.delete({ tenant: p, seq: String(s) });
});

it('answers partition queries identically (rows and sort-key order) from either store', async () => {
  await writeMode('dynamo-primary');
  // Sort keys whose string order differs from their numeric order.
  for (const seq of [10, 9, 100, 2, 11]) await t.put(ev(1, seq));
  await t.put(ev(2, 5));
  await t.delete({ tenant: 1, seq: '11' });
  await t.settle();
  await writeMode('fenced');
  await fx.flagStore.update(tableId(), { readPercent: 0 });
  await t.refreshFlags();
  const fromMysql = await t.query({ tenant: 1 });
  await fx.flagStore.update(tableId(), { readPercent: 100 });
  await t.refreshFlags();
  const fromDynamo = await t.query({ tenant: 1 });
  expect(fromMysql.map((r) => r.seq)).toEqual(['2', '9', '10', '100']);
  expect(fromDynamo).toEqual(fromMysql);
  await expect(t.query({ seq: '1' })).rejects.toThrow(/exactly the partition columns \[tenant\]/);
});

it('shadow reads: no mismatch while the stores agree, a mismatch naming key and column after corruption, response unchanged', async () => {
  await fx.flagStore.update(tableId(), { readPercent: 0, shadowReadFraction: 1 });
  await t.refreshFlags();
  results.length = 0;
  for (let i = 0; i < 20; i++) {
    await t.get({ tenant: 1, seq: '9' });
    await t.query({ tenant: 1 });
    await t.get({ tenant: 1, seq: '11' }); // absent in both (a tombstone in DynamoDB)
  }
  await t.settle();
  expect(results).toHaveLength(60);
  expect(results.filter((r) => r.outcome !== 'match')).toEqual([]);

  // Corrupt one item behind the layer's back.
  const { mapping } = await fx.mapping('ev');
  await fx.dynamo.send(
    new UpdateItemCommand({ TableName: fx.dynamoTable, Key: mapping.keyOf({ tenant: 1, seq: '9' }), UpdateExpression: 'SET body = :x', ExpressionAttributeValues: { ':x': { S: 'corrupt' } } }),
  );
  results.length = 0;
  const before = t.stats().readMismatches;
  expect(await t.get({ tenant: 1, seq: '9' })).toEqual(ev(1, 9)); // MySQL serves: the response is the primary's
  await fx.flagStore.update(tableId(), { readPercent: 100 });
  await t.refreshFlags();
  expect(await t.get({ tenant: 1, seq: '9' })).toEqual({ ...ev(1, 9), body: 'corrupt' }); // DynamoDB serves its own
  await t.settle();
  expect(results.map((r) => [r.outcome, r.primaryStore, r.key, r.columns])).toEqual([
    ['mismatch', 'mysql', '[1,"9"]', ['body']],
    ['mismatch', 'dynamodb', '[1,"9"]', ['body']],
  ]);
  expect(t.stats().readMismatches).toBe(before + 2);
  await fx.flagStore.update(tableId(), { shadowReadFraction: 0 });
});

it('a failing background MySQL write never fails the request; it is counted with its key and reconcile repairs it', async () => {
  await writeMode('dynamo-primary');
  const { mapping, columns } = await fx.mapping('ev');
  const t2 = await fx.open('ev', { background: { attempts: 2, baseDelayMs: 5 } });
  const before = t2.stats().backgroundWriteErrors;
  await fx.pool.query('RENAME TABLE ev TO ev_hidden'); // every MySQL write to ev now fails
  try {
    await expect(t2.update({ tenant: 2, seq: '5' }, { body: 'acknowledged' })).resolves.toBe(true);
    await t2.settle();
  } finally {
    await fx.pool.query('RENAME TABLE ev_hidden TO ev');
  }
  expect(t2.stats().backgroundWriteErrors).toBe(before + 1);
  expect(t2.failedBackgroundKeys.at(-1)).toMatchObject({ kind: 'backgroundWrite', key: '[2,"5"]' });
  const mysql = new MysqlSide(fx.pool, mapping, columns, fx.flagStore.rowVersionsTable);
  expect((await mysql.get({ tenant: 2, seq: '5' }))?.body).toBe('b5');
  const r = await reconcileFromDynamo({ pool: fx.pool, dynamo: fx.dynamo, mapping, columns, flagStore: fx.flagStore });
  expect(r.reappliedKeys).toBe(1);
  expect((await mysql.get({ tenant: 2, seq: '5' }))?.body).toBe('acknowledged');
  const again = await reconcileFromDynamo({ pool: fx.pool, dynamo: fx.dynamo, mapping, columns, flagStore: fx.flagStore });
  expect(again.reappliedKeys).toBe(0); // idempotent
});

it('fenced: writes are held, not failed, and run under the next mode once it is applied; or time out with nothing written', async () => {
  await writeMode('fenced');
  const held = t.put(ev(3, 1, 'held'));
  let settled = false;
  void held.then(() => (settled = true));
  await new Promise((r) => setTimeout(r, 300));
  expect(settled).toBe(false);
  const { mapping, columns } = await fx.mapping('ev');
  const mysql = new MysqlSide(fx.pool, mapping, columns, fx.flagStore.rowVersionsTable);
  expect(await mysql.get({ tenant: 3, seq: '1' })).toBeUndefined();
  await fx.flagStore.update(tableId(), { writeMode: 'dynamo-primary' });
  await held; // released by the background refresh, not by refreshFlags
  expect(t.stats().fenceWaits).toBeGreaterThan(0);
  await t.settle();
  expect((await mysql.get({ tenant: 3, seq: '1' }))?.body).toBe('held');

  await writeMode('fenced');
  const quick = await fx.open('ev', { fenceTimeoutMs: 200 });
  await expect(quick.put(ev(3, 2, 'never'))).rejects.toBeInstanceOf(FenceTimeoutError);
  expect(await mysql.get({ tenant: 3, seq: '2' })).toBeUndefined();
  expect(quick.stats().fenceTimeouts).toBe(1);
});

it('self-fences: an instance that cannot confirm its flags holds writes (reads go on), and resumes when it can', async () => {
  let down = false;
  const source = { get: async (id: string) => (down ? Promise.reject(new Error('flag store unreachable')) : fx.flagStore.get(id)) };
  // fenceTimeoutMs bounds both the hold that must fail (cut off) and the hold that must end (the first successful
  // round after the store is back: a flag read + a heartbeat, which a loaded CI machine can stretch past 400 ms).
  const cut = await fx.open('ev', { flagSource: source, staleMs: 150, fenceTimeoutMs: 3000 });
  await writeMode('mysql-only');
  await fx.flagStore.update(tableId(), { readPercent: 0 });
  await cut.refreshFlags();
  await cut.put(ev(4, 1, 'before'));
  down = true;
  await new Promise((r) => setTimeout(r, 250));
  await expect(cut.put(ev(4, 2, 'while cut off'))).rejects.toBeInstanceOf(FenceTimeoutError);
  expect(await cut.get({ tenant: 4, seq: '1' })).toMatchObject({ body: 'before' });
  down = false;
  const resumed = cut.put(ev(4, 3, 'after'));
  await expect(resumed).resolves.toBeUndefined();
  expect(await cut.get({ tenant: 4, seq: '2' })).toBeUndefined();
  expect(await cut.get({ tenant: 4, seq: '3' })).toMatchObject({ body: 'after' });
});
