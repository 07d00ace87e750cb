/**
 * Canonical fingerprints of DynamoDB items, so that "the item the mapping makes of the source row" and "the item in
 * the table" compare equal exactly when the application would read the same thing.
 *
 * Invariants:
 * - Only user attributes count: the reserved attributes (_v, _del, _src, ../item.ts) are ignored, except that a
 *   tombstone (_del = true) is treated as no item at all (`liveUserItem`).
 * - Representation differences DynamoDB itself erases do not count: numbers compare by value ("1.50" = "1.5" =
 *   "01.5", "-0" = "0", exponent forms), sets compare as sets (order-free), maps compare key-order-free, binary by
 *   bytes. Everything else counts: a string "1" is not the number 1, NULL is not absent, "" is not absent.
 * - `fingerprint` is a deterministic string; equal fingerprints ⇔ equal canonical items.
 * - `itemDigest` is a 64-bit digest (two 32-bit lanes) of the same canonical content: equal canonical items have
 *   equal digests; unequal ones collide with probability about 2^-64. It is an order-free sum over attributes, so it
 *   needs no sorting and no intermediate strings for the common scalar types.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { isLive, RESERVED_ATTRS, userAttributes, type Item } from '../item';

const CANONICAL_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/;

/** An exact decimal number in canonical form: no leading/trailing zeros, no exponent, "0" for any zero. */
export function canonicalNumber(n: string): string {
  if (CANONICAL_NUMBER.test(n) && n !== '-0') return n;
  const m = /^\s*([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/.exec(n);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return `NaN(${n})`;
  const sign = m[1] === '-' ? '-' : '';
  let digits = (m[2] ?? '') + (m[3] ?? '');
  let point = (m[2] ?? '').length + Number(m[4] ?? 0);
  const lead = digits.length - digits.replace(/^0+/, '').length;
  digits = digits.slice(lead);
  point -= lead;
  digits = digits.replace(/0+$/, '');
  if (digits === '') return '0';
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return sign + out;
}

function bytes(b: Uint8Array | string | undefined): string {
  if (b === undefined) return '';
  return typeof b === 'string' ? b : Buffer.from(b).toString('base64');
}

/** Canonical text of one attribute value. */
export function canonicalValue(v: AttributeValue): string {
  if (v.S !== undefined) return `S${JSON.stringify(v.S)}`;
  if (v.N !== undefined) return `N${canonicalNumber(v.N)}`;
  if (v.B !== undefined) return `B${bytes(v.B)}`;
  if (v.BOOL !== undefined) return v.BOOL ? 'T' : 'F';
  if (v.NULL !== undefined) return 'null';
  if (v.SS !== undefined) return `SS[${[...new Set(v.SS)].map((s) => JSON.stringify(s)).sort().join(',')}]`;
  if (v.NS !== undefined) return `NS[${[...new Set(v.NS.map(canonicalNumber))].sort().join(',')}]`;
  if (v.BS !== undefined) return `BS[${[...new Set(v.BS.map(bytes))].sort().join(',')}]`;
  if (v.L !== undefined) return `L[${v.L.map(canonicalValue).join(',')}]`;
  if (v.M !== undefined) return `M{${canonicalEntries(v.M).join(',')}}`;
  return '?';
}

function canonicalEntries(m: Record<string, AttributeValue>): string[] {
  return Object.keys(m)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalValue(m[k])}`);
}

/** The user attributes of a live item, or undefined for an absent item or a tombstone. */
export function liveUserItem(item: Item | undefined): Item | undefined {
  return isLive(item) ? userAttributes(item) : undefined;
}

/** The fingerprint of an item's user attributes (reserved attributes ignored). */
export function fingerprint(item: Item): string {
  return canonicalEntries(userAttributes(item)).join(',');
}

/** One attribute that differs: its canonical text on each side (undefined = absent on that side). */
export interface AttributeDiff {
  readonly attribute: string;
  readonly expected?: string;
  readonly actual?: string;
}

/** The user attributes whose canonical values differ between `expected` and `actual`, sorted by name. */
export function diffAttributes(expected: Item, actual: Item): AttributeDiff[] {
  const e = userAttributes(expected);
  const a = userAttributes(actual);
  const names = [...new Set([...Object.keys(e), ...Object.keys(a)])].sort();
  const out: AttributeDiff[] = [];
  for (const n of names) {
    const x = e[n] === undefined ? undefined : canonicalValue(e[n]);
    const y = a[n] === undefined ? undefined : canonicalValue(a[n]);
    if (x !== y) out.push({ attribute: n, ...(x !== undefined ? { expected: x } : {}), ...(y !== undefined ? { actual: y } : {}) });
  }
  return out;
}

const RESERVED: ReadonlySet<string> = new Set(RESERVED_ATTRS);

/** Same canonical value (fast paths for the common scalar cases, the canonical text otherwise). */
function sameValue(x: AttributeValue, y: AttributeValue): boolean {
  if (x.S !== undefined) return x.S === y.S;
  if (x.N !== undefined) return y.N !== undefined && (x.N === y.N || canonicalNumber(x.N) === canonicalNumber(y.N));
  if (x.BOOL !== undefined) return x.BOOL === y.BOOL;
  return canonicalValue(x) === canonicalValue(y);
}

/** True when the user attributes of `a` and `b` are canonically equal (what `fingerprint` equality means). */
export function sameUserAttributes(a: Item, b: Item): boolean {
  let na = 0;
  for (const k in a) {
    if (RESERVED.has(k)) continue;
    na += 1;
    const y = b[k];
    if (y === undefined || !sameValue(a[k], y)) return false;
  }
  let nb = 0;
  for (const k in b) if (!RESERVED.has(k)) nb += 1;
  return na === nb;
}

/** How a source row and its target item relate. */
export type Verdict = 'match' | 'missing' | 'extra' | 'different';

/**
 * Compares the item the mapping expects (undefined: the source has no such row) with the item found (undefined or a
 * tombstone: none).
 */
export function compareItems(expected: Item | undefined, found: Item | undefined): Verdict {
  const live = isLive(found);
  if (!expected) return live ? 'extra' : 'match';
  if (!live) return 'missing';
  return sameUserAttributes(expected, found) ? 'match' : 'different';
}

/** murmur3's 32-bit finaliser. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// Two independent 32-bit lanes (FNV-1a and a murmur3-style lane) fed character by character, no strings built.
let lx = 0;
let ly = 0;
function feed(text: string): void {
  let x = lx;
  let y = ly;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    x = Math.imul(x ^ c, 0x01000193);
    y = Math.imul(y ^ c, 0xcc9e2d51);
    y = (y << 15) | (y >>> 17);
  }
  lx = x;
  ly = y;
}

/** Hashes one attribute (its name, a type tag and its canonical value) into lx, ly. */
function attrHash(name: string, v: AttributeValue): void {
  lx = 0x811c9dc5;
  ly = 0x1b873593;
  feed(name);
  if (v.S !== undefined) {
    feed('\u0001S');
    feed(v.S);
  } else if (v.N !== undefined) {
    feed('\u0001N');
    feed(canonicalNumber(v.N));
  } else if (v.BOOL !== undefined) feed(v.BOOL ? '\u0001T' : '\u0001F');
  else {
    feed('\u0001');
    feed(canonicalValue(v));
  }
  lx = fmix(lx);
  ly = fmix(ly ^ 0x5bd1e995);
}

/** The bucket hash of up to two key attributes' first lanes. */
function combineKey(k0: number, k1: number): number {
  return fmix(k0 ^ Math.imul(k1, 0x9e3779b1));
}

/** A digest of an item: [lane0, lane1] of its user attributes and the hash of its key attributes. */
export interface Digest {
  readonly a: number;
  readonly b: number;
  /** keyHash(item, keyNames): which bucket the item belongs to. */
  readonly key: number;
}

/**
 * A 64-bit digest (a, b) of an item's user attributes (reserved attributes ignored), an order-free sum of one hash
 * per attribute: equal for canonically equal items (what `sameUserAttributes` means), different otherwise except
 * with probability ≈ 2^-64; plus `keyHash` of its key attributes (`keyNames`: partition key, then sort key), in the
 * same pass.
 */
export function itemDigest(item: Item, keyNames: readonly string[] = []): Digest {
  let a = 0;
  let b = 0;
  let k0 = 0;
  let k1 = 0;
  for (const k in item) {
    if (RESERVED.has(k)) continue;
    attrHash(k, item[k]);
    a = (a + lx) >>> 0;
    b = (b + ly) >>> 0;
    if (k === keyNames[0]) k0 = lx;
    else if (k === keyNames[1]) k1 = lx;
  }
  return { a, b, key: combineKey(k0, k1) };
}

/** A 32-bit hash of an item's key attributes (`keyNames`, at most two): the same as itemDigest(item, keyNames).key. */
export function keyHash(item: Item, keyNames: readonly string[]): number {
  const part = (k: string | undefined): number => {
    if (k === undefined || item[k] === undefined) return 0;
    attrHash(k, item[k]);
    return lx;
  };
  return combineKey(part(keyNames[0]), part(keyNames[1]));
}
