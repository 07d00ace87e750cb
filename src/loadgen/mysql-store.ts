/**
 * `AppStore` straight on MySQL with mysql2: the application as it runs before (and without) cutover. Refuses a pool
 * that does not point at a loopback address.
 * Single-statement autocommit writes, so an acknowledged write is durable and visible to every later read.
 */
import type { Pool, ResultSetHeader, RowDataPacket, FieldPacket } from 'mysql2/promise';
import { canonicalRowFromMysql, jsonAsText } from '../checker/canonical';
import type { ColumnValue, Row } from '../pipeline/types';
import { assertLoopback, type AppStore, type WriteOutcome } from './app-store';

const ER_DUP_ENTRY = 1062;

/** Primary-key columns per table name. */
export type KeyColumns = Readonly<Record<string, readonly string[]>>;

function param(v: ColumnValue): unknown {
  return v !== null && typeof v === 'object' ? Buffer.from(v.$b64, 'base64') : v;
}

const q = (id: string): string => `\`${id.replace(/`/g, '``')}\``;

/** Direct MySQL access; the caller owns `pool` (it is not closed by `close`). */
export class MysqlAppStore implements AppStore {
  constructor(
    private readonly pool: Pool,
    private readonly keys: KeyColumns,
  ) {
    const host = (pool as unknown as { pool?: { config?: { connectionConfig?: { host?: string } } } }).pool?.config?.connectionConfig?.host;
    assertLoopback(host, 'MysqlAppStore');
  }

  private keyCols(table: string): readonly string[] {
    const k = this.keys[table];
    if (!k) throw new Error(`MysqlAppStore: no key columns configured for table ${table}`);
    return k;
  }

  private where(table: string, key: Row): { sql: string; values: unknown[] } {
    const cols = this.keyCols(table);
    return { sql: cols.map((c) => `${q(c)} = ?`).join(' AND '), values: cols.map((c) => param(key[c] ?? null)) };
  }

  async get(table: string, key: Row): Promise<Row | null> {
    const w = this.where(table, key);
    const [rows, fields] = (await this.pool.query({ sql: `SELECT * FROM ${q(table)} WHERE ${w.sql}`, values: w.values, typeCast: jsonAsText } as never)) as unknown as [RowDataPacket[], FieldPacket[]];
    return rows.length ? (canonicalRowFromMysql(rows[0], fields as never) as Row) : null;
  }

  async insert(table: string, row: Row): Promise<WriteOutcome> {
    const cols = Object.keys(row);
    try {
      await this.pool.query(`INSERT INTO ${q(table)} (${cols.map(q).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, cols.map((c) => param(row[c])));
      return { applied: true };
    } catch (err) {
      if ((err as { errno?: number }).errno === ER_DUP_ENTRY) return { applied: false };
      throw err;
    }
  }

  async update(table: string, row: Row): Promise<WriteOutcome> {
    const keyCols = this.keyCols(table);
    const cols = Object.keys(row).filter((c) => !keyCols.includes(c));
    const w = this.where(table, row);
    const [res] = await this.pool.query<ResultSetHeader>(`UPDATE ${q(table)} SET ${cols.map((c) => `${q(c)} = ?`).join(', ')} WHERE ${w.sql}`, [...cols.map((c) => param(row[c])), ...w.values]);
    return { applied: res.affectedRows > 0 };
  }

  async delete(table: string, key: Row): Promise<WriteOutcome> {
    const w = this.where(table, key);
    const [res] = await this.pool.query<ResultSetHeader>(`DELETE FROM ${q(table)} WHERE ${w.sql}`, w.values);
    return { applied: res.affectedRows > 0 };
  }

  async close(): Promise<void> {}
}
