/** The source pool backfill and verification read through: exact types and JSON as text (the codec's options). */
import * as mysql from 'mysql2/promise';
import { mysqlConnectionParams } from '../../infra/mysql';
import { ROW_QUERY_OPTIONS } from '../row/codec';

/**
 * A pool whose rows `rowFromMysql2` accepts (ROW_QUERY_OPTIONS: BIGINT/DECIMAL as strings, dates as text, UTC,
 * JSON as text). The caller owns it and calls `end()`.
 */
export function createSourcePool(opts: { url?: string; connectionLimit?: number } = {}): mysql.Pool {
  const p = mysqlConnectionParams(opts.url);
  return mysql.createPool({ ...ROW_QUERY_OPTIONS, host: p.host, port: p.port, user: p.user, password: p.password, connectionLimit: opts.connectionLimit ?? 8 });
}
