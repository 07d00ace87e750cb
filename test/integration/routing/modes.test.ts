/**
 * MigratingTable on real MariaDB + dynalite: the same rows in and out in every write mode and from either store
 * (types preserved), tombstones read as absent, duplicate inserts and absent keys behave alike, and the MariaDB
 * facts the MySQL-primary shadow version rests on (@@last_gtid is the committed transaction's GTID, a no-op
 * statement leaves it stale).
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { RowDataPacket } from 'mysql2/promise';
import { parseMariaGtid } from '../../../src/pipeline/version';
import { DynamoSide } from '../../../src/routing/dynamo-side';
import { DuplicateKeyError, RoutingInputError } from '../../../src/routing/errors';
import { MysqlSide } from '../../../src/routing/mysql-side';
import type { MigratingTable } from '../../../src/routing/migrating-table';
import type { WriteMode } from '../../../src/routing/flags';
import { createFixture, type Fixture } from './support/fixture';
import { TestCdcRelay } from './support/cdc-relay';

const DDL = [
  `CREATE TABLE typed (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(64) NOT NULL, amount DECIMAL(12,2), big BIGINT,
    ratio DOUBLE, created DATETIME(3), payload VARBINARY(32), bits BIT(8), doc JSON, note TEXT NULL)`,
];

let fx: Fixture;
let t: MigratingTable;
let relay: TestCdcRelay;
const tableId = () => `${fx.db}.typed`;

beforeAll(async () => {
  fx = await createFixture('rt_modes', DDL, { typed: { partitionKey: { attribute: 'pk', template: 'T#{id}' }, nulls: 'null' } });
  const { mapping, columns } = await fx.mapping('typed');
  relay = new TestCdcRelay(fx.pool, mapping, columns, fx.dynamo);
  await relay.start();
  t = await fx.open('typed');
});

afterAll(async () => {
  await relay?.stop();
  await fx?.close();
});

const row = (id: number, name: string) => ({
  id: String(id),
  name,
  amount: '1234.50',
  big: '-9007199254740993',
  ratio: 0.1,
  created: '2024-02-29 23:59:59.125',
  payload: { $b64: Buffer.from([0, 255, 7]).toString('base64') },
  bits: '5',
  doc: '{"a": [1, 2]}',
  note: null,
});

async function setMode(writeMode: WriteMode, readPercent = 0): Promise<void> {
  const cur = await fx.flagStore.get(tableId());
  const order: WriteMode[] = ['mysql-only', 'mysql-primary', 'fenced', 'dynamo-primary', 'dynamo-only'];
  let i = order.indexOf(cur.writeMode);
  const target = order.indexOf(writeMode);
  while (i !== target) {
    i += i < target ? 1 : -1;
    await fx.flagStore.update(tableId(), { writeMode: order[i], readPercent: order[i] === 'dynamo-only' ? 100 : readPercent });
  }
  await fx.flagStore.update(tableId(), { readPercent: writeMode === 'dynamo-only' ? 100 : readPercent });
  await t.refreshFlags();
  await relay.catchUp();
}

/** Both stores' view of `key` once background writes and CDC settled, read directly (not through the layer). */
async function readBoth(key: { id: string }) {
  await t.settle();
  await relay.catchUp();
  const { mapping, columns } = await fx.mapping('typed');
  const m = await new MysqlSide(fx.pool, mapping, columns, fx.flagStore.rowVersionsTable).get(key);
  const item = await new DynamoSide(fx.dynamo, mapping).read(mapping.keyOf(key));
  return { m, d: item.live ? mapping.toRow(item.live) : undefined };
}

it('MariaDB: @@last_gtid after COMMIT is the GTID of that transaction; a no-op leaves it unchanged', async () => {
  const conn = await fx.pool.getConnection();
  try {
    await conn.query('BEGIN');
    await conn.query(`INSERT INTO typed (id, name) VALUES (999, 'g')`);
    await conn.query('COMMIT');
    const [[a]] = (await conn.query('SELECT @@last_gtid AS g')) as unknown as [RowDataPacket[]];
    const seq = parseMariaGtid(String(a.g)).seq;
    await conn.query('BEGIN');
    await conn.query(`UPDATE typed SET name = 'g' WHERE id = 999`);
    await conn.query('COMMIT');
    const [[b]] = (await conn.query('SELECT @@last_gtid AS g')) as unknown as [RowDataPacket[]];
    expect(b.g).toBe(a.g);
    await relay.catchUp();
    const ours = relay.seen.filter((s) => s.row.id === '999');
    expect(ours.map((s) => s.seq)).toEqual([seq]);
  } finally {
    conn.release();
  }
  await fx.pool.query('DELETE FROM typed WHERE id = 999');
});

it.each<WriteMode>(['mysql-only', 'mysql-primary', 'dynamo-primary', 'dynamo-only'])('round-trips typed rows in %s', async (mode) => {
  await setMode(mode);
  const id = 100 + ['mysql-only', 'mysql-primary', 'dynamo-primary', 'dynamo-only'].indexOf(mode);
  const r = row(id, `n-${mode}`);
  await t.insert(r);
  await expect(t.insert(r)).rejects.toBeInstanceOf(DuplicateKeyError);
  expect(await t.get({ id: r.id })).toEqual(r);
  let both = await readBoth({ id: r.id });
  if (mode !== 'dynamo-only') expect(both.m).toEqual(r);
  expect(both.d).toEqual(r);

  await setMode(mode);
  expect(await t.update({ id: r.id }, { name: 'changed', amount: '0.05', note: 'x' })).toBe(true);
  expect(await t.update({ id: '424242' }, { name: 'nobody' })).toBe(false);
  both = await readBoth({ id: r.id });
  const changed = { ...r, name: 'changed', amount: '0.05', note: 'x' };
  if (mode !== 'dynamo-only') expect(both.m).toEqual(changed);
  expect(both.d).toEqual(changed);

  await setMode(mode);
  expect(await t.delete({ id: r.id })).toBe(true);
  expect(await t.delete({ id: r.id })).toBe(false);
  both = await readBoth({ id: r.id });
  expect(both.d).toBeUndefined();
  if (mode !== 'dynamo-only') expect(both.m).toBeUndefined();
  // The DynamoDB item is a tombstone, not gone: a late lower-versioned copy cannot resurrect the row.
  const { mapping } = await fx.mapping('typed');
  const raw = await fx.dynamo.send(new GetItemCommand({ TableName: fx.dynamoTable, Key: mapping.keyOf({ id: r.id }), ConsistentRead: true }));
  expect(raw.Item?._del?.BOOL).toBe(true);

  // Re-insert over a tombstone works in every mode.
  await setMode(mode);
  await t.insert(r);
  expect(await t.get({ id: r.id })).toEqual(r);
  await setMode('mysql-only');
});

it('mysql-primary makes no shadow write for a statement that changed nothing (no binlog transaction, stale @@last_gtid)', async () => {
  await setMode('mysql-primary');
  const r = row(200, 'same');
  await t.put(r);
  await t.settle();
  const before = t.stats();
  await t.put(r); // identical values: MySQL reports 1 affected row, but nothing is binlogged
  expect(await t.update({ id: r.id }, { name: 'same' })).toBe(true); // found, changedRows 0
  await t.settle();
  expect(t.stats().shadowWrites + t.stats().shadowWritesSuperseded).toBe(before.shadowWrites + before.shadowWritesSuperseded);
  await t.put({ ...r, name: 'different' });
  await t.settle();
  expect(t.stats().shadowWrites).toBe(before.shadowWrites + 1);
  await setMode('mysql-only');
});

it('rejects bad input naming the table and column', async () => {
  await expect(t.insert({ id: '1', nope: 'x' })).rejects.toThrow(/typed\.nope: unknown column/);
  await expect(t.put({ id: '1', name: 'x' })).rejects.toBeInstanceOf(RoutingInputError);
  await expect(t.update({ id: '1' }, { id: '2' })).rejects.toThrow(/primary-key column cannot be changed/);
  await expect(t.update({ id: '1' }, { nope: 1 })).rejects.toThrow(/typed\.nope: unknown column/);
});
