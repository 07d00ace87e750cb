/**
 * JSON text ⇄ DynamoDB map/list, exactly: numbers keep their decimal text (JSON.parse would round BIGINTs), so a JSON
 * column's numbers reach DynamoDB's N type unchanged. Objects become M, arrays L, strings S, true/false BOOL, null NULL.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/** Parses JSON text into an AttributeValue; throws SyntaxError naming the position on malformed input. */
export function jsonToAttr(text: string): AttributeValue {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const fail = (what: string): never => {
    throw new SyntaxError(`invalid JSON at position ${i}: ${what}`);
  };
  const str = (): string => {
    const start = i;
    i++; // opening quote
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): AttributeValue => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const m: Record<string, AttributeValue> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return { M: m };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const k = str();
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        m[k] = value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return { M: m };
        } else fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const l: AttributeValue[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { L: l };
      }
      for (;;) {
        l.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return { L: l };
        } else fail('expected "," or "]"');
      }
    }
    if (c === '"') return { S: str() };
    const lit = /^(true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (!lit) return fail('unexpected character');
    i += lit[0].length;
    if (lit[0] === 'true' || lit[0] === 'false') return { BOOL: lit[0] === 'true' };
    if (lit[0] === 'null') return { NULL: true };
    return { N: lit[0] };
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
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
