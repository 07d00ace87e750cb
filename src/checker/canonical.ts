/**
 * The checker's own copy of the small part of the canonical row encoding (src/pipeline/types.ts) it needs: equality
 * of canonical values, and turning a mysql2 result (opened with exact types: BIGINT/DECIMAL/dates as strings) into
 * canonical values. Kept separate on purpose: the checker must not share code with what it checks.
 */
import type { LogRow, LogValue } from './log-format';

/** True when `a` and `b` are the same canonical value (binary compared by its base64 text). */
export function valuesEqual(a: LogValue | undefined, b: LogValue | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  if (typeof a === 'object' && typeof b === 'object') return a.$b64 === b.$b64;
  return false;
}

/** A decimal number's text without sign noise, leading zeros or trailing fraction zeros ("-0012.50" → "-12.5"). */
export function normalizeDecimal(text: string): string | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text.trim());
  if (!m || (m[2] === '' && !m[3])) return undefined;
  const int = m[2].replace(/^0+(?=\d)/, '') || '0';
  const frac = (m[3] ?? '').replace(/0+$/, '');
  const body = frac ? `${int}.${frac}` : int;
  return body === '0' ? '0' : `${m[1] === '-' ? '-' : ''}${body}`;
}

/**
 * Columns of `expected` whose value in `actual` differs; columns only in `actual` (server-generated) are ignored.
 * `partial`: `actual` holds only the columns the store's reader can compare, so columns it lacks are skipped.
 * Columns in `numeric` compare as decimal numbers.
 */
export function differingColumns(expected: LogRow, actual: LogRow, numeric?: ReadonlySet<string>, partial = false): string[] {
  return Object.keys(expected).filter((c) => {
    if (partial && !(c in actual)) return false;
    if (numeric?.has(c)) {
      const a = expected[c];
      const b = actual[c];
      return !(typeof b === 'string' && (typeof a === 'string' || typeof a === 'number') && normalizeDecimal(String(a)) !== undefined && normalizeDecimal(String(a)) === normalizeDecimal(b));
    }
    return !valuesEqual(expected[c], actual[c]);
  });
}

/** mysql2 field metadata the conversion needs (a subset of mysql2's FieldPacket). */
export interface FieldInfo {
  readonly name: string;
  /** mysql2 `columnType` (MYSQL_TYPE_*). */
  readonly columnType?: number;
}

const MYSQL_TYPE_BIT = 16;

/**
 * Query-level mysql2 typeCast that returns JSON columns as their stored text (MySQL's JSON type, and MariaDB's
 * LONGTEXT flagged json in the extended metadata); mysql2's own `jsonStrings` is a connection option only, and the
 * checker reads through whatever pool it is given. Everything else is decoded as the pool's options say.
 */
export function jsonAsText(field: { type: string; extendedFormat?: string; string(encoding?: string): string | null }, next: () => unknown): unknown {
  return field.type === 'JSON' || field.extendedFormat === 'json' ? field.string('utf8') : next();
}

/** One mysql2 value (pool opened with supportBigNumbers, bigNumberStrings, dateStrings) as a canonical value. */
export function canonicalFromMysql(v: unknown, field?: FieldInfo): LogValue {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) {
    if (field?.columnType === MYSQL_TYPE_BIT) return BigInt(`0x${v.toString('hex') || '0'}`).toString();
    return { $b64: v.toString('base64') };
  }
  if (typeof v === 'string' || typeof v === 'number') return v;
  if (typeof v === 'bigint') return v.toString();
  // A JSON column on MySQL 8 arrives parsed; the canonical form is its text.
  return JSON.stringify(v);
}

/** A whole mysql2 row as a canonical row. */
export function canonicalRowFromMysql(row: Record<string, unknown>, fields: readonly FieldInfo[]): LogRow {
  const out: Record<string, LogValue> = {};
  const byName = new Map(fields.map((f) => [f.name, f]));
  for (const [k, v] of Object.entries(row)) out[k] = canonicalFromMysql(v, byName.get(k));
  return out;
}
