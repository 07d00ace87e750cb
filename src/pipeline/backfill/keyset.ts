/**
 * Keyset (seek) SQL over a table's primary key: the only way backfill and verification read the source.
 *
 * Invariants:
 * - A key is the tuple of the primary-key columns' canonical values (../types.ts) in key order; it is plain JSON,
 *   so it travels in heartbeats and cursors unchanged.
 * - Every comparison is done by the server, in the column's own order (collation for strings, numeric for numbers);
 *   JavaScript never orders keys. A key is always rendered as an exact SQL literal of its column's type: integers,
 *   BIGINT and DECIMAL as unquoted decimal text (never through a double), binary as X'…', everything else as a quoted
 *   string, so `k > literal` means the same thing as the ORDER BY.
 * - MariaDB 10.11 does not range-optimise row-value comparisons: `(a,b) > (1,'x')` becomes a full index scan (EXPLAIN
 *   type=index). The bounds are therefore written in the expanded form
 *   `a > 1 OR (a = 1 AND b > 'x')`, which the range optimiser turns into index ranges (EXPLAIN type=range).
 *   Row-value IN lists, `(a,b) IN ((1,'x'),…)`, *are* optimised into point lookups and are used for key lookups.
 * - Key columns whose SQL comparison disagrees with their ORDER BY are refused: ENUM and SET (ordered by index,
 *   compared as strings) and FLOAT (the canonical value is rounded to 6 digits, so it is not the stored value).
 */
import { escape, escapeId } from 'mysql2';
import { primaryKeyColumns, type ColumnInfo } from '../row/codec';
import type { ColumnValue, Row } from '../types';
import { BackfillConfigError } from './errors';

/** A primary-key value: the key columns' canonical values, in key order. */
export type KeyValues = readonly ColumnValue[];

/** A half-open key range (after, through]: `after` null = from the first key, `through` null = to the last. */
export interface KeyRange {
  readonly after: KeyValues | null;
  readonly through: KeyValues | null;
}

/** What keyset SQL needs to know about a table. */
export interface TableSpec {
  readonly schema: string;
  readonly table: string;
  /** Every column, in ordinal order. */
  readonly columns: readonly ColumnInfo[];
  /** The primary-key columns in key order. */
  readonly key: readonly ColumnInfo[];
}

const NUMERIC = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'numeric', 'year', 'bit']);
const BINARY = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']);
const REFUSED: Record<string, string> = {
  enum: 'ENUM sorts by member index but compares as a string',
  set: 'SET sorts by member bits but compares as a string',
  float: 'FLOAT values are canonicalised to 6 digits, which is not the stored value',
  json: 'JSON cannot be a key column',
};

/** Builds the spec for a table from its columns (codec's readColumns); throws BackfillConfigError when unusable. */
export function tableSpec(schema: string, table: string, columns: readonly ColumnInfo[]): TableSpec {
  if (columns.length === 0) throw new BackfillConfigError('table not found or has no columns', schema, table);
  const key = primaryKeyColumns(columns);
  if (key.length === 0) throw new BackfillConfigError('table has no primary key; a keyset scan needs one', schema, table);
  for (const c of key) {
    const why = REFUSED[c.dataType];
    if (why) throw new BackfillConfigError(`primary-key column of type ${c.dataType} is not supported: ${why}`, schema, table, c.name);
  }
  return { schema, table, columns, key };
}

/** The key of a canonical row. */
export function keyOfRow(spec: TableSpec, row: Row): KeyValues {
  return spec.key.map((c) => {
    const v = row[c.name];
    if (v === undefined || v === null) throw new BackfillConfigError('row has no value for a primary-key column', spec.schema, spec.table, c.name);
    return v;
  });
}

/** The row holding only the key columns of `key`. */
export function rowOfKey(spec: TableSpec, key: KeyValues): Row {
  const out: Record<string, ColumnValue> = {};
  spec.key.forEach((c, i) => (out[c.name] = key[i]));
  return out;
}

/** A stable text form of a key (JSON), for maps, logs and report lines. */
export function keyText(key: KeyValues): string {
  return JSON.stringify(key);
}

/** The exact SQL literal of `v` for column `c`; throws BackfillConfigError on a value of the wrong shape. */
export function sqlLiteral(spec: TableSpec, c: ColumnInfo, v: ColumnValue): string {
  const bad = (why: string): never => {
    throw new BackfillConfigError(`${why}, got ${v === null ? 'NULL' : typeof v === 'object' ? 'a binary value' : `a ${typeof v}`}` /* never the value: messages can reach workflow history */, spec.schema, spec.table, c.name);
  };
  if (v === null) return bad('NULL in a key column');
  if (NUMERIC.has(c.dataType)) {
    const text = typeof v === 'number' ? String(v) : typeof v === 'string' ? v : bad('expected a number');
    return /^-?\d+(\.\d+)?$/.test(text) ? text : bad('not an exact decimal');
  }
  if (c.dataType === 'double' || c.dataType === 'real') {
    return typeof v === 'number' && Number.isFinite(v) ? String(v) : bad('expected a finite number');
  }
  if (BINARY.has(c.dataType)) {
    return typeof v === 'object' && '$b64' in v ? `X'${Buffer.from(v.$b64, 'base64').toString('hex')}'` : bad('expected { $b64 }');
  }
  return typeof v === 'string' ? escape(v) : bad('expected a string');
}

function ident(spec: TableSpec): string {
  return `${escapeId(spec.schema)}.${escapeId(spec.table)}`;
}

/**
 * `key <op> bound` in the expanded, range-optimisable form (op '>' or '<'; `orEqual` adds the all-equal case).
 * E.g. for (a,b) > (1,'x'): `(a > 1 OR (a = 1 AND b > 'x'))`.
 */
export function keyComparison(spec: TableSpec, op: '>' | '<', bound: KeyValues, orEqual = false): string {
  if (bound.length !== spec.key.length) throw new BackfillConfigError(`key has ${bound.length} values, the primary key ${spec.key.length} columns`, spec.schema, spec.table);
  const cols = spec.key.map((c) => escapeId(c.name));
  const lits = spec.key.map((c, i) => sqlLiteral(spec, c, bound[i]));
  const terms: string[] = [];
  for (let i = 0; i < cols.length; i += 1) {
    const eq = cols.slice(0, i).map((col, j) => `${col} = ${lits[j]}`);
    terms.push([...eq, `${cols[i]} ${op} ${lits[i]}`].join(' AND '));
  }
  if (orEqual) terms.push(cols.map((col, j) => `${col} = ${lits[j]}`).join(' AND '));
  return `(${terms.map((t) => `(${t})`).join(' OR ')})`;
}

/** The WHERE condition of a range, or '1' for the whole table. */
export function rangeCondition(spec: TableSpec, range: KeyRange): string {
  const parts: string[] = [];
  if (range.after) parts.push(keyComparison(spec, '>', range.after));
  if (range.through) parts.push(keyComparison(spec, '<', range.through, true));
  return parts.length ? parts.join(' AND ') : '1';
}

function orderBy(spec: TableSpec): string {
  return spec.key.map((c) => escapeId(c.name)).join(', ');
}

/** SELECT of the next `limit` full rows (or only their keys) of `range`, in key order. */
export function chunkQuery(spec: TableSpec, range: KeyRange, limit: number, keyOnly = false): string {
  const cols = (keyOnly ? spec.key : spec.columns).map((c) => escapeId(c.name)).join(', ');
  return `SELECT ${cols} FROM ${ident(spec)} FORCE INDEX (PRIMARY) WHERE ${rangeCondition(spec, range)} ORDER BY ${orderBy(spec)} LIMIT ${Math.max(1, Math.floor(limit))}`;
}

/** SELECT of the full rows whose keys are in `keys` (point lookups; any order). */
export function lookupQuery(spec: TableSpec, keys: readonly KeyValues[], keyOnly = false): string {
  const cols = (keyOnly ? spec.key : spec.columns).map((c) => escapeId(c.name)).join(', ');
  const tuple = (k: KeyValues): string => {
    const lits = spec.key.map((c, i) => sqlLiteral(spec, c, k[i]));
    return lits.length === 1 ? lits[0] : `(${lits.join(', ')})`;
  };
  const lhs = spec.key.length === 1 ? escapeId(spec.key[0].name) : `(${orderBy(spec)})`;
  return `SELECT ${cols} FROM ${ident(spec)} WHERE ${lhs} IN (${keys.map(tuple).join(', ')})`;
}

/** SELECT of the key at 0-based position `offset` of the whole table (to split it into parallel ranges). */
export function keyAtOffsetQuery(spec: TableSpec, offset: number): string {
  return `SELECT ${orderBy(spec)} FROM ${ident(spec)} FORCE INDEX (PRIMARY) ORDER BY ${orderBy(spec)} LIMIT 1 OFFSET ${Math.max(0, Math.floor(offset))}`;
}

/** Estimated row count (information_schema.TABLES.TABLE_ROWS) query; params [schema, table]. */
export const ESTIMATE_QUERY = 'SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?';

/** Exact count query, used when the estimate is small. */
export function countQuery(spec: TableSpec): string {
  return `SELECT COUNT(*) AS n FROM ${ident(spec)}`;
}

const SMALL_INTS = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'year']);

/**
 * `key` in the canonical encoding of the key columns' types, whatever produced it (a mapping's toRow may return
 * "42" for an INT or "1.5" for a DECIMAL(5,2)); equal keys then have equal keyText.
 */
export function normalizeKey(spec: TableSpec, key: KeyValues): KeyValues {
  return spec.key.map((c, i) => {
    const v = key[i];
    if (v === null || typeof v === 'object') return v;
    if (SMALL_INTS.has(c.dataType) && /^-?\d+$/.test(String(v))) return Number(v);
    if ((c.dataType === 'bigint' || c.dataType === 'bit') && /^-?\d+$/.test(String(v))) return BigInt(v).toString();
    if ((c.dataType === 'decimal' || c.dataType === 'numeric') && c.numericScale !== null && /^-?\d+(\.\d+)?$/.test(String(v))) {
      const [int, frac = ''] = String(v).split('.');
      const scale = c.numericScale;
      return scale > 0 ? `${int}.${frac.padEnd(scale, '0').slice(0, scale)}` : int;
    }
    return v;
  });
}
