/**
 * Column value ⇄ DynamoDB attribute conversions.
 *
 * Invariants:
 * - Exact numbers: BIGINT/DECIMAL/BIT values (decimal strings) and JSON numbers go to N as text, never through a JS
 *   number; `normalizeNumber` writes them in DynamoDB's canonical form (no exponent, no leading or trailing zeros) so
 *   an item built here equals the item DynamoDB returns. More than 38 significant digits is an error, not a rounding.
 * - `decodeValue(encodeValue(v)) === v` for every value of a column whose facts (kind, scale, fsp, members) are known;
 *   without facts, the decode picks the natural canonical form (documented per case below).
 * - Error messages never contain the value (only its kind and length): they can reach workflow history.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { ColumnValue } from '../types';
import type { ColumnFacts, SourceKind } from './columns';
import { attrToJson, jsonToAttr } from './json-attr';

/** DATETIME as ISO-8601 UTC text, or exact epoch seconds / milliseconds. */
export type DatetimeFormat = 'iso' | 'epochSeconds' | 'epochMillis';
/** The attribute type a column becomes. */
export type ConversionType = 'auto' | 'string' | 'number' | 'boolean' | 'binary' | 'stringSet' | 'numberSet' | 'json' | 'datetime';

/** How one column becomes one attribute. `auto` picks by column kind (or, with no facts, by the value's JS type). */
export interface Conversion {
  readonly type: ConversionType;
  /** For `datetime`: ISO-8601 UTC text, or epoch seconds / milliseconds as an exact number (fraction kept). */
  readonly format?: DatetimeFormat;
}

/** Which source kinds each conversion accepts ('unknown' is always accepted and checked per value). */
export const ALLOWED_KINDS: Record<Exclude<ConversionType, 'auto'>, readonly SourceKind[]> = {
  string: ['int', 'bigint', 'decimal', 'float', 'bit', 'year', 'datetime', 'date', 'time', 'string', 'enum', 'set', 'json', 'binary'],
  number: ['int', 'bigint', 'decimal', 'float', 'bit', 'year', 'string', 'enum'],
  boolean: ['int', 'bit', 'string'],
  binary: ['binary', 'string', 'json'],
  stringSet: ['set', 'json', 'string'],
  numberSet: ['set', 'json', 'string'],
  json: ['json', 'string'],
  datetime: ['datetime', 'date', 'string'],
};

/** The concrete conversion `auto` stands for, for a column of kind `kind` ('auto' stays for unknown). */
export function resolveAuto(kind: SourceKind): ConversionType {
  switch (kind) {
    case 'int': case 'bigint': case 'decimal': case 'float': case 'bit': case 'year': return 'number';
    case 'binary': return 'binary';
    case 'json': return 'json';
    case 'unknown': return 'auto';
    default: return 'string';
  }
}

/**
 * Text already in DynamoDB's canonical form: no leading zeros (but a lone 0 before the point), no trailing zeros after
 * it, no exponent. Up to 38 characters it has at most 38 digits and a decimal exponent far inside DynamoDB's range, so
 * `normalizeNumber` returns it unchanged (test/unit/transform/numbers.test.ts checks the two paths agree).
 */
const CANONICAL_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/;

/** DynamoDB's canonical text of a decimal number; throws RangeError beyond 38 significant digits. */
export function normalizeNumber(text: string): string {
  if (text.length <= 38 && text !== '-0' && CANONICAL_NUMBER.test(text)) return text;
  return normalizeSlow(text);
}

function normalizeSlow(text: string): string {
  const m = /^\s*([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new RangeError(`not a number (${describeText(text)})`);
  const neg = m[1] === '-';
  let digits = (m[2] ?? '') + (m[3] ?? '');
  let point = (m[2] ?? '').length + Number(m[4] ?? 0); // position of the decimal point within `digits`
  const lead = digits.length - digits.replace(/^0+/, '').length;
  digits = digits.slice(lead);
  point -= lead;
  digits = digits.replace(/0+$/, '');
  if (digits === '') return '0';
  if (digits.length > 38) throw new RangeError(`${digits.length} significant digits, more than DynamoDB's 38`);
  if (point > 126 || point < -129) throw new RangeError(`decimal exponent ${point} is out of DynamoDB's number range`);
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return neg ? `-${out}` : out;
}

/** Formats canonical number text with exactly `scale` fraction digits (DECIMAL's canonical form). */
export function withScale(n: string, scale: number): string {
  const neg = n.startsWith('-');
  const [i, f = ''] = (neg ? n.slice(1) : n).split('.');
  const out = scale > 0 ? `${i}.${f.padEnd(scale, '0').slice(0, scale)}` : i;
  return neg && /[1-9]/.test(out) ? `-${out}` : out;
}

/**
 * Messages never quote the value (a message may reach logs or, through an activity failure, workflow history): they
 * say what kind of value it was and its length, and the caller names the table, column and row.
 */
function describeText(text: string): string {
  return `text of ${text.length} characters`;
}

function describeValue(v: ColumnValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'object') return `binary of ${Buffer.from(v.$b64, 'base64').length} bytes`;
  return typeof v === 'number' ? 'a number' : describeText(v);
}

const DT = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?$/;

function datetimeToAttr(v: string, format: DatetimeFormat): AttributeValue {
  const m = DT.exec(v);
  if (!m) throw new TypeError(`not a DATETIME value (${describeText(v)})`);
  const [, y, mo, d, h = '00', mi = '00', s = '00', f = ''] = m;
  if (Number(mo) < 1 || Number(d) < 1) throw new TypeError('a zero date has no time-stamp form');
  if (format === 'iso') return { S: `${y}-${mo}-${d}T${h}:${mi}:${s}${f ? `.${f}` : ''}Z` };
  const secs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000;
  if (format === 'epochSeconds') return { N: normalizeNumber(`${secs}.${f || '0'}`) };
  const f6 = f.padEnd(6, '0');
  return { N: normalizeNumber(`${secs}${f6.slice(0, 3)}.${f6.slice(3)}`) };
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

function attrToDatetime(a: AttributeValue, format: DatetimeFormat, facts: ColumnFacts): string {
  let base: string;
  let frac: string;
  if (format === 'iso') {
    const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(a.S ?? '');
    if (!m) throw new TypeError(`not an ISO time stamp (${describeText(a.S ?? '')})`);
    base = `${m[1]} ${m[2]}`;
    frac = m[3] ?? '';
  } else {
    const n = a.N ?? '';
    const [ip, fp = ''] = n.split('.');
    const [secText, fracText] = format === 'epochSeconds' ? [ip, fp] : [ip.slice(0, -3) || '0', ip.slice(-3).padStart(3, '0') + fp];
    const d = new Date(Number(secText) * 1000);
    base = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
    frac = fracText.replace(/0+$/, '');
  }
  if (facts.kind === 'date') return base.slice(0, 10);
  const fsp = facts.fsp ?? frac.length;
  return fsp > 0 ? `${base}.${frac.padEnd(fsp, '0').slice(0, fsp)}` : base;
}

function textOf(v: ColumnValue): string {
  if (v !== null && typeof v === 'object') return v.$b64;
  return String(v);
}

function setMembers(v: ColumnValue, kind: SourceKind): string[] {
  if (kind === 'json' || (typeof v === 'string' && v.trimStart().startsWith('['))) {
    const a = jsonToAttr(String(v));
    if (!a.L) throw new TypeError('JSON value is not an array');
    return a.L.map((x) => (x.S ?? x.N ?? (() => { throw new TypeError('set member is not a string or number'); })()) as string);
  }
  const s = textOf(v);
  return s === '' ? [] : s.split(',');
}

/** Converts one non-NULL canonical value to an attribute; throws TypeError/RangeError naming what is wrong. */
export function encodeValue(v: ColumnValue, type: ConversionType, facts: ColumnFacts, format: DatetimeFormat = 'iso'): AttributeValue {
  if (v === null) return { NULL: true };
  switch (type) {
    case 'auto':
      if (typeof v === 'number') return { N: normalizeNumber(String(v)) };
      if (typeof v === 'string') return { S: v };
      return { B: Buffer.from(v.$b64, 'base64') };
    case 'string':
      return { S: textOf(v) };
    case 'number':
      if (typeof v === 'object') throw new TypeError('a binary value cannot be a number');
      if (typeof v === 'number' && !Number.isFinite(v)) throw new RangeError('not a finite number');
      return { N: normalizeNumber(String(v)) };
    case 'boolean': {
      const t = textOf(v).toLowerCase();
      if (t === '1' || t === 'true') return { BOOL: true };
      if (t === '0' || t === 'false') return { BOOL: false };
      throw new TypeError(`not a boolean (0/1/true/false): ${describeValue(v)}`);
    }
    case 'binary':
      return { B: typeof v === 'object' ? Buffer.from(v.$b64, 'base64') : Buffer.from(String(v), 'utf8') };
    case 'stringSet': {
      const m = [...new Set(setMembers(v, facts.kind))];
      return m.length ? { SS: m } : { L: [] };
    }
    case 'numberSet': {
      const m = [...new Set(setMembers(v, facts.kind).map(normalizeNumber))];
      return m.length ? { NS: m } : { L: [] };
    }
    case 'json':
      return jsonToAttr(textOf(v));
    case 'datetime':
      return datetimeToAttr(textOf(v), format);
  }
}

function numberToColumn(n: string, kind: SourceKind, facts: ColumnFacts): ColumnValue {
  switch (kind) {
    case 'int': case 'float': case 'year': return Number(n);
    case 'decimal': return facts.scale !== undefined ? withScale(n, facts.scale) : n;
    case 'bigint': case 'bit': case 'string': case 'enum': return n;
    default: {
      const x = Number(n);
      return String(x) === n ? x : n; // no facts: a number when JS holds it exactly, else the exact text
    }
  }
}

/** Inverse of encodeValue for a column with `facts`. */
export function decodeValue(a: AttributeValue, type: ConversionType, facts: ColumnFacts, format: DatetimeFormat = 'iso'): ColumnValue {
  if (a.NULL) return null;
  const kind = facts.kind;
  switch (type) {
    case 'auto':
      if (a.N !== undefined) return numberToColumn(a.N, 'unknown', facts);
      if (a.B !== undefined) return { $b64: Buffer.from(a.B).toString('base64') };
      if (a.S !== undefined) return a.S;
      break;
    case 'string':
      if (a.S === undefined) break;
      if (kind === 'int' || kind === 'float' || kind === 'year') return Number(a.S);
      if (kind === 'binary') return { $b64: a.S };
      return a.S;
    case 'number':
      if (a.N === undefined) break;
      return numberToColumn(a.N, kind, facts);
    case 'boolean':
      if (a.BOOL === undefined) break;
      return kind === 'bit' ? (a.BOOL ? '1' : '0') : kind === 'string' ? String(a.BOOL) : a.BOOL ? 1 : 0;
    case 'binary':
      if (a.B === undefined) break;
      return kind === 'string' || kind === 'json' ? Buffer.from(a.B).toString('utf8') : { $b64: Buffer.from(a.B).toString('base64') };
    case 'stringSet':
    case 'numberSet': {
      const members = a.SS ?? a.NS ?? (a.L ? [] : undefined);
      if (!members) break;
      if (kind === 'json') return `[${members.map((m) => (type === 'stringSet' ? JSON.stringify(m) : m)).join(', ')}]`;
      const order = facts.members;
      const sorted = order ? [...members].sort((x, y) => order.indexOf(x) - order.indexOf(y)) : [...members].sort();
      return sorted.join(',');
    }
    case 'json':
      return attrToJson(a);
    case 'datetime':
      return attrToDatetime(a, format, facts);
  }
  throw new TypeError(`attribute of type ${Object.keys(a).join('/')} does not match conversion ${type}`);
}
