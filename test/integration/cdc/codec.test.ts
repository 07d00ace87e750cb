/**
 * Table-driven proof of the canonical row encoding against real MariaDB: for every type and edge case, the binlog
 * path (zongji → rowFromBinlog) and the SELECT path (mysql2 → rowFromMysql2) give identical values, equal to the
 * expected literal.
 */
import * as mysql from 'mysql2/promise';
import { mysqlConnectionParams } from '../../../src/infra/mysql';
import { createZongJi } from '../../../src/pipeline/cdc/zongji';
import { ROW_QUERY_OPTIONS, readColumns, rowFromBinlog, rowFromMysql2, primaryKeyColumns, RowDecodeError } from '../../../src/pipeline/row/codec';
import type { ColumnValue } from '../../../src/pipeline/types';
import { uniqueName } from '../../support/ids';

const b64 = (hex: string): { $b64: string } => ({ $b64: Buffer.from(hex, 'hex').toString('base64') });

/** [column type, SQL literal, expected canonical value] */
const CASES: Array<[string, string, ColumnValue]> = [
  ['TINYINT', '-128', -128],
  ['TINYINT', '127', 127],
  ['TINYINT UNSIGNED', '255', 255],
  ['SMALLINT', '-32768', -32768],
  ['SMALLINT UNSIGNED', '65535', 65535],
  ['MEDIUMINT', '-8388608', -8388608],
  ['MEDIUMINT UNSIGNED', '16777215', 16777215],
  ['INT', '-2147483648', -2147483648],
  ['INT UNSIGNED', '4294967295', 4294967295],
  ['BIGINT', '-9223372036854775808', '-9223372036854775808'],
  ['BIGINT', '9223372036854775807', '9223372036854775807'],
  ['BIGINT', '9007199254740993', '9007199254740993'],
  ['BIGINT', '42', '42'],
  ['BIGINT', '0', '0'],
  ['BIGINT UNSIGNED', '18446744073709551615', '18446744073709551615'],
  ['BIGINT UNSIGNED', '9223372036854775808', '9223372036854775808'],
  ['DECIMAL(38,9)', "'-12345678901234567890123456789.123456789'", '-12345678901234567890123456789.123456789'],
  ['DECIMAL(38,9)', "'0.000000001'", '0.000000001'],
  ['DECIMAL(38,9)', '0', '0.000000000'],
  ['DECIMAL(5,2)', "'-1.5'", '-1.50'],
  ['DECIMAL(5,2)', "'999.99'", '999.99'],
  ['DECIMAL(10,0)', "'1234567890'", '1234567890'],
  ['FLOAT', '1.1', 1.1],
  ['FLOAT', '3.14159265', 3.14159],
  ['FLOAT', '16777217', 16777200],
  ['FLOAT', '-0.000123456789', -0.000123457],
  ['FLOAT', '1e30', 1e30],
  ['DOUBLE', '0.1e0 + 0.2e0', 0.30000000000000004],
  ['DOUBLE', '1e0/3e0', 0.3333333333333333],
  ['DOUBLE', '1.7976931348623157e308', 1.7976931348623157e308],
  ['DOUBLE', '-5e-324', -5e-324],
  ['DATETIME', "'2024-02-29 23:59:59'", '2024-02-29 23:59:59'],
  ['DATETIME(1)', "'2024-02-29 23:59:59.9'", '2024-02-29 23:59:59.9'],
  ['DATETIME(2)', "'1000-01-01 00:00:00.01'", '1000-01-01 00:00:00.01'],
  ['DATETIME(3)', "'2024-02-29 23:59:59.123'", '2024-02-29 23:59:59.123'],
  ['DATETIME(4)', "'9999-12-31 23:59:59.9999'", '9999-12-31 23:59:59.9999'],
  ['DATETIME(5)', "'2000-01-01 00:00:00.00001'", '2000-01-01 00:00:00.00001'],
  ['DATETIME(6)', "'1999-12-31 23:59:59.000001'", '1999-12-31 23:59:59.000001'],
  ['DATETIME(6)', "'2020-06-01 12:00:00'", '2020-06-01 12:00:00.000000'],
  ['TIMESTAMP(6) NULL', "'2038-01-19 03:14:07.999999'", '2038-01-19 03:14:07.999999'],
  ['TIMESTAMP(6) NULL', "'1970-01-01 00:00:01.000000'", '1970-01-01 00:00:01.000000'],
  ['TIMESTAMP NULL', "'2024-03-31 01:30:00'", '2024-03-31 01:30:00'],
  ['DATE', "'1000-01-01'", '1000-01-01'],
  ['DATE', "'9999-12-31'", '9999-12-31'],
  ['TIME', "'-12:00:00'", '-12:00:00'],
  ['TIME', "'-00:00:01'", '-00:00:01'],
  ['TIME', "'838:59:59'", '838:59:59'],
  ['TIME(6)', "'-838:59:59.000000'", '-838:59:59.000000'],
  ['TIME(6)', "'-01:00:00.5'", '-01:00:00.500000'],
  ['TIME(6)', "'-12:00:00'", '-12:00:00.000000'],
  ['TIME(6)', "'-00:00:00.000001'", '-00:00:00.000001'],
  ['TIME(6)', "'23:59:59.999999'", '23:59:59.999999'],
  ['TIME(3)', "'-00:01:00.250'", '-00:01:00.250'],
  ['YEAR', '1901', 1901],
  ['YEAR', '2155', 2155],
  ['CHAR(10)', "'a  '", 'a'],
  ['CHAR(10)', "''", ''],
  ['VARCHAR(40)', "'😀héllo 🇯🇵'", '😀héllo 🇯🇵'],
  ['VARCHAR(40)', "''", ''],
  ['VARCHAR(40)', "'trailing  '", 'trailing  '],
  ['TEXT', "'𝄞 multi\nline\ttext'", '𝄞 multi\nline\ttext'],
  ['MEDIUMTEXT', "''", ''],
  ["ENUM('a','b,c','d')", "'b,c'", 'b,c'],
  ["ENUM('a','b,c','d')", "'d'", 'd'],
  ["SET('x','y','z')", "'z,x'", 'x,z'],
  ["SET('x','y','z')", "''", ''],
  ['BIT(1)', "b'1'", '1'],
  ['BIT(1)', "b'0'", '0'],
  ['BIT(64)', "b'1111111111111111111111111111111111111111111111111111111111111111'", '18446744073709551615'],
  ['BIT(64)', '5', '5'],
  ['BIT(10)', "b'1000000001'", '513'],
  ['BINARY(4)', "x'00ff0000'", b64('00ff0000')],
  ['BINARY(4)', "x'61'", b64('61000000')],
  ['VARBINARY(10)', "x'00'", b64('00')],
  ['VARBINARY(10)', "x''", b64('')],
  ['BLOB', "x'deadbeef0080ff'", b64('deadbeef0080ff')],
  ['LONGBLOB', "x'c328'", b64('c328')],
  ['JSON', `'{"a": 1, "big": 18446744073709551615, "s": "😀"}'`, '{"a": 1, "big": 18446744073709551615, "s": "😀"}'],
  ['JSON', "'[]'", '[]'],
];

describe('canonical row codec: binlog path = SELECT path = expected, on real MariaDB', () => {
  const db = uniqueName('cdc_codec');
  let pool: mysql.Pool;
  const types = [...new Set(CASES.map((c) => c[0]))];
  const colName = (t: string): string => `c${types.indexOf(t)}`;

  beforeAll(async () => {
    const p = mysqlConnectionParams();
    pool = mysql.createPool({ ...ROW_QUERY_OPTIONS, host: p.host, port: p.port, user: p.user, password: p.password, connectionLimit: 2 });
    await pool.query(`CREATE DATABASE ${db} CHARACTER SET utf8mb4`);
    const cols = types.map((t) => `${colName(t)} ${t.includes('NULL') ? t : `${t} NULL`}`).join(', ');
    await pool.query(`CREATE TABLE ${db}.t (id INT NOT NULL, k2 VARCHAR(8) NOT NULL, ${cols}, PRIMARY KEY (k2, id)) CHARACTER SET utf8mb4`);
  });
  afterAll(async () => {
    await pool.query(`DROP DATABASE IF EXISTS ${db}`);
    await pool.end();
  });

  it('reads column metadata with primary-key positions', async () => {
    const columns = await readColumns(pool, db, 't');
    expect(columns).toHaveLength(types.length + 2);
    expect(primaryKeyColumns(columns).map((c) => c.name)).toEqual(['k2', 'id']);
    const big = columns.find((c) => c.name === colName('BIGINT UNSIGNED'));
    expect(big).toMatchObject({ dataType: 'bigint', unsigned: true, nullable: true, pkPosition: null });
    expect(columns.find((c) => c.name === colName('DECIMAL(38,9)'))).toMatchObject({ numericPrecision: 38, numericScale: 9 });
    expect(columns.find((c) => c.name === colName('DATETIME(3)'))).toMatchObject({ datetimePrecision: 3 });
    expect(await readColumns(pool, db, 'absent')).toEqual([]);
  });

  it('every case is identical through the binlog and through SELECT', async () => {
    const columns = await readColumns(pool, db, 't');
    const zongji = createZongJi();
    const binlogRows: Record<string, unknown>[] = [];
    const errors: unknown[] = [];
    zongji.on('error', (e: unknown) => errors.push(e));
    zongji.on('binlog', (ev: unknown) => {
      const e = ev as { getEventName(): string; rows?: Record<string, unknown>[] };
      if (e.getEventName() === 'writerows') binlogRows.push(...(e.rows ?? []));
    });
    await new Promise<void>((resolve) => {
      zongji.on('ready', () => resolve());
      zongji.start({ startAtEnd: true, serverId: 1_000_000 + (process.pid % 100_000), includeEvents: ['tablemap', 'writerows'], includeSchema: { [db]: ['t'] } });
    });
    try {
      // One row per case (only that case's column set), plus an all-NULL row.
      for (const [i, [type, literal]] of CASES.entries()) {
        await pool.query(`INSERT INTO ${db}.t (id, k2, ${colName(type)}) VALUES (${i}, 'k', ${literal})`);
      }
      await pool.query(`INSERT INTO ${db}.t (id, k2) VALUES (${CASES.length}, '')`);
      const deadline = Date.now() + 20_000;
      while (binlogRows.length < CASES.length + 1 && Date.now() < deadline && errors.length === 0) await new Promise((r) => setTimeout(r, 50));
      expect(errors).toEqual([]);
      expect(binlogRows).toHaveLength(CASES.length + 1);
    } finally {
      zongji.stop();
    }

    const [selected] = await pool.query(`SELECT * FROM ${db}.t ORDER BY id`);
    const fromSelect = (selected as Record<string, unknown>[]).map((r) => rowFromMysql2(columns, r));
    const fromBinlog = binlogRows.map((r) => rowFromBinlog(columns, r)).sort((a, b) => Number(a.id) - Number(b.id));
    expect(JSON.stringify(fromBinlog)).toBe(JSON.stringify(fromSelect));

    const mismatches: string[] = [];
    for (const [i, [type, literal, expected]] of CASES.entries()) {
      const got = fromSelect[i][colName(type)];
      if (JSON.stringify(got) !== JSON.stringify(expected)) mismatches.push(`${type} ${literal}: got ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
      const others = Object.entries(fromSelect[i]).filter(([k, v]) => k !== colName(type) && k !== 'id' && k !== 'k2' && v !== null);
      if (others.length) mismatches.push(`${type}: other columns not null: ${JSON.stringify(others)}`);
    }
    expect(mismatches).toEqual([]);
    const nullRow = fromSelect[CASES.length];
    expect(nullRow.k2).toBe('');
    for (const t of types) expect(nullRow[colName(t)]).toBeNull();
  });

  it('refuses lossy inputs with a RowDecodeError naming the column', async () => {
    const columns = await readColumns(pool, db, 't');
    const row: Record<string, unknown> = Object.fromEntries(columns.map((c) => [c.name, null]));
    expect(() => rowFromMysql2(columns, { ...row, [colName('DATETIME(6)')]: new Date() })).toThrow(RowDecodeError);
    expect(() => rowFromMysql2(columns, { ...row, [colName('JSON')]: { a: 1 } })).toThrow(/jsonStrings/);
    expect(() => rowFromMysql2(columns, { ...row, [colName('BIGINT')]: 2 ** 60 })).toThrow(new RegExp(`${db}\\.t\\.${colName('BIGINT')}`));
    expect(() => rowFromBinlog(columns, { ...row, extra: 1 })).toThrow(/extra/);
  });
});
