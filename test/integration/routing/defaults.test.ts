/**
 * insert() with omitted columns on real MariaDB + dynalite, in every write mode: MySQL-first modes return (and both
 * stores hold) the row MySQL stored — AUTO_INCREMENT id, literal defaults, CURRENT_TIMESTAMP(6); DynamoDB-first modes
 * fill the same defaults from information_schema (proved equal to what MariaDB fills for every supported literal
 * form) and refuse AUTO_INCREMENT and expression defaults with ColumnDefaultError naming table and column, writing
 * nothing. A NOT NULL column without a default is refused the same way in every mode.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { readColumns } from '../../../src/pipeline/row/codec';
import { compileMysql2Decoder } from '../../../src/pipeline/row/decoder';
import type { Row } from '../../../src/pipeline/types';
import { DefaultFiller } from '../../../src/routing/defaults';
import { DynamoSide } from '../../../src/routing/dynamo-side';
import { ColumnDefaultError } from '../../../src/routing/errors';
import type { WriteMode } from '../../../src/routing/flags';
import type { MigratingTable } from '../../../src/routing/migrating-table';
import { MysqlSide } from '../../../src/routing/mysql-side';
import { createFixture, type Fixture } from './support/fixture';
import { TestCdcRelay } from './support/cdc-relay';

const DDL = [
  `CREATE TABLE auto (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL, qty INT DEFAULT 5,
    price DECIMAL(10,2) DEFAULT 1.5, note VARCHAR(20) DEFAULT 'it''s \\\\ ok', created DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6),
    stamp TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), bits BIT(8) DEFAULT b'101', opt TEXT, code VARCHAR(40) DEFAULT (uuid()))`,
  // Every literal default form MariaDB shows, for the filler-equals-MariaDB proof (expression-free).
  `CREATE TABLE lits (id INT PRIMARY KEY, a INT DEFAULT -5, b VARCHAR(20) DEFAULT 'it''s \\\\ x', c DECIMAL(10,2) DEFAULT 1.5,
    f DATETIME DEFAULT '2020-01-01 10:00:00', g DATETIME(3) DEFAULT '2020-01-01 10:00:00', h CHAR(5) DEFAULT 'ab  ',
    i ENUM('x','y') DEFAULT 'y', j BIT(8) DEFAULT b'101', l JSON DEFAULT '{"a": 1}', m TEXT, o DOUBLE DEFAULT 1e3,
    p FLOAT DEFAULT 3.14159265, s BIGINT UNSIGNED DEFAULT 18446744073709551615, u TIME(2) DEFAULT '-01:00:00',
    v YEAR DEFAULT 2024, w VARCHAR(5) DEFAULT 'NULL', x INT DEFAULT NULL, z DECIMAL(5,0) DEFAULT -3,
    aa SET('p','q') DEFAULT 'q,p', ab TINYINT(1) DEFAULT TRUE, ac VARCHAR(5) DEFAULT '', ad VARCHAR(9) DEFAULT '😀é',
    ae DATE DEFAULT '2024-02-29', af DATETIME(6) DEFAULT '2020-01-01 10:00:00.5', ag BINARY(4) DEFAULT 'ab',
    ah VARBINARY(4) DEFAULT x'00ff', ai BLOB DEFAULT 'b', aj BIT(64) DEFAULT b'1111111111111111111111111111111111111111111111111111111111111111',
    ak BIGINT DEFAULT -9223372036854775808, al TIME(6) DEFAULT '-838:59:59')`,
];

let fx: Fixture;
let t: MigratingTable;
let relay: TestCdcRelay;
const tableId = () => `${fx.db}.auto`;
const MODES: WriteMode[] = ['mysql-only', 'mysql-primary', 'dynamo-primary', 'dynamo-only'];

beforeAll(async () => {
  fx = await createFixture('rt_defaults', DDL, {
    auto: { partitionKey: { attribute: 'pk', template: 'A#{id}' }, nulls: 'null' },
    lits: { partitionKey: { attribute: 'pk', template: 'L#{id}' }, nulls: 'null' },
  });
  const { mapping, columns } = await fx.mapping('auto');
  relay = new TestCdcRelay(fx.pool, mapping, columns, fx.dynamo);
  await relay.start();
  t = await fx.open('auto');
});

afterAll(async () => {
  await relay?.stop();
  await fx?.close();
});

async function setMode(writeMode: WriteMode): Promise<void> {
  const order: WriteMode[] = ['mysql-only', 'mysql-primary', 'fenced', 'dynamo-primary', 'dynamo-only'];
  let i = order.indexOf((await fx.flagStore.get(tableId())).writeMode);
  const target = order.indexOf(writeMode);
  while (i !== target) {
    i += i < target ? 1 : -1;
    await fx.flagStore.update(tableId(), { writeMode: order[i], readPercent: order[i] === 'dynamo-only' || order[i] === 'dynamo-primary' ? 100 : 0 });
  }
  await t.refreshFlags();
  await relay.catchUp();
}

/** Both stores' view of `key` once background writes and CDC settled, read directly (not through the layer). */
async function readBoth(key: Row) {
  await t.settle();
  await relay.catchUp();
  const { mapping, columns } = await fx.mapping('auto');
  const m = await new MysqlSide(fx.pool, mapping, columns, fx.flagStore.rowVersionsTable).get(key);
  const item = await new DynamoSide(fx.dynamo, mapping).read(mapping.keyOf(key));
  return { m, d: item.live ? mapping.toRow(item.live) : undefined };
}

const DATETIME6 = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/;
const TIMESTAMP3 = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/;
const nearNow = (s: unknown) => Math.abs(Date.parse(`${String(s).replace(' ', 'T')}Z`) - Date.now()) < 60_000;

it.each(MODES)('%s: insert omitting defaulted columns returns the full stored row, and both stores hold it', async (mode) => {
  await setMode(mode);
  const dynamoFirst = mode.startsWith('dynamo');
  const given: Row = dynamoFirst ? { id: String(9000 + MODES.indexOf(mode)), name: `n-${mode}`, code: 'supplied' } : { name: `n-${mode}` };
  const stored = await t.insert(given);
  expect(stored).toMatchObject({ ...given, qty: 5, price: dynamoFirst ? '1.50' : '1.50', note: "it's \\ ok", bits: '5', opt: null });
  expect(Object.keys(stored)).toEqual(['id', 'name', 'qty', 'price', 'note', 'created', 'stamp', 'bits', 'opt', 'code']);
  expect(stored.id).toMatch(/^\d+$/);
  expect(stored.created).toMatch(DATETIME6);
  expect(stored.stamp).toMatch(TIMESTAMP3);
  expect(nearNow(stored.created) && nearNow(stored.stamp)).toBe(true);
  if (!dynamoFirst) expect(stored.code).toMatch(/^[0-9a-f-]{36}$/); // MySQL evaluated uuid()
  expect(await t.get({ id: stored.id })).toEqual(stored);
  const both = await readBoth({ id: stored.id });
  expect(both.d).toEqual(stored);
  if (mode !== 'dynamo-only') expect(both.m).toEqual(stored);
});

it.each(['dynamo-primary', 'dynamo-only'] as WriteMode[])('%s: AUTO_INCREMENT and expression defaults are refused naming the column; nothing is written', async (mode) => {
  await setMode(mode);
  const before = t.stats();
  const err = await t.insert({ name: 'no-id' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ColumnDefaultError);
  expect(err).toMatchObject({ name: 'ColumnDefaultError', table: tableId(), column: 'id' });
  expect((err as Error).message).toMatch(/auto\.id: .*AUTO_INCREMENT/);
  const expr = await t.insert({ id: '9100', name: 'no-code' }).catch((e: unknown) => e);
  expect(expr).toMatchObject({ name: 'ColumnDefaultError', table: tableId(), column: 'code' });
  expect((expr as Error).message).toMatch(/uuid\(\)/);
  await t.settle();
  expect(await t.get({ id: '9100' })).toBeUndefined();
  expect(t.stats().backgroundWrites).toBe(before.backgroundWrites);
  await setMode('mysql-only');
});

it.each(MODES)('%s: a NOT NULL column without a default is refused with ColumnDefaultError', async (mode) => {
  await setMode(mode);
  const err = await t.insert({ id: String(9200 + MODES.indexOf(mode)), code: 'c' }).catch((e: unknown) => e);
  expect(err).toMatchObject({ name: 'ColumnDefaultError', table: tableId(), column: 'name' });
  await setMode('mysql-only');
});

it('fills every constant default exactly as MariaDB stores it (4-byte characters, padding, scale, BIT(64), binary)', async () => {
  const columns = await readColumns(fx.pool, fx.db, 'lits');
  const filler = await DefaultFiller.load(fx.pool, columns);
  const [rows] = await fx.pool.query<RowDataPacket[]>('INSERT INTO lits (id) VALUES (1) RETURNING *');
  const byMysql = compileMysql2Decoder(columns)(rows[0]);
  expect(JSON.stringify(filler.fill({ id: 1 }))).toBe(JSON.stringify(byMysql));
});
