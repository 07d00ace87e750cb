/**
 * The MySQL half of a migrating table: plain reads and writes, the MySQL-primary write that returns its row image
 * and GTID, and the versioned background write of the DynamoDB-primary modes.
 *
 * Invariants:
 *  - Rows come back in the canonical encoding (the table's compiled decoder, equal to rowFromMysql2 over the
 *    information_schema columns); the pool must be created with ROW_QUERY_OPTIONS (EXACT_TYPES + jsonStrings), which
 *    the constructor checks.
 *  - An insert may omit columns; it runs as INSERT … RETURNING (MariaDB ≥ 10.5), so the full row MySQL stored —
 *    AUTO_INCREMENT value, defaults, normalised values — comes back from the same statement, atomically.
 *  - `writePrimary` commits the write and its row image read under FOR UPDATE in one transaction, then reads
 *    MariaDB's session @@last_gtid on the same connection: that is the GTID of exactly this transaction (verified on
 *    MariaDB 10.11 by test/integration/routing/modes.test.ts). A statement that changed nothing produces no
 *    transaction in the binlog and leaves @@last_gtid stale; it is recognised (changedRows/affectedRows, and for
 *    writes with an image an unchanged @@last_gtid read inside the transaction) and then no sequence number is
 *    returned.
 *  - `applyVersioned` writes a row image only if its version is > the version recorded for the key in
 *    cutover_row_versions, recording it in the same transaction: background writes that arrive out of order converge
 *    to the image with the highest version, the same order DynamoDB's conditional writes imposed.
 */
import { createHash } from 'node:crypto';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { ColumnInfo } from '../pipeline/row/codec';
import { compileMysql2Decoder, type RowDecoder } from '../pipeline/row/decoder';
import { parseMariaGtid } from '../pipeline/version';
import type { ColumnValue, Row } from '../pipeline/types';
import { ColumnDefaultError, DuplicateKeyError, RoutingInputError } from './errors';
import { keyString, type RoutingMapping } from './mapping';

/** One application write, in canonical values. */
export type WriteOp =
  | { readonly kind: 'insert'; readonly row: Row }
  | { readonly kind: 'put'; readonly row: Row }
  | { readonly kind: 'update'; readonly key: Row; readonly changes: Row }
  | { readonly kind: 'delete'; readonly key: Row };

/** What a MySQL-primary write did: whether the row existed, its image after the write, the transaction's GTID seq. */
export interface PrimaryWriteResult {
  readonly found: boolean;
  /** Full row after the write; undefined after a delete or when nothing matched. */
  readonly image?: Row;
  /** GTID sequence number of the committed transaction; undefined when the statement changed nothing. */
  readonly seq?: bigint;
}

/** What one write statement did; `image` is the inserted row (insert only, from RETURNING). */
export interface StatementResult {
  readonly found: boolean;
  readonly changed: boolean;
  readonly image?: Row;
}

const q = (s: string) => `\`${s.replace(/`/g, '``')}\``;
const RETRYABLE_MYSQL = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);
const GTID_FIELD = '__cutover_last_gtid';

/** An upsert's outcome. ON DUPLICATE KEY UPDATE reports 0 affected rows when the row already held these values. */
function putResult([res]: [ResultSetHeader, unknown]): StatementResult {
  return { found: true, changed: res.affectedRows > 0 };
}

/** Jittered exponential pause before retrying a deadlocked transaction (2 ms … 256 ms). */
function backoff(attempt: number): Promise<void> {
  const base = 2 ** Math.min(attempt, 8);
  return new Promise((r) => setTimeout(r, base / 2 + Math.random() * base));
}

/** True for MySQL errors where retrying the whole transaction is the documented remedy. */
export function isRetryableMysqlError(e: unknown): boolean {
  return RETRYABLE_MYSQL.has((e as { code?: string })?.code ?? '');
}

/** SQL for one table, built once from its columns. */
export class MysqlSide {
  readonly table: string;
  private readonly pk: readonly string[];
  private readonly byName: Map<string, ColumnInfo>;
  private readonly selectList: string;
  private readonly getSql: string;
  private readonly imageSql: string;
  private readonly upsertSql = new Map<string, string>();
  private readonly whereKey: string;
  private readonly decode: RowDecoder;
  private readonly names: readonly string[];
  private readonly isKey: readonly boolean[];
  /** INSERT (insert) and upsert (put) of every column, in column order: the common full-row case. */
  private readonly fullSql: { readonly insert: string; readonly put: string };

  constructor(
    readonly pool: Pool,
    readonly mapping: RoutingMapping,
    readonly columns: readonly ColumnInfo[],
    private readonly rowVersionsTable: string,
  ) {
    const cfg = (pool as unknown as { pool?: { config?: { connectionConfig?: Record<string, unknown> } } }).pool?.config?.connectionConfig;
    if (cfg && (cfg.jsonStrings !== true || cfg.dateStrings !== true || cfg.bigNumberStrings !== true)) {
      throw new RoutingInputError('the MySQL pool must be created with ROW_QUERY_OPTIONS (src/pipeline/row/codec.ts)', mapping.sourceId);
    }
    if (columns.length === 0) throw new RoutingInputError('source table has no columns (does it exist?)', mapping.sourceId);
    this.table = `${q(mapping.source.schema)}.${q(mapping.source.table)}`;
    this.pk = mapping.source.primaryKey;
    this.byName = new Map(columns.map((c) => [c.name, c]));
    this.selectList = columns.map((c) => q(c.name)).join(', ');
    this.whereKey = this.pk.map((c) => `${q(c)} = ${this.placeholder(c)}`).join(' AND ');
    this.getSql = `SELECT ${this.selectList} FROM ${this.table} WHERE ${this.whereKey}`;
    this.imageSql = `SELECT ${this.selectList}, @@last_gtid AS ${q(GTID_FIELD)} FROM ${this.table} WHERE ${this.whereKey} FOR UPDATE`;
    this.decode = compileMysql2Decoder(columns);
    this.names = columns.map((c) => c.name);
    this.isKey = columns.map((c) => this.pk.includes(c.name));
    this.fullSql = { insert: this.insertSql('insert', this.names), put: this.insertSql('put', this.names) };
  }

  /** The live row for `key` (only primary-key columns are read from it), or undefined. */
  get(key: Row): Promise<Row | undefined> {
    let params: unknown[];
    try {
      params = this.keyParams(key);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.pool.query<RowDataPacket[]>(this.getSql, params).then(this.firstRow);
  }

  /** The decoded first row of a result, or undefined (bound once: no closure per call). */
  private readonly firstRow = ([rows]: [RowDataPacket[], unknown]): Row | undefined => (rows.length ? this.decode(rows[0]) : undefined);

  /** Every row whose `columns` equal `values` (a partition), unordered. */
  async queryWhere(partial: Row): Promise<Row[]> {
    const cols = Object.keys(partial);
    const where = cols.map((c) => `${q(c)} = ${this.placeholder(c)}`).join(' AND ');
    const [rows] = await this.pool.query<RowDataPacket[]>(`SELECT ${this.selectList} FROM ${this.table} WHERE ${where}`, cols.map((c) => this.param(c, partial[c])));
    return rows.map((r) => this.decode(r));
  }

  /** A plain autocommit write (write mode mysql-only): whether the row existed/matched, and an insert's stored row. */
  writePlain(op: WriteOp): Promise<StatementResult> {
    // A full-row put (the commonest write) needs neither checks beyond fullRowParams nor error translation.
    const params = op.kind === 'put' ? this.fullRowParams(op.row) : undefined;
    if (params) return this.pool.query<ResultSetHeader>(this.fullSql.put, params).then(putResult);
    return this.runStatement(this.pool, op);
  }

  /**
   * The MySQL-primary write: statement + row image (FOR UPDATE) in one transaction, COMMIT, then @@last_gtid on the
   * same connection. Deadlocks retry the whole transaction.
   */
  async writePrimary(op: WriteOp): Promise<PrimaryWriteResult> {
    return this.inTransaction(async (conn) => {
      const { found, changed, image: inserted } = await this.runStatement(conn, op);
      let image = inserted;
      let gtidBefore: string | undefined;
      // An insert's image came back with the statement (RETURNING, under the row's insert lock); an insert always
      // changes something, so @@last_gtid after COMMIT is its own.
      if (op.kind !== 'delete' && op.kind !== 'insert' && found) {
        // Inside the transaction @@last_gtid is still the previous transaction's: read it with the image, so a
        // statement that changed nothing (an upsert of identical values reports 1 affected row) is recognised by
        // an unchanged @@last_gtid after COMMIT.
        const [rows] = await conn.query<RowDataPacket[]>(this.imageSql, this.keyParams(op.kind === 'update' ? op.key : op.row));
        if (rows.length) {
          const { [GTID_FIELD]: g, ...raw } = rows[0];
          gtidBefore = String(g ?? '');
          image = this.decode(raw);
        }
      }
      await conn.query('COMMIT');
      if (!changed) return { found, image };
      const [g] = await conn.query<RowDataPacket[]>('SELECT @@last_gtid AS g');
      const gtid = String(g[0]?.g ?? '');
      if (!gtid || gtid === gtidBefore) return { found, image };
      return { found, image, seq: parseMariaGtid(gtid).seq };
    });
  }

  /**
   * Runs `work` in a transaction on one pooled connection (BEGIN is issued here; `work` commits, so it can read
   * session state such as @@last_gtid after COMMIT). Deadlocks and lock timeouts roll back and retry the whole
   * transaction, up to 10 attempts with backoff.
   */
  private async inTransaction<T>(work: (conn: PoolConnection) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const conn = await this.pool.getConnection();
      try {
        await conn.query('BEGIN');
        return await work(conn);
      } catch (e) {
        await conn.query('ROLLBACK').catch(() => undefined);
        if (isRetryableMysqlError(e) && attempt < 10) {
          await backoff(attempt);
          continue;
        }
        throw e;
      } finally {
        conn.release();
      }
    }
  }

  /**
   * The background write of the DynamoDB-primary modes: applies the full row image (or the delete) of `key` only if
   * `version` is above the version recorded for the key (read under FOR UPDATE), and records it, in one transaction.
   * Returns false when this or a newer write already reached MySQL (nothing to do).
   */
  async applyVersioned(key: Row, image: Row | undefined, version: string): Promise<boolean> {
    const ks = keyString(this.mapping, key);
    const hash = createHash('sha256').update(`${this.mapping.sourceId}\u0000${ks}`).digest();
    return this.inTransaction(async (conn) => {
      const [r] = await conn.query<RowDataPacket[]>(`SELECT CAST(version AS CHAR) AS v FROM ${this.rowVersionsTable} WHERE table_id = ? AND key_hash = ? FOR UPDATE`, [
        this.mapping.sourceId,
        hash,
      ]);
      if (r.length && BigInt(String(r[0].v)) >= BigInt(version)) {
        await conn.query('ROLLBACK');
        return false;
      }
      await conn.query(
        `INSERT INTO ${this.rowVersionsTable} (table_id, key_hash, key_json, version) VALUES (?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE version = VALUES(version)`,
        [this.mapping.sourceId, hash, ks, version],
      );
      if (image) await this.runStatement(conn, { kind: 'put', row: image });
      else await this.runStatement(conn, { kind: 'delete', key });
      await conn.query('COMMIT');
      return true;
    });
  }

  /** Runs one write statement: whether a row existed/matched (insert/put: true) and whether anything changed. */
  private async runStatement(conn: Pick<PoolConnection, 'query'> | Pool, op: WriteOp): Promise<StatementResult> {
    try {
      if (op.kind === 'insert') {
        let params = this.fullRowParams(op.row);
        let sql = this.fullSql.insert;
        if (!params) {
          this.checkInsertRow(op.row);
          const cols = Object.keys(op.row);
          sql = this.insertSql('insert', cols);
          params = cols.map((c) => this.param(c, op.row[c]));
        }
        const [rows] = await conn.query<RowDataPacket[]>(`${sql} RETURNING ${this.selectList}`, params);
        return { found: true, changed: true, image: this.decode(rows[0]) };
      }
      if (op.kind === 'put') {
        let params = this.fullRowParams(op.row);
        let sql = this.fullSql.put;
        if (!params) {
          this.checkColumns(op.row, true);
          const cols = Object.keys(op.row);
          sql = this.insertSql('put', cols);
          params = cols.map((c) => this.param(c, op.row[c]));
        }
        return putResult(await conn.query<ResultSetHeader>(sql, params));
      }
      if (op.kind === 'update') {
        this.checkColumns(op.key, true);
        this.checkColumns(op.changes, false);
        const cols = Object.keys(op.changes);
        if (cols.length === 0) throw new RoutingInputError('update without changes', this.mapping.sourceId);
        const [res] = await conn.query<ResultSetHeader>(
          `UPDATE ${this.table} SET ${cols.map((c) => `${q(c)} = ${this.placeholder(c)}`).join(', ')} WHERE ${this.whereKey}`,
          [...cols.map((c) => this.param(c, op.changes[c])), ...this.keyParams(op.key)],
        );
        return { found: res.affectedRows > 0, changed: res.changedRows > 0 };
      }
      this.checkColumns(op.key, true);
      const [res] = await conn.query<ResultSetHeader>(`DELETE FROM ${this.table} WHERE ${this.whereKey}`, this.keyParams(op.key));
      return { found: res.affectedRows > 0, changed: res.affectedRows > 0 };
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ER_DUP_ENTRY' && op.kind === 'insert') throw new DuplicateKeyError(this.mapping.sourceId, keyString(this.mapping, op.row));
      if (code === 'ER_NO_DEFAULT_FOR_FIELD') {
        const column = /'([^']*)'/.exec((e as Error).message)?.[1] ?? '?';
        throw new ColumnDefaultError(this.mapping.sourceId, column, 'NOT NULL without a default: the insert must supply it');
      }
      throw e;
    }
  }

  /** INSERT (insert) or upsert (put) SQL for a column list, built once per list. */
  private insertSql(kind: 'insert' | 'put', cols: readonly string[]): string {
    const cacheKey = `${kind}:${cols.join('\u0000')}`;
    let sql = this.upsertSql.get(cacheKey);
    if (sql === undefined) {
      sql = `INSERT INTO ${this.table} (${cols.map(q).join(', ')}) VALUES (${cols.map((c) => this.placeholder(c)).join(', ')})`;
      if (kind === 'put') {
        const nonKey = cols.filter((c) => !this.pk.includes(c));
        sql += ` ON DUPLICATE KEY UPDATE ${(nonKey.length ? nonKey : [this.pk[0]]).map((c) => `${q(c)} = VALUES(${q(c)})`).join(', ')}`;
      }
      if (this.upsertSql.size < 64) this.upsertSql.set(cacheKey, sql);
    }
    return sql;
  }

  /**
   * The statement parameters of a row that holds exactly the table's columns (in column order, whatever the row's key
   * order), or undefined for any other row, which then takes the general, checking path.
   */
  private fullRowParams(row: Row): unknown[] | undefined {
    const n = this.names.length;
    let keys = 0;
    for (const _ in row) keys++;
    if (keys !== n) return undefined;
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) {
      const v = row[this.names[i]];
      if (v === undefined || (v === null && this.isKey[i])) return undefined;
      out[i] = v !== null && typeof v === 'object' ? Buffer.from(v.$b64, 'base64') : v;
    }
    return out;
  }

  /** True when `row` holds every column of the table. */
  isFullRow(row: Row): boolean {
    for (const c of this.names) if (!(c in row)) return false;
    return true;
  }

  /** An insert row: known columns only; a primary-key column may be omitted (AUTO_INCREMENT, default), not null. */
  checkInsertRow(row: Row): void {
    for (const c of Object.keys(row)) if (!this.byName.has(c)) throw new RoutingInputError('unknown column', this.mapping.sourceId, c);
    for (const c of this.pk) if (c in row && (row[c] === undefined || row[c] === null)) throw new RoutingInputError('primary-key column is null', this.mapping.sourceId, c);
  }

  private checkColumns(row: Row, needKey: boolean): void {
    for (const c of Object.keys(row)) if (!this.byName.has(c)) throw new RoutingInputError('unknown column', this.mapping.sourceId, c);
    if (needKey) for (const c of this.pk) if (row[c] === undefined || row[c] === null) throw new RoutingInputError('primary-key column missing', this.mapping.sourceId, c);
    if (!needKey) for (const c of this.pk) if (c in row) throw new RoutingInputError('a primary-key column cannot be changed by update; delete and insert instead', this.mapping.sourceId, c);
  }

  private keyParams(key: Row): unknown[] {
    return this.pk.map((c) => this.param(c, key[c]));
  }

  private placeholder(column: string): string {
    return this.byName.get(column)?.dataType === 'bit' ? 'CAST(? AS UNSIGNED)' : '?';
  }

  private param(column: string, v: ColumnValue | undefined): unknown {
    if (v === undefined) throw new RoutingInputError('value missing', this.mapping.sourceId, column);
    if (v !== null && typeof v === 'object') return Buffer.from(v.$b64, 'base64');
    return v;
  }
}
