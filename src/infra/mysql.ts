/** MySQL/MariaDB connection factory: exact types (BIGINT and DECIMAL as strings, dates as strings, UTC). */
import * as mysql from 'mysql2/promise';
import { serviceEnv } from './env';

/** Options every cutover connection uses so that no value loses precision on its way through JavaScript. */
export const EXACT_TYPES: mysql.PoolOptions = {
  supportBigNumbers: true,
  bigNumberStrings: true,
  decimalNumbers: false,
  dateStrings: true,
  /** JSON columns as the text MariaDB stores, not re-serialised (key order and number forms preserved). */
  jsonStrings: true,
  timezone: 'Z',
  charset: 'utf8mb4',
};

/** A pool for `url` (default: CUTOVER_MYSQL_URL); optionally bound to another database. */
export function createMysqlPool(opts: { url?: string; database?: string; connectionLimit?: number } = {}): mysql.Pool {
  const url = new URL(opts.url ?? serviceEnv().mysqlUrl);
  return mysql.createPool({
    ...EXACT_TYPES,
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: opts.database ?? (url.pathname.replace(/^\//, '') || undefined),
    connectionLimit: opts.connectionLimit ?? 8,
    multipleStatements: false,
  });
}

/** Host, port, user and password of `url`, for clients (like the binlog reader) that take them separately. */
export function mysqlConnectionParams(url = serviceEnv().mysqlUrl): { host: string; port: number; user: string; password: string; database?: string } {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: u.pathname.replace(/^\//, '') || undefined,
  };
}
