import type { ColumnInfo } from '../../../src/pipeline/row/codec';
import { chunkQuery, keyComparison, keyOfRow, lookupQuery, rangeCondition, sqlLiteral, tableSpec } from '../../../src/pipeline/backfill/keyset';
import { BackfillConfigError } from '../../../src/pipeline/backfill/errors';

function col(name: string, dataType: string, pkPosition: number | null, ordinal: number): ColumnInfo {
  return {
    schema: 'db', table: 't', name, dataType, columnType: dataType, numericPrecision: null, numericScale: null,
    datetimePrecision: null, maxLength: null, unsigned: false, nullable: pkPosition === null, ordinal, pkPosition,
  };
}

const composite = tableSpec('db', 't', [col('v', 'varchar', null, 1), col('b', 'varchar', 2, 2), col('a', 'bigint', 1, 3)]);

test('key columns come in primary-key order, not column order', () => {
  expect(composite.key.map((c) => c.name)).toEqual(['a', 'b']);
  expect(keyOfRow(composite, { v: 'x', b: 'k', a: '9' })).toEqual(['9', 'k']);
});

test('expanded lower and upper bounds (MariaDB does not range-optimise row comparisons)', () => {
  expect(keyComparison(composite, '>', ['18446744073709551615', "o'k"])).toBe(
    "((`a` > 18446744073709551615) OR (`a` = 18446744073709551615 AND `b` > 'o\\'k'))",
  );
  expect(keyComparison(composite, '<', ['1', 'x'], true)).toBe("((`a` < 1) OR (`a` = 1 AND `b` < 'x') OR (`a` = 1 AND `b` = 'x'))");
  expect(rangeCondition(composite, { after: null, through: null })).toBe('1');
});

test('chunk query selects every column in key order with a limit', () => {
  const q = chunkQuery(composite, { after: ['1', 'a'], through: null }, 500.7);
  expect(q).toMatch(/^SELECT `v`, `b`, `a` FROM `db`.`t` FORCE INDEX \(PRIMARY\) WHERE .* ORDER BY `a`, `b` LIMIT 500$/);
});

test('lookups use row-value IN lists (optimised into point lookups)', () => {
  expect(lookupQuery(composite, [['1', 'a'], ['2', 'b']], true)).toBe("SELECT `a`, `b` FROM `db`.`t` WHERE (`a`, `b`) IN ((1, 'a'), (2, 'b'))");
});

test('literals are exact and typed; wrong shapes fail fast naming the column', () => {
  const bin = tableSpec('db', 't', [col('k', 'varbinary', 1, 1)]);
  expect(sqlLiteral(bin, bin.key[0], { $b64: Buffer.from([0, 255]).toString('base64') })).toBe("X'00ff'");
  expect(sqlLiteral(composite, composite.key[0], '-12.50')).toBe('-12.50');
  expect(() => sqlLiteral(composite, composite.key[0], '1e5')).toThrow(/db\.t\.a: not an exact decimal/);
  expect(() => sqlLiteral(composite, composite.key[0], "1 OR 1=1")).toThrow(BackfillConfigError);
});

test('tables without a usable primary key are refused', () => {
  expect(() => tableSpec('db', 't', [col('x', 'int', null, 1)])).toThrow(/no primary key/);
  expect(() => tableSpec('db', 't', [col('e', 'enum', 1, 1)])).toThrow(/db\.t\.e: .*ENUM/);
  expect(() => tableSpec('db', 't', [])).toThrow(/not found/);
});
