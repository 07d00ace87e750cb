/**
 * SQL identifiers are quoted everywhere, on the real stack: a table and columns whose names hold a backtick, a space,
 * single and double quotes, a reserved word and non-ASCII letters go through
 *  - the backfill (keyset scan over a composite key of two such columns, several chunks, in parallel ranges),
 *  - the built-in CDC (binlog reader → Kafka, then the parser): insert, update, delete of such a row,
 *  - the routing layer (MigratingTable): writes, reads and deletes in mysql-only, mysql-primary and dynamo-primary.
 * (Preflight and verification on odd names: test/faults/security.test.ts. The mapping refuses white space in a
 * `schema.table` source and key templates take [A-Za-z0-9_$] column names, so the routing table's name has no space
 * and its key column is the reserved word `order`.)
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { runBackfill } from '../../../src/pipeline/backfill/backfill';
import { MemorySink } from '../../../src/pipeline/backfill/sink';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { isControlEvent, parseCdcMessage } from '../../../src/pipeline/cdc/parser';
import { BinlogCdcReader } from '../../../src/pipeline/cdc/reader';
import { BuiltinCdcSource } from '../../../src/pipeline/cdc/source';
import type { CdcEvent } from '../../../src/pipeline/types';
import { uniqueName } from '../../support/ids';
import { cdcFixture, readTopic } from '../cdc/support';
import { createFixture } from '../routing/support/fixture';

jest.setTimeout(90_000);

const q = (s: string): string => `\`${s.replace(/`/g, '``')}\``;
const TABLE = "or der`s'\"sélect";
const K1 = 'select';
const K2 = "kë`y 'x\"";
const V1 = 'na me';
const V2 = 'ünï`"\'';
const DDL = (db: string) => `CREATE TABLE ${q(db)}.${q(TABLE)} (${q(K1)} VARCHAR(10) NOT NULL, ${q(K2)} INT NOT NULL, ${q(V1)} VARCHAR(20) NULL, ${q(V2)} VARCHAR(20) NULL, PRIMARY KEY (${q(K1)}, ${q(K2)})) CHARACTER SET utf8mb4`;

test('backfill copies every row of a table with odd identifiers, in parallel keyset ranges', async () => {
  const pool = createSourcePool({ connectionLimit: 4 });
  const db = uniqueName('sec_bf');
  try {
    await pool.query(`CREATE DATABASE ${q(db)}`);
    await pool.query(DDL(db));
    await pool.query(`INSERT INTO ${q(db)}.${q(TABLE)} SELECT ELT(1 + seq % 3, 'a', "b'c", 'é'), seq, CONCAT('v', seq), 'ü' FROM ${q(db)}.seq_1_to_600`);
    const sink = new MemorySink();
    const p = await runBackfill({ pool, sink }, { schema: db, table: TABLE, parallelism: 2, initialChunkRows: 50, maxChunkRows: 100 });
    expect(p).toMatchObject({ done: true, rowsCopied: 600 });
    const keys = new Set(sink.events.map((e) => `${e.data[K1]}/${e.data[K2]}`));
    expect(keys.size).toBe(600);
    expect(sink.events.every((e) => e.table === TABLE && e.data[V2] === 'ü' && e.data[V1] === `v${e.data[K2]}`)).toBe(true);
  } finally {
    await pool.query(`DROP DATABASE IF EXISTS ${q(db)}`);
    await pool.end();
  }
});

test('CDC publishes and the parser reads inserts, updates and deletes of a table with odd identifiers', async () => {
  const f = await cdcFixture('sec_cdc');
  try {
    await f.pool.query(DDL(f.db));
    const source = new BuiltinCdcSource({ db: f.pool, store: f.store, kafka: f.kafka }, { stopTimeoutMs: 20_000 });
    const started = await source.start({ tables: [{ database: f.db, table: TABLE }], topic: f.topic, partitions: 2 });
    const reader = new BinlogCdcReader({ db: f.pool, store: f.store, kafka: f.kafka }, { cdcId: started.cdcId, leaseTtlMs: 5000, checkpointIntervalMs: 200 });
    const running = reader.run();
    const t = `${q(f.db)}.${q(TABLE)}`;
    await f.pool.query(`INSERT INTO ${t} VALUES ("b'c", 1, 'x', 'é'), ('a', 2, 'y', NULL)`);
    await f.pool.query(`UPDATE ${t} SET ${q(V1)} = 'x2' WHERE ${q(K1)} = "b'c" AND ${q(K2)} = 1`);
    await f.pool.query(`DELETE FROM ${t} WHERE ${q(K1)} = 'a'`);
    const msgs = await readTopic(f.kafka, f.topic, (m) => m.filter((x) => (x.value.metadata as Record<string, unknown>)['record-type'] === 'data').length >= 4);
    const events = msgs.map((m) => parseCdcMessage(f.topic, m.partition, m.offset, m.key, m.raw.value)).filter((e): e is CdcEvent => !isControlEvent(e));
    const seen = events.map((e) => ({ op: e.operation, table: e.table, k1: e.data[K1], k2: e.data[K2], v1: e.data[V1], v2: e.data[V2] }));
    expect(seen).toEqual(expect.arrayContaining([
      { op: 'insert', table: TABLE, k1: "b'c", k2: 1, v1: 'x', v2: 'é' },
      { op: 'insert', table: TABLE, k1: 'a', k2: 2, v1: 'y', v2: null },
      { op: 'update', table: TABLE, k1: "b'c", k2: 1, v1: 'x2', v2: 'é' },
      expect.objectContaining({ op: 'delete', table: TABLE, k1: 'a', k2: 2 }),
    ]));
    reader.stop?.();
    await Promise.race([running, new Promise((r) => setTimeout(r, 10_000))]);
    await source.stop?.(started.cdcId).catch(() => undefined);
  } finally {
    await f.close();
  }
});

test('the routing layer reads, writes and deletes a table with odd identifiers in every write mode', async () => {
  const table = "rt`o'ü\"select";
  const cols = ["a`b'c", 'na me', 'ünï'];
  const fx = await createFixture('sec_rt', [`CREATE TABLE ${q(table)} (\`order\` INT NOT NULL PRIMARY KEY, ${cols.map((c) => `${q(c)} VARCHAR(20) NULL`).join(', ')}) CHARACTER SET utf8mb4`], {
    [table]: { partitionKey: { attribute: 'pk', template: 'O#{order}' }, nulls: 'null' },
  });
  try {
    const rt = await fx.open(table);
    const id = `${fx.db}.${table}`;
    const row = (n: number, v: string) => ({ order: n, [cols[0]]: `${v}'"`, [cols[1]]: v, [cols[2]]: 'ü' });
    for (const [n, mode] of [[1, 'mysql-only'], [2, 'mysql-primary'], [3, 'fenced'], [4, 'dynamo-primary']] as const) {
      if (mode !== 'mysql-only') await fx.flagStore.update(id, { writeMode: mode });
      await rt.refreshFlags();
      if (mode === 'fenced') continue;
      await rt.insert(row(n, `v${n}`));
      expect(await rt.update({ order: n }, { [cols[1]]: `w${n}` })).toBe(true);
      expect(await rt.get({ order: n })).toEqual({ ...row(n, `v${n}`), [cols[1]]: `w${n}` });
      await rt.settle();
      const item = await fx.dynamo.send(new GetItemCommand({ TableName: fx.dynamoTable, Key: { pk: { S: `O#${n}` } }, ConsistentRead: true }));
      if (mode === 'mysql-only') expect(item.Item).toBeUndefined();
      else expect(item.Item?.[cols[0]]).toEqual({ S: `v${n}'"` });
      const [mysqlRows] = await fx.pool.query(`SELECT ${q(cols[1])} AS v FROM ${q(table)} WHERE \`order\` = ?`, [n]);
      expect(mysqlRows).toEqual([{ v: `w${n}` }]);
      expect(await rt.delete({ order: n })).toBe(true);
      expect(await rt.get({ order: n })).toBeUndefined();
    }
  } finally {
    await fx.close();
  }
});
