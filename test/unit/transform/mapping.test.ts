import * as path from 'node:path';
import { compileMapping, loadMappingFile, type ColumnInfo } from '../../../src/pipeline/transform/mapping';
import { MappingConfigError, TransformError } from '../../../src/pipeline/transform/errors';
import type { Row } from '../../../src/pipeline/types';

const example = path.join(__dirname, '../../../examples/mappings/shop.yaml');

const userColumns: ColumnInfo[] = [
  { name: 'id', dataType: 'bigint', columnType: 'bigint(20) unsigned', primaryKeyOrdinal: 1 },
  { name: 'email_address', dataType: 'varchar' },
  { name: 'password_hash', dataType: 'varbinary' },
  { name: 'created_at', dataType: 'datetime', datetimePrecision: 6 },
  { name: 'prefs', dataType: 'json' },
  { name: 'roles', dataType: 'set', columnType: "set('admin','staff','customer')" },
  { name: 'balance', dataType: 'decimal', numericPrecision: 12, numericScale: 2 },
  { name: 'avatar', dataType: 'blob' },
  { name: 'age', dataType: 'tinyint' },
];

const user: Row = {
  id: '18446744073709551615',
  email_address: 'a@b.c',
  password_hash: { $b64: 'AAEC' },
  created_at: '2024-02-29 23:59:59.000100',
  prefs: '{"n": 123456789012345678901, "list": [1, "x", null, true], "o": {}}',
  roles: 'admin,customer',
  balance: '-12.50',
  avatar: { $b64: '/wCq' },
  age: null,
};

describe('mapping', () => {
  it('loads the example file and round-trips rows exactly', () => {
    const [users, orders] = loadMappingFile(example);
    expect(users.sourceId).toBe('shop.users');
    expect(users.target.gsis[0].name).toBe('byEmail');
    const item = users.toItem(user);
    expect(item.pk).toEqual({ S: 'USER#18446744073709551615' });
    expect(item.sk).toEqual({ S: 'PROFILE' });
    expect(item.email).toEqual({ S: 'a@b.c' });
    expect(item.gsi1pk).toEqual({ S: 'EMAIL#a@b.c' });
    expect(item.password_hash).toBeUndefined();
    expect(item.balance).toEqual({ N: '-12.5' });
    expect(item.created_at).toEqual({ S: '2024-02-29T23:59:59.000100Z' });
    expect(item.prefs.M?.n).toEqual({ N: '123456789012345678901' });
    expect(item.roles).toEqual({ SS: ['admin', 'customer'] });
    expect(item.age).toBeUndefined();
    expect(users.keyOf(user)).toEqual({ pk: item.pk, sk: item.sk });
    // without information_schema, a NULL column the file does not mention (age) is simply absent
    const { password_hash: _p, age: _a, ...expected } = user;
    expect(users.toRow(item)).toEqual(expected);

    const order: Row = { user_id: 7, order_id: 'a#b', total_cents: 12000, placed_at: '2024-01-01 00:00:00.123', expires_at: '2030-01-01 00:00:00', note: null };
    const oi = orders.toItem(order);
    expect(oi.sk).toEqual({ S: 'ORDER#a#b' });
    expect(oi.placed_at).toEqual({ N: '1704067200123' });
    expect(oi.expires).toEqual({ N: '1893456000' });
    expect(oi.note).toEqual({ NULL: true });
    expect(oi.size).toEqual({ S: 'large' });
    expect(orders.toRow(oi)).toEqual(order);
  });

  it('validates against information_schema columns', () => {
    const base = { source: 'shop.users', target: 't', partitionKey: { attribute: 'pk', template: 'USER#{id}' }, nulls: 'omit' as const };
    const m = compileMapping({ ...base, exclude: ['password_hash'] }, userColumns);
    const { password_hash: _p, ...expected } = user;
    expect(m.toRow(m.toItem(user))).toEqual(expected); // with columns, NULL columns come back as null
    expect(() => compileMapping({ ...base, rename: { nope: 'x' } }, userColumns)).toThrow(/shop\.users: rename\.nope: unknown column "nope"/);
    expect(() => compileMapping({ ...base, columns: { avatar: { type: 'boolean' } } }, userColumns)).toThrow(MappingConfigError);
    expect(() => compileMapping({ ...base, partitionKey: { attribute: 'pk', template: 'U#{email_address}' } }, userColumns)).toThrow(/not in the primary key/);
    expect(() => compileMapping({ ...base, rename: { age: '_v' } }, userColumns)).toThrow(/reserved/);
    expect(() => compileMapping(base, userColumns.map((c) => ({ ...c, primaryKeyOrdinal: null })))).toThrow(/no primary key/);
  });

  it('rejects colliding single-table mappings and names the file', () => {
    const fs = jest.requireActual<typeof import('node:fs')>('node:fs');
    const os = jest.requireActual<typeof import('node:os')>('node:os');
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'map-')), 'm.yaml');
    fs.writeFileSync(f, `tables:\n  - { source: a.x, target: t, partitionKey: { attribute: pk, template: "X#{id}" }, nulls: omit }\n  - { source: a.y, target: t, partitionKey: { attribute: pk, template: "X#{id}" }, nulls: omit }\n`);
    expect(() => loadMappingFile(f)).toThrow(/m\.yaml: a\.y: partitionKey\.template: keys may collide/);
    fs.writeFileSync(f, `tables:\n  - { source: a.x, target: t, partitionKey: { attribute: pk, template: "X#{id}" } }\n`);
    expect(() => loadMappingFile(f)).toThrow(/m\.yaml: a\.x: nulls/);
  });

  it('escapes composite key values so keys stay injective', () => {
    const m = compileMapping({ source: 's.t', target: 't', partitionKey: { attribute: 'pk', template: '{a}#{b}' }, nulls: 'omit' });
    const k1 = m.keyOf({ a: 'x#y', b: 'z' });
    const k2 = m.keyOf({ a: 'x', b: 'y#z' });
    expect(k1.pk.S).not.toEqual(k2.pk.S);
    expect(m.toRow(k1)).toMatchObject({ a: 'x#y', b: 'z' });
    expect(() => m.toItem({ a: null, b: 'z' })).toThrow(TransformError);
  });
});

describe('mapping with the codec ColumnInfo', () => {
  it('accepts src/pipeline/row/codec ColumnInfo as is', () => {
    const cols: import('../../../src/pipeline/row/codec').ColumnInfo[] = [
      { schema: 's', table: 't', name: 'id', dataType: 'int', columnType: 'int(11)', numericPrecision: 10, numericScale: 0, datetimePrecision: null, maxLength: null, unsigned: false, nullable: false, ordinal: 1, pkPosition: 1 },
      { schema: 's', table: 't', name: 'doc', dataType: 'longtext', columnType: 'longtext', numericPrecision: null, numericScale: null, datetimePrecision: null, maxLength: null, unsigned: false, nullable: true, ordinal: 2, pkPosition: null },
    ];
    const m = compileMapping({ source: 's.t', target: 't', partitionKey: { attribute: 'pk', template: '{id}', type: 'N' }, nulls: 'null', columns: { doc: { type: 'json' } } }, cols);
    const item = m.toItem({ id: 5, doc: '{"a": [1, 2]}' });
    expect(item).toEqual({ pk: { N: '5' }, id: { N: '5' }, doc: { M: { a: { L: [{ N: '1' }, { N: '2' }] } } } });
    expect(m.toRow(item)).toEqual({ id: 5, doc: '{"a": [1, 2]}' });
    expect(m.toRow({ pk: { N: '5' }, id: { N: '5' } })).toEqual({ id: 5, doc: null });
  });
});
