/**
 * The compiled per-table decoder is rowFromMysql2 with its decisions taken once: for generated values of every
 * supported type (and for wrong-typed, missing and extra values) it returns the same row or throws the same
 * RowDecodeError. The real-MariaDB equivalence (every type case, binlog path = SELECT path = decoder) is in
 * test/integration/cdc/codec.test.ts.
 */
import * as fc from 'fast-check';
import { RowDecodeError, rowFromMysql2, SUPPORTED_TYPES, type ColumnInfo } from '../../../src/pipeline/row/codec';
import { compileMysql2Decoder } from '../../../src/pipeline/row/decoder';

const col = (name: string, dataType: string, ordinal: number): ColumnInfo => ({
  schema: 's', table: 't', name, dataType, columnType: dataType, numericPrecision: null, numericScale: null,
  datetimePrecision: null, maxLength: null, unsigned: false, nullable: true, ordinal, pkPosition: ordinal === 1 ? 1 : null,
});

/** What rowFromMysql2 gives, or the error it throws, as comparable JSON. */
function outcome(f: () => unknown): string {
  try {
    return JSON.stringify({ ok: f() });
  } catch (e) {
    return JSON.stringify({ error: (e as Error).name, message: (e as Error).message, isDecode: e instanceof RowDecodeError });
  }
}

const anyValue = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.integer(),
  fc.double(),
  fc.constant(2 ** 60),
  fc.bigInt(),
  fc.string(),
  fc.stringMatching(/^-?\d{1,25}$/),
  fc.stringMatching(/^-?\d{0,20}(\.\d{1,9})?$/),
  fc.constantFrom('2024-02-29 23:59:59.123456', '-838:59:59.000000', '', ' ', '1e3', 'NaN', '0x10', '{"a":1}', '😀'),
  fc.uint8Array({ maxLength: 9 }).map((a) => Buffer.from(a)),
  fc.constant(new Date(0)),
  fc.constant({ a: 1 }),
  fc.boolean(),
);

describe('compileMysql2Decoder', () => {
  const types = [...SUPPORTED_TYPES, 'geometry'];
  const columns = types.map((t, i) => col(`c_${t}`, t, i + 1));
  const decode = compileMysql2Decoder(columns);

  it('equals rowFromMysql2 (value or error) for generated values of every type', () => {
    fc.assert(
      fc.property(fc.array(anyValue, { minLength: types.length, maxLength: types.length }), (values) => {
        const row = Object.fromEntries(columns.map((c, i) => [c.name, values[i]]));
        expect(outcome(() => decode(row))).toBe(outcome(() => rowFromMysql2(columns, row)));
      }),
      { numRuns: 3000 },
    );
  });

  it('equals rowFromMysql2 per single column, type by type (errors name the column)', () => {
    for (const [i, c] of columns.entries()) {
      const one = compileMysql2Decoder([c]);
      fc.assert(fc.property(anyValue, (v) => expect(outcome(() => one({ [c.name]: v }))).toBe(outcome(() => rowFromMysql2([c], { [c.name]: v })))), { numRuns: 300, seed: i });
    }
  });

  it('keeps the key order and refuses missing and extra columns as rowFromMysql2 does', () => {
    const cols = [col('id', 'bigint', 1), col('name', 'varchar', 2), col('amount', 'decimal', 3)];
    const d = compileMysql2Decoder(cols);
    const row = { amount: '1.50', id: '9007199254740993', name: 'x' };
    expect(Object.keys(d(row))).toEqual(['id', 'name', 'amount']);
    expect(d(row)).toEqual(rowFromMysql2(cols, row));
    expect(() => d({ id: '1', name: 'x' })).toThrow(new RowDecodeError('column missing from the select row (schema changed?)', 's', 't', 'amount'));
    expect(() => d({ ...row, extra: 1 })).toThrow(/s\.t\.extra: column not in the table's known metadata/);
    expect(d({ id: '1', name: undefined, amount: null })).toEqual({ id: '1', name: null, amount: null });
  });

  it('handles awkward column names as data, never as code', () => {
    const names = ['a"b', "c'd", 'e\\f', 'g\nh', '`i`', 'j}; throw 1; //', '__proto__', 'constructor', '😀'];
    const cols = names.map((n, i) => col(n, 'varchar', i + 1));
    const row = Object.fromEntries(names.map((n, i) => [n, `v${i}`]));
    Object.defineProperty(row, '__proto__', { value: 'v6', enumerable: true, configurable: true, writable: true });
    expect(outcome(() => compileMysql2Decoder(cols)(row))).toBe(outcome(() => rowFromMysql2(cols, row)));
    const safe = cols.filter((c) => c.name !== '__proto__');
    const safeRow = Object.fromEntries(safe.map((c) => [c.name, c.name]));
    expect(compileMysql2Decoder(safe)(safeRow)).toEqual(safeRow);
  });
});
