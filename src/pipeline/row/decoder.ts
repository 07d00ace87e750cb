/**
 * A per-table decoder for rows read by mysql2: `rowFromMysql2` with every per-column decision (data type, checks,
 * the column list, the output shape) taken once, when the table's columns are known, instead of on every row.
 *
 * Invariants (proved by test/integration/cdc/codec.test.ts on every type case of the codec, and by
 * test/unit/row/decoder.test.ts against rowFromMysql2 on generated values):
 *  - compileMysql2Decoder(columns)(row) deep-equals rowFromMysql2(columns, row) for every input, and throws a
 *    RowDecodeError with the same message whenever rowFromMysql2 throws (unsupported type, lossy value, a column
 *    missing from the row, a column not in `columns`).
 *  - The output object has exactly the table's columns, in ordinal order (the same key order as rowFromMysql2), and
 *    always the same hidden class for one decoder, which keeps the hot read paths monomorphic.
 *  - `columns` is captured at compile time: a decoder belongs to one schema version of one table; recompile after DDL.
 */
import { canonicalFloat, rowFromMysql2, type ColumnInfo } from './codec';
import type { ColumnValue, Row } from '../types';

/** Decodes one mysql2 row (pool created with ROW_QUERY_OPTIONS) of a fixed table into the canonical Row. */
export type RowDecoder = (row: Readonly<Record<string, unknown>>) => Row;

type Convert = (v: unknown) => ColumnValue;

const INT_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer']);
const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set', 'json']);
const BINARY_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']);
const STRING_TEMPORAL = new Set(['datetime', 'timestamp', 'date', 'time']);
const INTEGER_TEXT = /^-?\d+$/;
const DECIMAL_TEXT = /^-?\d*(\.\d+)?$/;

/** BIT bytes as the decimal string of their unsigned big-endian value (as the codec). */
function bitString(buf: Buffer): string {
  let n = 0n;
  for (const byte of buf) n = (n << 8n) | BigInt(byte);
  return n.toString();
}

/**
 * The SELECT-path conversion of one column, chosen once by its type. Only the common case is decided here; anything
 * unusual (including every error) is handed to rowFromMysql2's own conversion via `slow`, so messages and edge
 * cases cannot drift from the shared codec.
 */
function converterFor(col: ColumnInfo, slow: Convert): Convert {
  const t = col.dataType;
  if (INT_TYPES.has(t)) return (v) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : slow(v));
  if (t === 'bigint') return (v) => (typeof v === 'string' && INTEGER_TEXT.test(v) ? v : slow(v));
  if (t === 'decimal' || t === 'numeric') return (v) => (typeof v === 'string' && DECIMAL_TEXT.test(v) ? v : slow(v));
  if (t === 'float') return (v) => (typeof v === 'number' ? canonicalFloat(v) : slow(v));
  if (t === 'double' || t === 'real') return (v) => (typeof v === 'number' ? v : slow(v));
  // SELECT path: temporal values are the server's text as is (the negative-TIME repair is binlog-only).
  if (STRING_TEMPORAL.has(t) || TEXT_TYPES.has(t)) return (v) => (typeof v === 'string' ? v : slow(v));
  if (t === 'year') return (v) => (typeof v === 'number' ? v : slow(v));
  if (t === 'bit') return (v) => (Buffer.isBuffer(v) ? bitString(v) : slow(v));
  if (BINARY_TYPES.has(t)) return (v) => (Buffer.isBuffer(v) ? { $b64: v.toString('base64') } : slow(v));
  return slow; // unsupported: fails (or yields null for a NULL) exactly as rowFromMysql2 does
}

/**
 * Compiles the decoder for a table's columns (information_schema order, as readColumns returns them). Cheap to call,
 * but meant to be called once per table and schema version and kept.
 */
export function compileMysql2Decoder(columns: readonly ColumnInfo[]): RowDecoder {
  const n = columns.length;
  const names = columns.map((c) => c.name);
  // rowFromMysql2 of a one-column row converts exactly one value with the codec's own rules and messages.
  const slows: Convert[] = columns.map((c) => {
    const one = [c];
    return (v) => rowFromMysql2(one, { [c.name]: v })[c.name];
  });
  const convs = columns.map((c, i) => converterFor(c, slows[i]));
  const fallback = (row: Readonly<Record<string, unknown>>): Row => rowFromMysql2(columns, row);
  // A literal key "__proto__" would set the prototype instead of a property: such a table keeps the shared codec.
  if (names.includes('__proto__')) return fallback;
  // One object literal with the table's columns as fixed keys: every decoded row shares one hidden class. Names are
  // embedded as JSON string literals (information_schema names cannot escape them); values come from the arrays.
  const body =
    `return function decode(row) {\n` +
    names.map((name, i) => `  const v${i} = row[${JSON.stringify(name)}];\n  if (v${i} === undefined && !(${JSON.stringify(name)} in row)) return fallback(row);\n`).join('') +
    `  let keys = 0;\n  for (const k in row) keys++;\n  if (keys !== ${n}) return fallback(row);\n` +
    `  return {${names.map((name, i) => `${JSON.stringify(name)}: v${i} === null || v${i} === undefined ? null : c${i}(v${i})`).join(', ')}};\n};`;
  // Generated from column names only (JSON string literals), never from row data.
  const make = new Function('fallback', ...convs.map((_, i) => `c${i}`), body) as (fallback: (row: Readonly<Record<string, unknown>>) => Row, ...c: Convert[]) => RowDecoder;
  return make(fallback, ...convs);
}

const compiled = new WeakMap<readonly ColumnInfo[], RowDecoder>();

/**
 * The compiled decoder of a column list, built once per list object (a table's spec keeps its list for its lifetime,
 * so backfill chunks and verify pages share one). Same results and errors as `rowFromMysql2(columns, row)`.
 */
export function decoderFor(columns: readonly ColumnInfo[]): RowDecoder {
  let d = compiled.get(columns);
  if (!d) compiled.set(columns, (d = compileMysql2Decoder(columns)));
  return d;
}
