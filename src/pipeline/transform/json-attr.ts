/**
 * JSON text ⇄ DynamoDB map/list, exactly: numbers keep their decimal text (JSON.parse would round BIGINTs), so a JSON
 * column's numbers reach DynamoDB's N type unchanged. Objects become M, arrays L, strings S, true/false BOOL, null NULL.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/** A parse in progress: the text and the position of the next character. */
interface Cursor {
  readonly text: string;
  i: number;
}

/** A JSON literal at the cursor: true, false, null or a number (sticky: matches only at lastIndex). */
const LITERAL = /true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

function fail(c: Cursor, what: string): never {
  throw new SyntaxError(`invalid JSON at position ${c.i}: ${what}`);
}

function skipWs(c: Cursor): void {
  const t = c.text;
  let i = c.i;
  for (let ch = t.charCodeAt(i); ch === 32 || ch === 9 || ch === 10 || ch === 13; ch = t.charCodeAt(++i));
  c.i = i;
}

/** A string at the cursor (on its opening quote). Plain strings are sliced; escapes go through JSON.parse. */
function readString(c: Cursor): string {
  const t = c.text;
  const start = c.i;
  let i = start + 1;
  let plain = true;
  for (;;) {
    const ch = t.charCodeAt(i);
    if (ch !== ch) break; // NaN: past the end
    if (ch === 34) break; // "
    if (ch === 92) {
      plain = false;
      i += 2;
      continue;
    }
    if (ch < 32) plain = false; // a raw control character: let JSON.parse reject it
    i++;
  }
  c.i = i;
  if (i >= t.length) fail(c, 'unterminated string');
  c.i = i + 1;
  return plain ? t.slice(start + 1, i) : (JSON.parse(t.slice(start, i + 1)) as string);
}

function readValue(c: Cursor): AttributeValue {
  skipWs(c);
  const t = c.text;
  const ch = t.charCodeAt(c.i);
  if (ch === 123) { // {
    c.i++;
    const m: Record<string, AttributeValue> = {};
    skipWs(c);
    if (t.charCodeAt(c.i) === 125) {
      c.i++;
      return { M: m };
    }
    for (;;) {
      skipWs(c);
      if (t.charCodeAt(c.i) !== 34) fail(c, 'expected a key');
      const k = readString(c);
      skipWs(c);
      if (t.charCodeAt(c.i) !== 58) fail(c, 'expected ":"');
      c.i++;
      m[k] = readValue(c);
      skipWs(c);
      const next = t.charCodeAt(c.i);
      if (next === 44) c.i++;
      else if (next === 125) {
        c.i++;
        return { M: m };
      } else fail(c, 'expected "," or "}"');
    }
  }
  if (ch === 91) { // [
    c.i++;
    const l: AttributeValue[] = [];
    skipWs(c);
    if (t.charCodeAt(c.i) === 93) {
      c.i++;
      return { L: l };
    }
    for (;;) {
      l.push(readValue(c));
      skipWs(c);
      const next = t.charCodeAt(c.i);
      if (next === 44) c.i++;
      else if (next === 93) {
        c.i++;
        return { L: l };
      } else fail(c, 'expected "," or "]"');
    }
  }
  if (ch === 34) return { S: readString(c) };
  LITERAL.lastIndex = c.i;
  const lit = LITERAL.exec(t);
  if (!lit) return fail(c, 'unexpected character');
  const text = lit[0];
  c.i += text.length;
  if (text === 'true') return { BOOL: true };
  if (text === 'false') return { BOOL: false };
  if (text === 'null') return { NULL: true };
  return { N: text };
}

/** Parses JSON text into an AttributeValue; throws SyntaxError naming the position on malformed input. */
export function jsonToAttr(text: string): AttributeValue {
  const c: Cursor = { text, i: 0 };
  const v = readValue(c);
  skipWs(c);
  if (c.i !== text.length) fail(c, 'trailing characters');
  return v;
}

/**
 * JSON text of an AttributeValue produced by jsonToAttr, in MySQL's normalised spacing (`{"a": 1, "b": [1, 2]}`).
 * Object key order is whatever the map holds (DynamoDB does not keep it), so compare JSON columns semantically.
 */
export function attrToJson(v: AttributeValue): string {
  if (v.M) return `{${Object.entries(v.M).map(([k, x]) => `${JSON.stringify(k)}: ${attrToJson(x)}`).join(', ')}}`;
  if (v.L) return `[${v.L.map(attrToJson).join(', ')}]`;
  if (v.S !== undefined) return JSON.stringify(v.S);
  if (v.N !== undefined) return v.N;
  if (v.BOOL !== undefined) return v.BOOL ? 'true' : 'false';
  if (v.NULL) return 'null';
  if (v.SS) return `[${v.SS.map((s) => JSON.stringify(s)).join(', ')}]`;
  if (v.NS) return `[${v.NS.join(', ')}]`;
  throw new TypeError('attribute value has no JSON form');
}
