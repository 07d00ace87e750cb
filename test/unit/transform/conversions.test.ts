/**
 * The success paths of every declarative conversion, through a compiled mapping: each column type becomes the
 * attribute type the config asks for, and toRow gives the canonical row back exactly. Plus the example code hook
 * (examples/mappings/hooks/orders.ts) as the mapping loads it: its attribute is added on the way in and removed on the
 * way back.
 */
import * as path from 'node:path';
import { compileMapping, loadMappingFile, type ColumnInfo } from '../../../src/pipeline/transform/mapping';
import type { Row } from '../../../src/pipeline/types';

const columns: ColumnInfo[] = [
  { name: 'id', dataType: 'int', columnType: 'int(11)', primaryKeyOrdinal: 1 },
  { name: 'active', dataType: 'tinyint', columnType: 'tinyint(1)' },
  { name: 'flags', dataType: 'bit', columnType: 'bit(1)' },
  { name: 'sizes', dataType: 'varchar', columnType: 'varchar(64)' },
  { name: 'tags', dataType: 'set', columnType: "set('red','green','blue')" },
  { name: 'amount', dataType: 'decimal', columnType: 'decimal(10,2)', numericPrecision: 10, numericScale: 2 },
  { name: 'born', dataType: 'datetime', columnType: 'datetime(6)', datetimePrecision: 6 },
  { name: 'seen', dataType: 'datetime', columnType: 'datetime(3)', datetimePrecision: 3 },
  { name: 'label', dataType: 'varbinary', columnType: 'varbinary(16)' },
];

const m = compileMapping(
  {
    source: 's.conv',
    target: 't',
    partitionKey: { attribute: 'pk', template: 'C#{id}' },
    nulls: 'omit',
    columns: {
      active: { type: 'boolean' },
      flags: { type: 'boolean' },
      sizes: { type: 'numberSet' },
      tags: { type: 'stringSet' },
      amount: { type: 'string' },
      born: { type: 'datetime', format: 'epochSeconds' },
      seen: { type: 'datetime', format: 'epochMillis' },
      label: { type: 'string' },
    },
  },
  columns,
);

const row: Row = {
  id: 7,
  active: 1,
  flags: '0',
  sizes: '10,2.50,300',
  tags: 'red,blue',
  amount: '-12.50',
  born: '1999-12-31 23:59:59.000001',
  seen: '2024-02-29 12:00:00.123',
  label: { $b64: Buffer.from('plain text').toString('base64') },
};

describe('declarative conversions', () => {
  const item = m.toItem(row);

  it('writes each column as the attribute type the config names', () => {
    expect(item.pk).toEqual({ S: 'C#7' });
    expect(item.active).toEqual({ BOOL: true });
    expect(item.flags).toEqual({ BOOL: false });
    expect(item.sizes).toEqual({ NS: ['10', '2.5', '300'] });
    expect(item.tags).toEqual({ SS: ['red', 'blue'] });
    expect(item.amount).toEqual({ S: '-12.50' });
    expect(item.born).toEqual({ N: '946684799.000001' });
    expect(item.seen).toEqual({ N: String(Date.UTC(2024, 1, 29, 12, 0, 0, 123)) });
    expect(item.label).toEqual({ S: Buffer.from('plain text').toString('base64') }); // binary as a string: its base64 text
  });

  it('reads every conversion back to the canonical row', () => {
    const back = m.toRow(item);
    expect(back).toMatchObject({ id: 7, active: 1, flags: '0', tags: 'red,blue', amount: '-12.50', born: '1999-12-31 23:59:59.000001', seen: '2024-02-29 12:00:00.123', label: row.label });
    // A number set holds numbers, not their text: members come back normalised and in numeric-text order.
    expect(String(back.sizes).split(',').map(Number).sort((a, b) => a - b)).toEqual([2.5, 10, 300]);
  });
});

describe('code hook', () => {
  const [, orders] = loadMappingFile(path.join(__dirname, '../../../examples/mappings/shop.yaml'));
  it('adds its attribute on the way in and removes it on the way back', () => {
    const small = orders.toItem({ order_id: '1', user_id: '9', total_cents: 9_999, status: 'paid', placed_at: '2024-01-01 00:00:00.000000' } as Row);
    const large = orders.toItem({ order_id: '2', user_id: '9', total_cents: 10_000, status: 'paid', placed_at: '2024-01-01 00:00:00.000000' } as Row);
    expect(small.size).toEqual({ S: 'small' });
    expect(large.size).toEqual({ S: 'large' });
    expect(orders.toRow(large)).not.toHaveProperty('size');
  });
});
