/**
 * Row codec: turns what mysql2 (a SELECT) and zongji (the binlog) hand us into the canonical `Row` of
 * ../types.ts, so the backfill, the CDC reader and the verifier produce byte-identical JSON for the same row.
 *
 * Invariants (proved against real MariaDB by test/integration/cdc/codec.test.ts, one row per type and edge case):
 *   - rowFromMysql2(cols, SELECT row) deep-equals rowFromBinlog(cols, binlog row image) for every supported type.
 *   - No value passes through a lossy JS conversion: BIGINT and DECIMAL stay decimal strings, temporal values stay
 *     the server's text with every fraction digit (both sides are read with dateStrings), BIT is decoded from bytes.
 *   - FLOAT is canonicalised to what MySQL itself shows every client: 6 significant digits (FLT_DIG) of the stored
 *     float32. The binlog carries the full float32 (3.1415927…) while a SELECT returns 3.14159; both are mapped to
 *     the latter so that routing's shadow reads compare equal with MySQL. DOUBLE is the shortest round-trip form,
 *     which is what MariaDB prints.
 *   - JSON (a LONGTEXT alias on MariaDB) is the stored text verbatim. The SELECT side must run with
 *     `jsonStrings: true` (ROW_QUERY_OPTIONS); a parsed JSON object is refused rather than re-serialised lossily.
 *   - A column present in the row but not in `columns` (schema drift) or of an unsupported type fails fast with a
 *     RowDecodeError naming schema, table and column.
 */
import type * as mysql from 'mysql2/promise';
import { CutoverError } from '../../shared/errors';
import { EXACT_TYPES } from '../../infra/mysql';
import type { ColumnValue, Row } from '../types';

/** One column of a source table, from information_schema.COLUMNS (+ KEY_COLUMN_USAGE for the primary key). */
export interface ColumnInfo {
  readonly schema: string;
  readonly table: string;
  readonly name: string;
  /** Lower-case DATA_TYPE: 'int', 'bigint', 'decimal', 'datetime', 'varchar', 'longtext' (MariaDB JSON), ... */
  readonly dataType: string;
  /** COLUMN_TYPE, e.g. "bigint(20) unsigned", "enum('a','b')". */
  readonly columnType: string;
  readonly numericPrecision: number | null;
  readonly numericScale: number | null;
  readonly datetimePrecision: number | null;
  /** CHARACTER_MAXIMUM_LENGTH (characters; bytes for binary types). */
  readonly maxLength: number | null;
  readonly unsigned: boolean;
  readonly nullable: boolean;
  /** 1-based ORDINAL_POSITION. */
  readonly ordinal: number;
  /** 1-based position in the PRIMARY KEY, or null when the column is not part of it. */
  readonly pkPosition: number | null;
}

/** A value could not be converted to the canonical encoding (unsupported type, drift, misconfigured reader). */
export class RowDecodeError extends CutoverError {
  constructor(
    message: string,
    readonly schema: string,
    readonly table: string,
    readonly column: string,
  ) {
    super(`${schema}.${table}.${column}: ${message}`);
  }
}

/** mysql2 options for reading rows that rowFromMysql2 accepts: EXACT_TYPES plus JSON as raw text. */
export const ROW_QUERY_OPTIONS = { ...EXACT_TYPES, jsonStrings: true } as const;

/** Anything that can run a query: a mysql2/promise pool, pool connection or connection. */
export type Queryable = Pick<mysql.Pool, 'query'>;

const INT_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer']);
const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set', 'json']);
const BINARY_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']);
const STRING_TEMPORAL = new Set(['datetime', 'timestamp', 'date', 'time']);

/** The data types the codec converts exactly; preflight refuses tables with any other type. */
export const SUPPORTED_TYPES: ReadonlySet<string> = new Set([
  ...INT_TYPES, 'bigint', 'decimal', 'numeric', 'float', 'double', 'real', ...STRING_TEMPORAL, 'year', ...TEXT_TYPES, ...BINARY_TYPES, 'bit',
]);

/**
 * The table's columns in ordinal order, with primary-key positions. Returns [] when the table does not exist
 * (callers decide whether that is an error).
 */
export async function readColumns(db: Queryable, schema: string, table: string): Promise<ColumnInfo[]> {
  // Two queries, each filtered by constant schema and table name, so the server opens one table's metadata. A join of
  // COLUMNS with KEY_COLUMN_USAGE made MariaDB scan KEY_COLUMN_USAGE across every table of every database (EXPLAIN:
  // "Open_full_table; Scanned all databases"), which is slow on a server with many tables and crashed a loaded one.
  const [rows] = await db.query(
    `SELECT COLUMN_NAME AS name, LOWER(DATA_TYPE) AS dataType, COLUMN_TYPE AS columnType,
            NUMERIC_PRECISION AS numericPrecision, NUMERIC_SCALE AS numericScale,
            DATETIME_PRECISION AS datetimePrecision, CHARACTER_MAXIMUM_LENGTH AS maxLength,
            IS_NULLABLE AS nullable, ORDINAL_POSITION AS ordinal
       FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
      ORDER BY ORDINAL_POSITION`,
    [schema, table],
  );
  const [keyRows] = await db.query(
    `SELECT COLUMN_NAME AS name, ORDINAL_POSITION AS pkPosition
       FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY'`,
    [schema, table],
  );
  const pk = new Map((keyRows as Record<string, unknown>[]).map((k) => [String(k.name), Number(k.pkPosition)]));
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  return (rows as Record<string, unknown>[]).map((r) => ({
    schema,
    table,
    name: String(r.name),
    dataType: String(r.dataType),
    columnType: String(r.columnType),
    numericPrecision: num(r.numericPrecision),
    numericScale: num(r.numericScale),
    datetimePrecision: num(r.datetimePrecision),
    maxLength: num(r.maxLength),
    unsigned: /\bunsigned\b/i.test(String(r.columnType)),
    nullable: r.nullable === 'YES',
    ordinal: Number(r.ordinal),
    pkPosition: pk.get(String(r.name)) ?? null,
  }));
}

/** The primary-key columns in key order (empty when the table has none). */
export function primaryKeyColumns(columns: readonly ColumnInfo[]): ColumnInfo[] {
  return columns.filter((c) => c.pkPosition !== null).sort((a, b) => (a.pkPosition ?? 0) - (b.pkPosition ?? 0));
}

/** FLOAT as MySQL shows it: 6 significant digits of the float32 value. */
export function canonicalFloat(v: number): number {
  if (!Number.isFinite(v)) return v;
  return Number(Math.fround(v).toPrecision(6));
}

function bitString(buf: Buffer): string {
  let n = 0n;
  for (const byte of buf) n = (n << 8n) | BigInt(byte);
  return n.toString();
}

function b64(buf: Buffer): { $b64: string } {
  return { $b64: buf.toString('base64') };
}

/**
 * zongji 0.9.0 decodes a negative TIME2 without fraction from the bit-flipped value plus one second, without carrying
 * ('-12:00:00' arrives as '-11:63:64'). Redo the carry.
 */
function fixNegativeTime(s: string): string {
  const m = /^-(\d+):(\d+):(\d+)(\.\d+)?$/.exec(s);
  if (!m) return s;
  let h = Number(m[1]);
  let min = Number(m[2]);
  let sec = Number(m[3]);
  if (sec < 60 && min < 60) return s;
  if (sec >= 60) {
    sec -= 64;
    min += 1;
  }
  if (min >= 60) {
    min -= 64;
    h += 1;
  }
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `-${pad(h)}:${pad(min)}:${pad(sec)}${m[4] ?? ''}`;
}

type Source = 'select' | 'binlog';

function convert(col: ColumnInfo, v: unknown, source: Source): ColumnValue {
  // An ENUM holding the error value (index 0, '' in every SELECT; stored under a non-strict sql_mode) reaches zongji
  // as an out-of-range index, which it decodes as undefined. NULLs are null on both paths.
  if (v === undefined && source === 'binlog' && col.dataType === 'enum') return '';
  if (v === null || v === undefined) return null;
  const fail = (why: string): never => {
    throw new RowDecodeError(`${why} (${source} value of type ${typeof v}${v instanceof Date ? ' Date' : ''}, column type ${col.columnType})`, col.schema, col.table, col.name);
  };
  const t = col.dataType;
  if (INT_TYPES.has(t)) {
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
    return fail('expected an integer');
  }
  if (t === 'bigint') {
    if ((typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v)) || typeof v === 'bigint') return String(v);
    return fail('expected an exact integer (number within 2^53 or decimal string)');
  }
  if (t === 'decimal' || t === 'numeric') {
    if (typeof v === 'string' && /^-?\d*(\.\d+)?$/.test(v)) return v;
    return fail('expected an exact decimal string (decimalNumbers must be off)');
  }
  if (t === 'float') {
    if (typeof v === 'number') return canonicalFloat(v);
    if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return canonicalFloat(Number(v));
    return fail('expected a number');
  }
  if (t === 'double' || t === 'real') {
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
    return fail('expected a number');
  }
  if (STRING_TEMPORAL.has(t)) {
    if (typeof v !== 'string') return fail('expected the server text form (dateStrings must be on, never a JS Date)');
    return t === 'time' && source === 'binlog' ? fixNegativeTime(v) : v;
  }
  if (t === 'year') {
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
    return fail('expected a year number');
  }
  if (t === 'bit') {
    if (Buffer.isBuffer(v)) return bitString(v);
    return fail('expected the BIT bytes as a Buffer');
  }
  if (BINARY_TYPES.has(t)) {
    if (Buffer.isBuffer(v)) return b64(v);
    if (typeof v === 'string') return b64(Buffer.from(v, 'binary'));
    return fail('expected bytes');
  }
  if (TEXT_TYPES.has(t)) {
    if (typeof v === 'string') return v;
    if (Buffer.isBuffer(v)) return v.toString('utf8');
    return fail('expected text; JSON columns must be read with jsonStrings: true (ROW_QUERY_OPTIONS)');
  }
  return fail(`unsupported data type ${t}`);
}

function convertRow(columns: readonly ColumnInfo[], row: Readonly<Record<string, unknown>>, source: Source): Row {
  const out: Record<string, ColumnValue> = {};
  for (const col of columns) {
    if (!(col.name in row)) {
      throw new RowDecodeError(`column missing from the ${source} row (schema changed?)`, col.schema, col.table, col.name);
    }
    out[col.name] = convert(col, row[col.name], source);
  }
  if (Object.keys(row).length !== columns.length) {
    const known = new Set(columns.map((c) => c.name));
    const extra = Object.keys(row).find((k) => !known.has(k)) ?? '?';
    const c0 = columns[0];
    throw new RowDecodeError(`column not in the table's known metadata (schema changed?)`, c0?.schema ?? '?', c0?.table ?? '?', extra);
  }
  return out;
}

/**
 * Converts a row read by mysql2 (pool created with ROW_QUERY_OPTIONS, i.e. EXACT_TYPES + jsonStrings) into the
 * canonical Row. Keys are exactly the table's columns. Throws RowDecodeError on anything it cannot keep exact.
 */
export function rowFromMysql2(columns: readonly ColumnInfo[], row: Readonly<Record<string, unknown>>): Row {
  return convertRow(columns, row, 'select');
}

/**
 * Converts a zongji row image (ZongJi constructed with dateStrings: true, jsonStrings: true, timezone 'Z') into the
 * canonical Row; equal to rowFromMysql2 of the same row read by SELECT.
 */
export function rowFromBinlog(columns: readonly ColumnInfo[], zongjiRow: Readonly<Record<string, unknown>>): Row {
  return convertRow(columns, zongjiRow, 'binlog');
}
