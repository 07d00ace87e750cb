/**
 * Single-table design through the routing layer, on real MariaDB + dynalite: two source tables share one DynamoDB
 * table and even one partition-key value (users `USER#{id}` / `PROFILE`, orders `USER#{user_id}` / `ORDER#{order_id}`,
 * with order ids equal to user ids). In the DynamoDB-served modes (dynamo-primary, dynamo-only) get, put, insert,
 * update, delete and the partition query of one source never return, count or touch the other source's items (told
 * apart by `_src`), tombstones included; reconcile (and its rebase) sees only its own source's items; MySQL ends equal
 * to DynamoDB per source. Back in mysql-primary with every read served by DynamoDB, shadow writes land per source and
 * shadow reads of the shared partitions compare clean.
 */
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import type { RowDataPacket } from 'mysql2/promise';
import { SOURCE_ATTR, TOMBSTONE_ATTR } from '../../../src/pipeline/item';
import type { CompiledMapping } from '../../../src/pipeline/transform/mapping';
import { validateSharedTargets } from '../../../src/pipeline/transform/targets';
import { DuplicateKeyError } from '../../../src/routing/errors';
import type { WriteMode } from '../../../src/routing/flags';
import type { MigratingTable } from '../../../src/routing/migrating-table';
import { reconcileFromDynamo } from '../../../src/routing/reconcile';
import { createFixture, type Fixture } from './support/fixture';

let fx: Fixture;
let users: MigratingTable;
let orders: MigratingTable;

beforeAll(async () => {
  fx = await createFixture(
    'rt_shared',
    [
      'CREATE TABLE users (id INT NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)',
      'CREATE TABLE orders (user_id INT NOT NULL, order_id INT NOT NULL, total DECIMAL(8,2) NOT NULL, PRIMARY KEY (user_id, order_id))',
    ],
    {
      users: { partitionKey: { attribute: 'pk', template: 'USER#{id}' }, sortKey: { attribute: 'sk', template: 'PROFILE' }, nulls: 'null' },
      orders: { partitionKey: { attribute: 'pk', template: 'USER#{user_id}' }, sortKey: { attribute: 'sk', template: 'ORDER#{order_id}' }, nulls: 'null' },
    },
    { pk: 'S', sk: 'S' },
  );
  users = await fx.open('users');
  orders = await fx.open('orders');
});

afterAll(() => fx?.close());

const ORDER: WriteMode[] = ['mysql-only', 'mysql-primary', 'fenced', 'dynamo-primary', 'dynamo-only'];

/** Steps both tables' write mode to `to` (no concurrent traffic here, so no barrier is needed). */
async function setMode(to: WriteMode): Promise<void> {
  for (const [name, t] of [['users', users], ['orders', orders]] as const) {
    const id = `${fx.db}.${name}`;
    let i = ORDER.indexOf((await fx.flagStore.get(id)).writeMode);
    while (i !== ORDER.indexOf(to)) {
      i += i < ORDER.indexOf(to) ? 1 : -1;
      await fx.flagStore.update(id, { writeMode: ORDER[i] });
    }
    await t.refreshFlags();
    expect(t.flags.writeMode).toBe(to);
  }
}

/** The raw items of partition `pk` (tombstones and every source included). */
async function rawPartition(pk: string): Promise<Record<string, string>[]> {
  const out = await fx.dynamo.send(new QueryCommand({ TableName: fx.dynamoTable, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: pk } }, ConsistentRead: true }));
  return (out.Items ?? []).map((i) => ({ sk: i.sk.S as string, src: i[SOURCE_ATTR].S as string, del: String(i[TOMBSTONE_ATTR]?.BOOL ?? false) }));
}

const user = (id: number, name: string) => ({ id, name });
const order = (userId: number, orderId: number, total: string) => ({ user_id: userId, order_id: orderId, total });

it('the two mappings are a legal single-table design sharing partition-key values', async () => {
  const u = (await fx.mapping('users')).mapping as CompiledMapping;
  const o = (await fx.mapping('orders')).mapping as CompiledMapping;
  expect(() => validateSharedTargets([u, o])).not.toThrow();
  expect(u.keyOf({ id: 7 }).pk).toEqual(o.keyOf({ user_id: 7, order_id: 7 }).pk); // one partition, two sources
});

it('dynamo-primary: every operation of one source sees and touches only its own items in a shared partition', async () => {
  await setMode('dynamo-primary');
  await users.put(user(7, 'ann'));
  await users.put(user(8, 'bob'));
  await orders.put(order(7, 7, '10.00'));
  await orders.put(order(7, 8, '20.00'));
  await orders.put(order(8, 7, '30.00'));

  expect(await users.query({ id: 7 })).toEqual([user(7, 'ann')]);
  expect(await orders.query({ user_id: 7 })).toEqual([order(7, 7, '10.00'), order(7, 8, '20.00')]);
  expect(await users.get({ id: 7 })).toEqual(user(7, 'ann'));
  expect(await orders.get({ user_id: 7, order_id: 7 })).toEqual(order(7, 7, '10.00'));

  // Writes to absent keys in a populated partition find nothing of the other source.
  expect(await orders.update({ user_id: 7, order_id: 99 }, { total: '1.00' })).toBe(false);
  expect(await orders.delete({ user_id: 7, order_id: 99 })).toBe(false);
  expect(await users.update({ id: 7 }, { name: 'ann2' })).toBe(true);
  expect(await orders.delete({ user_id: 7, order_id: 7 })).toBe(true);
  expect(await users.delete({ id: 8 })).toBe(true);
  expect(await users.delete({ id: 8 })).toBe(false); // its tombstone, not user 8's order, answers

  expect(await users.query({ id: 7 })).toEqual([user(7, 'ann2')]);
  expect(await orders.query({ user_id: 7 })).toEqual([order(7, 8, '20.00')]);
  expect(await users.query({ id: 8 })).toEqual([]);
  expect(await orders.query({ user_id: 8 })).toEqual([order(8, 7, '30.00')]);
  expect(await users.get({ id: 8 })).toBeUndefined();
  expect(await orders.get({ user_id: 8, order_id: 7 })).toEqual(order(8, 7, '30.00'));

  // The raw partitions: each item carries its own source, tombstones included.
  const u = `${fx.db}.users`;
  const o = `${fx.db}.orders`;
  expect(await rawPartition('USER#7')).toEqual([
    { sk: 'ORDER#7', src: o, del: 'true' },
    { sk: 'ORDER#8', src: o, del: 'false' },
    { sk: 'PROFILE', src: u, del: 'false' },
  ]);
  expect(await rawPartition('USER#8')).toEqual([
    { sk: 'ORDER#7', src: o, del: 'false' },
    { sk: 'PROFILE', src: u, del: 'true' },
  ]);
});

it('dynamo-only: insert, duplicate detection and queries stay per source', async () => {
  await setMode('dynamo-only');
  await expect(users.insert(user(7, 'dup'))).rejects.toBeInstanceOf(DuplicateKeyError);
  // order 8 of user 8 does not exist, though user 8's partition holds another source's tombstone and an order 7.
  await expect(orders.insert(order(8, 8, '40.00'))).resolves.toEqual(order(8, 8, '40.00'));
  await expect(users.insert(user(8, 'bob again'))).resolves.toEqual(user(8, 'bob again')); // over its own tombstone
  await expect(orders.insert(order(8, 8, '41.00'))).rejects.toBeInstanceOf(DuplicateKeyError);
  expect(await users.query({ id: 8 })).toEqual([user(8, 'bob again')]);
  expect(await orders.query({ user_id: 8 })).toEqual([order(8, 7, '30.00'), order(8, 8, '40.00')]);
});

it('reconcile sees only its own source, and MySQL ends equal to DynamoDB per source', async () => {
  await setMode('dynamo-primary');
  const u = await fx.mapping('users');
  const o = await fx.mapping('orders');
  const ru = await reconcileFromDynamo({ pool: fx.pool, dynamo: fx.dynamo, mapping: u.mapping, columns: u.columns, flagStore: fx.flagStore });
  const ro = await reconcileFromDynamo({ pool: fx.pool, dynamo: fx.dynamo, mapping: o.mapping, columns: o.columns, flagStore: fx.flagStore });
  expect(ru.directItems).toBe(2); // users 7 and 8 (7 updated, 8 deleted then re-inserted)
  expect(ro.directItems).toBe(4); // orders 7/7 (tombstone), 7/8, 8/7, 8/8
  expect(ru.reappliedKeys + ro.reappliedKeys).toBe(2); // the two keys written in dynamo-only
  await users.settle();
  await orders.settle();
  const [mu] = await fx.pool.query<RowDataPacket[]>('SELECT id, name FROM users ORDER BY id');
  const [mo] = await fx.pool.query<RowDataPacket[]>('SELECT user_id, order_id, total FROM orders ORDER BY user_id, order_id');
  expect(mu.map((r) => ({ ...r }))).toEqual([user(7, 'ann2'), user(8, 'bob again')]);
  expect(mo.map((r) => ({ ...r }))).toEqual([order(7, 8, '20.00'), order(8, 7, '30.00'), order(8, 8, '40.00')]);
});

it('mysql-primary with DynamoDB-served reads: shadow writes and shadow reads of a shared partition stay per source', async () => {
  // Back behind the fence as the workflow does it: reconcile with rebase per source, then MySQL first again.
  await setMode('fenced');
  for (const name of ['users', 'orders']) {
    const { mapping, columns } = await fx.mapping(name);
    const r = await reconcileFromDynamo({ pool: fx.pool, dynamo: fx.dynamo, mapping, columns, flagStore: fx.flagStore, rebase: true });
    expect(r.rebasedItems).toBe(name === 'users' ? 2 : 4);
  }
  await setMode('mysql-primary');
  for (const name of ['users', 'orders']) await fx.flagStore.update(`${fx.db}.${name}`, { readPercent: 100, shadowReadFraction: 1 });
  await users.refreshFlags();
  await orders.refreshFlags();
  const compared = () => users.stats().readsCompared + orders.stats().readsCompared;
  const mismatches = () => users.stats().readMismatches + orders.stats().readMismatches;
  const errors = () => users.stats().shadowReadErrors + orders.stats().shadowReadErrors;
  const before = [compared(), mismatches(), errors()];

  await users.put(user(9, 'cat'));
  await orders.put(order(9, 9, '90.00'));
  await orders.put(order(9, 10, '100.00'));
  await users.update({ id: 7 }, { name: 'ann3' });
  await orders.delete({ user_id: 8, order_id: 8 });
  await users.settle();
  await orders.settle();
  expect(users.stats().shadowWrites + orders.stats().shadowWrites).toBe(5); // all landed, none superseded or failed
  expect(users.stats().shadowWriteErrors + orders.stats().shadowWriteErrors).toBe(0);

  // DynamoDB serves these reads; each is also compared with MySQL.
  expect(await users.query({ id: 9 })).toEqual([user(9, 'cat')]);
  expect(await orders.query({ user_id: 9 })).toEqual([order(9, 10, '100.00'), order(9, 9, '90.00')]); // "ORDER#10" < "ORDER#9"
  expect(await users.query({ id: 7 })).toEqual([user(7, 'ann3')]);
  expect(await orders.query({ user_id: 8 })).toEqual([order(8, 7, '30.00')]);
  expect(await users.get({ id: 9 })).toEqual(user(9, 'cat'));
  expect(await orders.get({ user_id: 9, order_id: 9 })).toEqual(order(9, 9, '90.00'));
  await users.settle();
  await orders.settle();
  expect([compared(), mismatches(), errors()]).toEqual([before[0] + 6, before[1], before[2]]);
});
