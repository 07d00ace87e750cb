/**
 * The digest the scan strategy sums per bucket: equal for canonically equal items (the same equality as
 * `sameUserAttributes`), different otherwise; the key hash depends on the key attributes only.
 */
import fc from 'fast-check';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { canonicalNumber, itemDigest, keyHash, sameUserAttributes } from '../../../src/pipeline/verify/fingerprint';
import { bucketCount, initialScanState, MAX_BUCKETS } from '../../../src/pipeline/verify/scan-strategy';
import type { Item } from '../../../src/pipeline/item';

test('canonically equal items have equal digests (number forms, set and map order, reserved attributes)', () => {
  const a = { pk: { S: 'U#1' }, n: { N: '1.50' }, tags: { SS: ['b', 'a'] }, m: { M: { y: { N: '1' }, x: { S: 'q' } } }, _v: { N: '5' }, _src: { S: 'd.t' } };
  const b = { m: { M: { x: { S: 'q' }, y: { N: '1.0' } } }, tags: { SS: ['a', 'b'] }, n: { N: '1.5' }, pk: { S: 'U#1' }, _v: { N: '9' } };
  expect(itemDigest(a, ['pk'])).toEqual(itemDigest(b, ['pk']));
  expect(keyHash(a, ['pk'])).toBe(keyHash({ pk: { S: 'U#1' } }, ['pk']));
  expect(itemDigest(a, ['pk']).key).toBe(keyHash(a, ['pk']));
  const c = { pk: { S: 'U#1' }, sk: { N: '7.0' }, x: { S: 'y' } };
  expect(itemDigest(c, ['pk', 'sk']).key).toBe(keyHash({ sk: { N: '7' }, pk: { S: 'U#1' } }, ['pk', 'sk']));
  expect(keyHash(c, ['pk', 'sk'])).not.toBe(keyHash({ pk: { S: 'U#1' }, sk: { N: '8' } }, ['pk', 'sk']));
});

test('one differing attribute, a missing attribute, a type change or a moved value changes the digest', () => {
  const base: Item = { pk: { S: 'U#1' }, a: { S: 'x' }, b: { S: 'y' }, n: { N: '1' } };
  const variants: Item[] = [
    { ...base, a: { S: 'z' } },
    { pk: base.pk, a: base.a, n: base.n },
    { ...base, n: { S: '1' } },
    { ...base, a: { S: 'y' }, b: { S: 'x' } },
    { ...base, a: { NULL: true } },
    { ...base, c: { S: '' } },
    { ...base, pk: { S: 'U#2' } },
  ];
  const text = (x: Item): string => { const d = itemDigest(x); return `${d.a},${d.b}`; };
  const d = text(base);
  for (const v of variants) expect(text(v)).not.toBe(d);
});

test('the fast canonical-number path agrees with the general one', () => {
  for (const n of ['0', '-1', '12.5', '18446744073709551615', '-0.001']) expect(canonicalNumber(n)).toBe(n);
  expect(canonicalNumber('-0')).toBe('0');
  expect(canonicalNumber('1.50')).toBe('1.5');
});

const value: fc.Arbitrary<AttributeValue> = fc.oneof(
  fc.string({ maxLength: 6 }).map((S) => ({ S })),
  fc.integer({ min: -50, max: 50 }).map((i) => ({ N: String(i / 4) })),
  fc.boolean().map((BOOL) => ({ BOOL })),
  fc.constant({ NULL: true as const }),
  fc.uniqueArray(fc.string({ maxLength: 3 }), { minLength: 1, maxLength: 3 }).map((SS) => ({ SS })),
);
const item: fc.Arbitrary<Item> = fc.dictionary(fc.constantFrom('pk', 'a', 'b', 'c', '_v'), value, { maxKeys: 4 });

test('digest equality is sameUserAttributes (property)', () => {
  fc.assert(
    fc.property(item, item, (x, y) => {
      const [dx, dy] = [itemDigest(x), itemDigest(y)];
      expect(dx.a === dy.a && dx.b === dy.b).toBe(sameUserAttributes(x, y));
    }),
    { numRuns: 3_000 },
  );
});

test('bucket counts stay a power of two within [256, MAX_BUCKETS]; the initial state is plain JSON', () => {
  expect(bucketCount(0)).toBe(256);
  expect(bucketCount(1_000_000)).toBe(MAX_BUCKETS);
  const s = initialScanState(10_000, 4);
  expect(s).toMatchObject({ stage: 'digest', buckets: 1024, source: null, segments: ['start', 'start', 'start', 'start'] });
  expect(Buffer.from(s.sums!, 'base64')).toHaveLength(1024 * 8);
  expect(JSON.parse(JSON.stringify(s))).toEqual(s);
});
