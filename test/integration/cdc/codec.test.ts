/**
 * Table-driven proof of the canonical row encoding against real MariaDB: for every type and edge case, the binlog
 * path (zongji → rowFromBinlog) and the SELECT path (mysql2 → rowFromMysql2) give identical values, equal to the
 * expected literal; the compiled per-table decoder (src/pipeline/row/decoder.ts) equals the SELECT path too.
 */
import * as mysql from 'mysql2/promise';
import { mysqlConnectionParams } from '../../../src/infra/mysql';
import { createZongJi } from '../../../src/pipeline/cdc/zongji';
import { ROW_QUERY_OPTIONS, readColumns, rowFromBinlog, rowFromMysql2, primaryKeyColumns, RowDecodeError } from '../../../src/pipeline/row/codec';
import { compileMysql2Decoder } from '../../../src/pipeline/row/decoder';
import { uniqueName } from '../../support/ids';
import { CASES } from './type-cases';

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
      // the ENUM error value '' (index 0), only storable under a non-strict sql_mode
      const conn = await pool.getConnection();
      try {
        await conn.query("SET SESSION sql_mode = ''");
        await conn.query(`INSERT INTO ${db}.t (id, k2, ${colName("ENUM('a','b,c','d')")}) VALUES (${CASES.length + 1}, 'k', 'not-a-member')`);
      } finally {
        await conn.query('SET SESSION sql_mode = DEFAULT');
        conn.release();
      }
      const deadline = Date.now() + 20_000;
      while (binlogRows.length < CASES.length + 2 && Date.now() < deadline && errors.length === 0) await new Promise((r) => setTimeout(r, 50));
      expect(errors).toEqual([]);
      expect(binlogRows).toHaveLength(CASES.length + 2);
    } finally {
      zongji.stop();
    }

    const [selected] = await pool.query(`SELECT * FROM ${db}.t ORDER BY id`);
    const fromSelect = (selected as Record<string, unknown>[]).map((r) => rowFromMysql2(columns, r));
    const fromBinlog = binlogRows.map((r) => rowFromBinlog(columns, r)).sort((a, b) => Number(a.id) - Number(b.id));
    expect(JSON.stringify(fromBinlog)).toBe(JSON.stringify(fromSelect));
    // The compiled per-table decoder (routing's read path) gives the same bytes for every case.
    const decode = compileMysql2Decoder(columns);
    expect(JSON.stringify((selected as Record<string, unknown>[]).map((r) => decode(r)))).toBe(JSON.stringify(fromSelect));

    const mismatches: string[] = [];
    for (const [i, [type, literal, expected]] of CASES.entries()) {
      const got = fromSelect[i][colName(type)];
      if (JSON.stringify(got) !== JSON.stringify(expected)) mismatches.push(`${type} ${literal}: got ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
      const others = Object.entries(fromSelect[i]).filter(([k, v]) => k !== colName(type) && k !== 'id' && k !== 'k2' && v !== null);
      if (others.length) mismatches.push(`${type}: other columns not null: ${JSON.stringify(others)}`);
    }
    expect(mismatches).toEqual([]);
    expect(fromSelect[CASES.length + 1][colName("ENUM('a','b,c','d')")]).toBe('');
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
    const decode = compileMysql2Decoder(columns);
    expect(() => decode({ ...row, [colName('DATETIME(6)')]: new Date() })).toThrow(RowDecodeError);
    expect(() => decode({ ...row, [colName('JSON')]: { a: 1 } })).toThrow(/jsonStrings/);
    expect(() => decode({ ...row, [colName('BIGINT')]: 2 ** 60 })).toThrow(new RegExp(`${db}\\.t\\.${colName('BIGINT')}`));
    expect(() => decode({ ...row, extra: 1 })).toThrow(/extra/);
  });
});
