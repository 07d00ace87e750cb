/**
 * The transaction assembler on synthetic zongji events: row indexes count every table's rows, transactions end at
 * XID, COMMIT or their DDL, primary-key changes split, a second GTID domain and pre-timestamp commits are handled.
 */
import type { ColumnInfo } from '../../../src/pipeline/row/codec';
import { TransactionAssembler, type SourceTransaction } from '../../../src/pipeline/cdc/transactions';
import { CdcStateError } from '../../../src/pipeline/cdc/errors';
import { changeVersion } from '../../../src/pipeline/version';

const col = (name: string, dataType: string, pkPosition: number | null = null): ColumnInfo => ({
  schema: 'app', table: 'users', name, dataType, columnType: dataType, numericPrecision: null, numericScale: null, datetimePrecision: null,
  maxLength: null, unsigned: false, nullable: pkPosition === null, ordinal: 1, pkPosition,
});
const USERS = [col('id', 'int', 1), col('name', 'varchar')];
const TABLES = { 1: { parentSchema: 'app', tableName: 'users', columns: [{ name: 'id' }, { name: 'name' }] }, 2: { parentSchema: 'app', tableName: 'other', columns: [{ name: 'x' }] } };

function ev(name: string, props: Record<string, unknown> = {}): { getEventName(): string; timestamp: number; nextPosition: number; [k: string]: unknown } {
  return { getEventName: () => name, timestamp: 1_700_000_000_000, nextPosition: 100, tableMap: TABLES, ...props };
}

function assembler(extra: Partial<ConstructorParameters<typeof TransactionAssembler>[0]> = {}): TransactionAssembler {
  return new TransactionAssembler({
    tables: [{ database: 'app', table: 'users' }], partitions: 3, domain: 0, currentFile: () => 'binlog.000007',
    columns: { columns: () => USERS, refresh: async () => USERS, remember: () => undefined },
    ...extra,
  });
}

async function feed(a: TransactionAssembler, events: ReturnType<typeof ev>[]): Promise<SourceTransaction[]> {
  const out: SourceTransaction[] = [];
  for (const e of events) {
    const tx = await a.handle(e);
    if (tx) out.push(tx);
  }
  return out;
}

const gtid = (seq: number, props: Record<string, unknown> = {}): ReturnType<typeof ev> => ev('mariadbgtid', { gtid: `0-1-${seq}`, seqNo: seq, domainId: 0, transactional: true, ...props });

describe('TransactionAssembler', () => {
  it('counts rows of filtered tables in the row index and publishes only configured tables', async () => {
    const [tx] = await feed(assembler(), [
      gtid(42),
      ev('writerows', { tableId: 1, rows: [{ id: 1, name: 'a' }] }),
      ev('writerows', { tableId: 2, rows: [{ x: 1 }, { x: 2 }] }),
      ev('writerows', { tableId: 1, rows: [{ id: 2, name: 'b' }] }),
      ev('xid', { nextPosition: 555 }),
    ]);
    expect(tx).toMatchObject({ gtid: '0-1-42', seq: 42n, file: 'binlog.000007', pos: 555, commitTime: 1_700_000_000 });
    expect(tx.messages.map((m) => m.key)).toEqual(['[1]', '[2]']);
    const versions = tx.messages.map((m) => (JSON.parse(m.value) as { metadata: { 'stream-position': string } }).metadata['stream-position'].split(':')[2]);
    expect(versions).toEqual([changeVersion(42, 0), changeVersion(42, 3)]);
    expect(tx.counts).toEqual({ 'app.users': { insert: 2 } });
  });

  it('splits a primary-key change into delete + insert and keeps the before-image on other updates', async () => {
    const [tx] = await feed(assembler(), [
      gtid(7),
      ev('updaterows', { tableId: 1, rows: [{ before: { id: 1, name: 'a' }, after: { id: 1, name: 'b' } }, { before: { id: 2, name: 'x' }, after: { id: 3, name: 'x' } }] }),
      ev('xid'),
    ]);
    const msgs = tx.messages.map((m) => ({ key: m.key, v: JSON.parse(m.value) as { metadata: { operation: string }; 'before-image'?: unknown } }));
    expect(msgs.map((m) => [m.key, m.v.metadata.operation])).toEqual([['[1]', 'update'], ['[2]', 'delete'], ['[3]', 'insert']]);
    expect(msgs[0].v['before-image']).toEqual({ id: 1, name: 'a' });
  });

  it('ends non-transactional groups at COMMIT and DDL at the statement, with a control record per partition', async () => {
    const txs = await feed(assembler(), [
      gtid(8, { transactional: false }), ev('query', { query: 'BEGIN' }), ev('writerows', { tableId: 1, rows: [{ id: 9, name: 'm' }] }), ev('query', { query: 'COMMIT', nextPosition: 700 }),
      gtid(9, { isDdl: true, standalone: true, transactional: false }), ev('query', { query: 'ALTER TABLE users ADD COLUMN age INT', schema: 'app', nextPosition: 800 }),
      gtid(10, { isDdl: true, standalone: true, transactional: false }), ev('query', { query: 'ALTER TABLE other ADD COLUMN y INT', schema: 'app' }),
    ]);
    expect(txs.map((t) => [t.gtid, t.messages.length])).toEqual([['0-1-8', 1], ['0-1-9', 3], ['0-1-10', 0]]);
    expect(txs[1].messages.map((m) => m.partition)).toEqual([0, 1, 2]);
    expect(txs[1].counts).toEqual({ 'app.users': { ddl: 1 } });
  });

  it('publishes nothing for transactions committed before the start timestamp but still emits them', async () => {
    const txs = await feed(assembler({ skipBefore: 1_700_000_001 }), [gtid(11), ev('writerows', { tableId: 1, rows: [{ id: 1, name: 'a' }] }), ev('xid')]);
    expect(txs).toHaveLength(1);
    expect(txs[0].messages).toEqual([]);
  });

  it('refuses a second GTID domain and rows outside a transaction', async () => {
    await expect(feed(assembler(), [ev('mariadbgtid', { gtid: '1-1-5', seqNo: 5, domainId: 1 })])).rejects.toBeInstanceOf(CdcStateError);
    await expect(feed(assembler(), [ev('writerows', { tableId: 1, rows: [] })])).rejects.toThrow(/outside a GTID transaction/);
  });

  it('derives columns from the binlog when information_schema is already past a later DDL', async () => {
    const remembered: ColumnInfo[][] = [];
    const a = assembler({ columns: { columns: () => [...USERS, col('later', 'int')], refresh: async () => [...USERS, col('later', 'int')], remember: (_s, _t, c) => remembered.push(c) } });
    const tables = { 1: { ...TABLES[1], columnSchemas: [{ COLUMN_NAME: 'id', COLUMN_TYPE: 'int' }, { COLUMN_NAME: 'name', COLUMN_TYPE: 'varchar(9)' }] } };
    const [tx] = await feed(a, [gtid(12), ev('tablemap', { tableId: 1, primaryKey: [0] }), ev('writerows', { tableId: 1, tableMap: tables, rows: [{ id: 5, name: 'z' }] }), ev('xid')]);
    expect(tx.messages.map((m) => m.key)).toEqual(['[5]']);
    expect(remembered[0].map((c) => [c.name, c.dataType, c.pkPosition])).toEqual([['id', 'int', 1], ['name', 'varchar', null]]);
  });

  it('emits a large transaction as partial chunks, the final one carrying the position and every count', async () => {
    const rows = Array.from({ length: 5 }, (_, i) => ({ id: i, name: 'n' }));
    const txs = await feed(assembler({ chunkMessages: 2 }), [gtid(13), ev('writerows', { tableId: 1, rows: rows.slice(0, 3) }), ev('writerows', { tableId: 1, rows: rows.slice(3) }), ev('xid', { nextPosition: 900 })]);
    expect(txs.map((t) => [t.partial ?? false, t.messages.length, t.pos])).toEqual([[true, 3, 0], [true, 2, 0], [false, 0, 900]]);
    expect(txs[2].counts).toEqual({ 'app.users': { insert: 5 } });
    expect(txs[0].counts).toEqual({});
  });
});
