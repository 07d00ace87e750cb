import { classifyDdl, controlMessage, dataMessage, encodeKey, versionFromStreamPosition } from '../../../src/pipeline/cdc/dms-format';
import { MalformedCdcMessageError } from '../../../src/pipeline/cdc/errors';
import { binlogCoordinateVersion, isControlEvent, parseCdcMessage } from '../../../src/pipeline/cdc/parser';
import type { CdcEvent } from '../../../src/pipeline/types';
import { changeVersion } from '../../../src/pipeline/version';

const parse = (v: unknown, offset = '7'): ReturnType<typeof parseCdcMessage> =>
  parseCdcMessage('t1', 3, offset, null, typeof v === 'string' ? v : Buffer.from(JSON.stringify(v)));

describe('cutover DMS messages', () => {
  const point = { version: changeVersion(123, 4), gtid: '0-1-123', file: 'binlog.000001', pos: 2080, commitTime: 1_700_000_000, rowIndex: 4 };

  it('round-trips a data message through the parser with its exact version', () => {
    const row = { id: '18446744073709551615', name: '😀', bin: { $b64: 'AAE=' }, gone: null };
    const msg = dataMessage({ schema: 's', table: 't', operation: 'update', data: row, before: { ...row, name: 'x' }, key: encodeKey(row, ['id']), point, now: 0 });
    expect(msg.metadata).toMatchObject({
      'record-type': 'data', operation: 'update', 'partition-key-type': 'primary-key', 'partition-key-value': '["18446744073709551615"]',
      'schema-name': 's', 'table-name': 't', 'transaction-id': 123, 'transaction-record-id': 5, 'commit-timestamp': '2023-11-14T22:13:20.000000Z',
      timestamp: '1970-01-01T00:00:00.000000Z',
    });
    const e = parse(msg) as CdcEvent;
    expect(e).toEqual({ operation: 'update', schema: 's', table: 't', data: row, before: { ...row, name: 'x' }, version: '1230000004', commitTimestamp: '2023-11-14T22:13:20.000000Z', origin: { topic: 't1', partition: 3, offset: '7' } });
  });

  it('encodes composite keys stably, in key order, distinguishing types', () => {
    expect(encodeKey({ a: 1, b: 'x', c: null }, ['b', 'a'])).toBe('["x",1]');
    expect(encodeKey({ a: '1' }, ['a'])).not.toBe(encodeKey({ a: 1 }, ['a']));
    expect(() => encodeKey({ a: 1 }, ['z'])).toThrow(/z/);
  });

  it('writes control records that parse as control events', () => {
    const msg = controlMessage({ schema: 's', table: 't', operation: 'add-column', statement: 'ALTER TABLE t ADD c INT', point });
    const e = parse(msg);
    expect(isControlEvent(e)).toBe(true);
    expect(e).toMatchObject({ operation: 'add-column', schema: 's', table: 't', statement: 'ALTER TABLE t ADD c INT', version: point.version });
  });

  it('classifies DDL statements into DMS control operations', () => {
    expect(classifyDdl('ALTER TABLE `db`.`t` ADD COLUMN x INT')).toEqual({ operation: 'add-column', schema: 'db', table: 't' });
    expect(classifyDdl('alter table t drop column x')).toMatchObject({ operation: 'drop-column', table: 't' });
    expect(classifyDdl('ALTER TABLE t MODIFY x BIGINT')).toMatchObject({ operation: 'column-type-change' });
    expect(classifyDdl('ALTER TABLE t CHANGE x y INT')).toMatchObject({ operation: 'change-columns' });
    expect(classifyDdl('ALTER TABLE t ADD INDEX i (x)')).toMatchObject({ operation: 'change-columns' });
    expect(classifyDdl('ALTER TABLE t ADD x INT, DROP y')).toMatchObject({ operation: 'change-columns' });
    expect(classifyDdl('DROP TABLE IF EXISTS `t`')).toMatchObject({ operation: 'drop-table', table: 't' });
    expect(classifyDdl('CREATE TABLE db.t2 (id int primary key)')).toMatchObject({ operation: 'create-table', schema: 'db', table: 't2' });
    expect(classifyDdl('RENAME TABLE a TO b')).toMatchObject({ operation: 'rename-table', table: 'a', newName: 'b' });
    expect(classifyDdl('TRUNCATE TABLE t')).toMatchObject({ operation: 'truncate-table', table: 't' });
    expect(classifyDdl('CREATE TEMPORARY TABLE x (a int)')).toBeUndefined();
    expect(classifyDdl('INSERT INTO t VALUES (1)')).toBeUndefined();
  });

  it('reads the version back only from its own stream-position form', () => {
    expect(versionFromStreamPosition('cutover:1:99:0-1-5:binlog.000001:4')).toBe('99');
    expect(versionFromStreamPosition('mysql-bin-changelog.000024:373')).toBeUndefined();
  });
});

describe('genuine AWS DMS records', () => {
  const meta = { timestamp: '2024-07-29T00:58:17.983670Z', 'record-type': 'data', 'partition-key-type': 'schema-table', 'schema-name': 'app', 'table-name': 'users' };

  it('versions changes from the MySQL binlog coordinate in stream-position and the record id', () => {
    const e = parse({ data: { id: 42 }, metadata: { ...meta, operation: 'insert', 'stream-position': 'mysql-bin-changelog.000024:373:-1:400:1:mysql-bin-changelog.000024:300', 'transaction-id': 8324031209, 'transaction-record-id': 2, 'commit-timestamp': '2024-07-29T00:58:17.974340Z' } }) as CdcEvent;
    expect(e.version).toBe(binlogCoordinateVersion(24n, 373n, 2n));
    expect(e.commitTimestamp).toBe('2024-07-29T00:58:17.974340Z');
    const later = parse({ data: { id: 42 }, metadata: { ...meta, operation: 'update', 'stream-position': 'mysql-bin-changelog.000025:4', 'transaction-record-id': 1 } }) as CdcEvent;
    expect(BigInt(later.version) > BigInt(e.version)).toBe(true);
  });

  it('gives loads version 0 and keeps a non-empty before-image', () => {
    expect((parse({ data: { id: 1 }, metadata: { ...meta, operation: 'load', 'partition-key-type': 'primary-key', 'partition-key-value': 'app.users.1' } }) as CdcEvent).version).toBe('0');
    const u = parse({ 'before-image': { id: 46 }, data: { id: 45 }, metadata: { ...meta, operation: 'update', 'stream-position': 'mysql-bin-changelog.000001:10' } }) as CdcEvent;
    expect(u.before).toEqual({ id: 46 });
    const v = parse({ 'before-image': {}, data: { id: 45 }, metadata: { ...meta, operation: 'update', 'stream-position': 'mysql-bin-changelog.000001:10' } }) as CdcEvent;
    expect(v.before).toBeUndefined();
  });

  it('accepts DMS control records (task-level ones have an empty schema)', () => {
    const e = parse({ control: { 'table-def': { columns: {} } }, metadata: { ...meta, 'record-type': 'control', operation: 'create-table', 'schema-name': '', 'table-name': 'awsdms_apply_exceptions', 'partition-key-type': 'task-id' } });
    expect(e).toMatchObject({ operation: 'create-table', schema: '', table: 'awsdms_apply_exceptions', version: '0' });
  });

  it("files DMS's rename-column under change-columns", () => {
    expect(parse({ control: {}, metadata: { ...meta, 'record-type': 'control', operation: 'rename-column' } })).toMatchObject({ operation: 'change-columns', table: 'users' });
  });

  it('refuses a change it cannot version', () => {
    expect(() => parse({ data: { id: 1 }, metadata: { ...meta, operation: 'insert' } })).toThrow(/IncludeTransactionDetails/);
  });
});

describe('Debezium envelopes', () => {
  const source = { connector: 'mariadb', db: 'app', table: 'users', file: 'mysql-bin.000003', pos: 1000, row: 1, ts_ms: 1_700_000_000_000 };
  it('maps c/u/d/r with GTID + transaction order, or file/pos', () => {
    const c = parse({ op: 'c', before: null, after: { id: 1 }, source: { ...source, gtid: '0-1-77' }, transaction: { id: '0-1-77', total_order: 3 } }) as CdcEvent;
    expect(c).toMatchObject({ operation: 'insert', schema: 'app', table: 'users', data: { id: 1 }, version: changeVersion(77, 2), commitTimestamp: '2023-11-14T22:13:20.000Z' });
    const u = parse({ schema: {}, payload: { op: 'u', before: { id: 1, n: 'a' }, after: { id: 1, n: 'b' }, source } }) as CdcEvent;
    expect(u).toMatchObject({ operation: 'update', data: { id: 1, n: 'b' }, before: { id: 1, n: 'a' }, version: binlogCoordinateVersion(3n, 1000n, 1n) });
    const d = parse({ op: 'd', before: { id: 1 }, after: null, source }) as CdcEvent;
    expect(d).toMatchObject({ operation: 'delete', data: { id: 1 } });
    expect((parse({ op: 'r', after: { id: 1 }, source }) as CdcEvent)).toMatchObject({ operation: 'load', version: '0' });
  });
});

describe('malformed input names topic, partition and offset', () => {
  const cases: Array<[string, unknown]> = [
    ['not JSON', '{oops'],
    ['tombstone', ''],
    ['array', [1, 2]],
    ['unknown shape', { hello: 'world' }],
    ['unknown DMS op', { data: {}, metadata: { 'record-type': 'data', operation: 'merge', 'schema-name': 's', 'table-name': 't' } }],
    ['missing table', { data: {}, metadata: { 'record-type': 'data', operation: 'insert', 'schema-name': 's' } }],
    ['unknown record type', { data: {}, metadata: { 'record-type': 'heartbeat', operation: 'insert', 'schema-name': 's', 'table-name': 't' } }],
    ['unknown control op', { control: {}, metadata: { 'record-type': 'control', operation: 'truncate-table', 'schema-name': 's', 'table-name': 't' } }],
    ['data not object', { data: 'x', metadata: { 'record-type': 'data', operation: 'load', 'schema-name': 's', 'table-name': 't' } }],
    ['debezium truncate', { op: 't', source: { db: 'a', table: 'b' } }],
    ['debezium no after', { op: 'c', after: null, source: { db: 'a', table: 'b', file: 'x.000001', pos: 1 } }],
  ];
  it.each(cases)('%s', (_name, value) => {
    try {
      parse(value, '12345');
      throw new Error('expected a MalformedCdcMessageError');
    } catch (e) {
      expect(e).toBeInstanceOf(MalformedCdcMessageError);
      const err = e as MalformedCdcMessageError;
      expect(err.name).toBe('MalformedCdcMessageError');
      expect([err.topic, err.partition, err.offset]).toEqual(['t1', 3, '12345']);
      expect(err.message).toContain('t1[3]@12345');
    }
  });
});
