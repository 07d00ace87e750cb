/** The checker's own canonical comparisons. */
import { differingColumns, normalizeDecimal, valuesEqual } from '../../../src/checker/canonical';

it('normalises decimal text the way DynamoDB numbers compare', () => {
  expect(['12.50', '012.5', '+12.500', '-0.0', '0', '100', '-3.10', '.5', '18446744073709551615'].map(normalizeDecimal)).toEqual(['12.5', '12.5', '12.5', '0', '0', '100', '-3.1', '0.5', '18446744073709551615']);
  expect(normalizeDecimal('abc')).toBeUndefined();
  expect(normalizeDecimal('')).toBeUndefined();
});

it('compares canonical values exactly, numerics numerically, and partial rows only where they have columns', () => {
  expect(valuesEqual({ $b64: 'AQI=' }, { $b64: 'AQI=' })).toBe(true);
  expect(valuesEqual('1', 1)).toBe(false);
  expect(valuesEqual(null, '')).toBe(false);
  const written = { id: '5', total: '10.50', qty: 3, note: null, blob: { $b64: 'AA==' } };
  expect(differingColumns(written, { id: '5', total: '10.50', qty: 3, note: null, blob: { $b64: 'AA==' }, updated_at: 'x' })).toEqual([]);
  expect(differingColumns(written, { id: '5', total: '10.5', qty: 3, note: null, blob: { $b64: 'AA==' } })).toEqual(['total']);
  expect(differingColumns(written, { id: '5', total: '10.5', qty: '3' }, new Set(['total', 'qty']), true)).toEqual([]);
  expect(differingColumns(written, { id: '5', total: '10.51' }, new Set(['total']), true)).toEqual(['total']);
  expect(differingColumns(written, { id: '5' })).toEqual(['total', 'qty', 'note', 'blob']);
});
