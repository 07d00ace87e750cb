import { canonicalNumber, compareItems, diffAttributes, fingerprint } from '../../../src/pipeline/verify/fingerprint';
import { sampleHash } from '../../../src/pipeline/verify/verifier';
import { itemKeyFromPlain } from '../../../src/pipeline/verify/repair';
import { plainKey } from '../../../src/pipeline/verify/report';

test('numbers compare by value, as DynamoDB stores them', () => {
  expect(canonicalNumber('12.50')).toBe('12.5');
  expect(canonicalNumber('0012.500')).toBe('12.5');
  expect(canonicalNumber('-0.000')).toBe('0');
  expect(canonicalNumber('1e3')).toBe('1000');
  expect(canonicalNumber('1.5E-2')).toBe('0.015');
  expect(canonicalNumber('18446744073709551615')).toBe('18446744073709551615');
  expect(canonicalNumber('-.5')).toBe('-0.5');
});

test('reserved attributes are ignored; sets and maps are order-free; types and NULL count', () => {
  const a = { pk: { S: 'U#1' }, n: { N: '1.50' }, tags: { SS: ['b', 'a'] }, m: { M: { y: { N: '1' }, x: { S: 'q' } } }, _v: { N: '5' }, _src: { S: 'd.t' } };
  const b = { pk: { S: 'U#1' }, n: { N: '1.5' }, tags: { SS: ['a', 'b'] }, m: { M: { x: { S: 'q' }, y: { N: '1.0' } } }, _v: { N: '9' } };
  expect(fingerprint(a)).toBe(fingerprint(b));
  expect(compareItems(a, b)).toBe('match');
  expect(compareItems(a, { ...b, n: { S: '1.5' } })).toBe('different');
  expect(diffAttributes(a, { ...b, n: { NULL: true } })).toEqual([{ attribute: 'n', expected: 'N1.5', actual: 'null' }]);
  expect(diffAttributes(a, { ...b, extra: { S: '' } })).toEqual([{ attribute: 'extra', actual: 'S""' }]);
});

test('tombstones are absent', () => {
  const live = { pk: { S: 'U#1' }, _v: { N: '5' } };
  const tomb = { pk: { S: 'U#1' }, _v: { N: '5' }, _del: { BOOL: true } };
  expect(compareItems(live, tomb)).toBe('missing');
  expect(compareItems(undefined, tomb)).toBe('match');
  expect(compareItems(undefined, live)).toBe('extra');
  expect(compareItems(live, undefined)).toBe('missing');
});

test('plain keys round-trip; sampling is deterministic and roughly uniform', () => {
  const key = { pk: { S: 'T#"x"' }, sk: { N: '42' }, b: { B: Buffer.from([1, 2]) } };
  expect(itemKeyFromPlain(plainKey(key))).toEqual({ pk: { S: 'T#"x"' }, sk: { N: '42' }, b: { B: Buffer.from([1, 2]) } });
  expect(sampleHash('[1]')).toBe(sampleHash('[1]'));
  const n = Array.from({ length: 10_000 }, (_, i) => sampleHash(JSON.stringify([i]))).filter((h) => h < 0.1).length;
  expect(n).toBeGreaterThan(800);
  expect(n).toBeLessThan(1200);
});

test('the fast comparison agrees with fingerprint equality', () => {
  const base = { pk: { S: 'a' }, n: { N: '1.50' }, b: { BOOL: true }, l: { L: [{ N: '1' }] }, _v: { N: '1' } };
  const variants = [
    { ...base },
    { ...base, n: { N: '1.5' } },
    { ...base, n: { N: '1.6' } },
    { ...base, b: { BOOL: false } },
    { ...base, l: { L: [{ N: '1.0' }] } },
    { ...base, extra: { NULL: true } },
    { pk: { S: 'a' }, n: { N: '1.5' }, b: { BOOL: true }, l: { L: [{ N: '1' }] } },
    { pk: { S: 'a' }, n: { S: '1.5' }, b: { BOOL: true }, l: { L: [{ N: '1' }] } },
  ];
  for (const x of variants) for (const y of variants) expect(compareItems(x, y) === 'match').toBe(fingerprint(x) === fingerprint(y));
});
