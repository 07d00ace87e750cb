/**
 * Built-in CDC on the real stack: every operation arrives in DMS format, keyed by primary key, in commit order per
 * key, only for configured tables; DDL yields control records on every partition; stop/resume through the durable
 * task record continues from the checkpoint.
 */
import { BinlogCdcReader } from '../../../src/pipeline/cdc/reader';
import { BuiltinCdcSource } from '../../../src/pipeline/cdc/source';
import { isControlEvent, parseCdcMessage } from '../../../src/pipeline/cdc/parser';
import type { CdcEvent } from '../../../src/pipeline/types';
import { ROW_SPAN } from '../../../src/pipeline/version';
import { readColumns, rowFromMysql2 } from '../../../src/pipeline/row/codec';
import { cdcFixture, readTopic, type CdcFixture, type TopicMessage } from './support';
import { CASES } from './type-cases';

jest.setTimeout(90_000);

describe('built-in CDC: binlog → Kafka in DMS format', () => {
  let f: CdcFixture;
  beforeAll(async () => {
    f = await cdcFixture('cdc_reader');
    await f.pool.query(`CREATE TABLE ${f.db}.items (region VARCHAR(8) NOT NULL, id BIGINT UNSIGNED NOT NULL, val VARCHAR(20) NULL,
      amount DECIMAL(38,9) NULL, at DATETIME(6) NULL, bin BLOB NULL, PRIMARY KEY (region, id))`);
    await f.pool.query(`CREATE TABLE ${f.db}.other (id INT PRIMARY KEY, v INT)`);
  });
  afterAll(() => f.close());

  const data = (ms: TopicMessage[]): TopicMessage[] => ms.filter((m) => (m.value.metadata as Record<string, unknown>)['record-type'] === 'data');

  it('publishes every operation, filters tables, orders per key, stops and resumes from the checkpoint', async () => {
    const source = new BuiltinCdcSource({ db: f.pool, store: f.store, kafka: f.kafka }, { stopTimeoutMs: 20_000 });
    const started = await source.start({ tables: [{ database: f.db, table: 'items' }], topic: f.topic, partitions: 3 });
    expect(started).toMatchObject({ topic: f.topic, partitions: 3, createdTopic: true, createdTask: true });
    expect(started.startPosition).toMatch(/^0-\d+-\d+/);
    // idempotent start
    expect(await source.start({ tables: [{ database: f.db, table: 'items' }], topic: f.topic, partitions: 3 })).toMatchObject({ cdcId: started.cdcId, createdTask: false, createdTopic: false });

    const reader = new BinlogCdcReader({ db: f.pool, store: f.store, kafka: f.kafka }, { cdcId: started.cdcId, leaseTtlMs: 5000, checkpointIntervalMs: 200 });
    const running = reader.run();

    const conn = await f.pool.getConnection();
    try {
      await conn.query('BEGIN');
      await conn.query(`INSERT INTO ${f.db}.items VALUES ('eu', 18446744073709551615, 'a', '12.500000000', '2024-01-01 00:00:00.123456', x'00ff')`);
      await conn.query(`INSERT INTO ${f.db}.other VALUES (1, 1)`);
      await conn.query(`INSERT INTO ${f.db}.items VALUES ('us', 2, 'b', NULL, NULL, NULL)`);
      await conn.query('COMMIT');
    } finally {
      conn.release();
    }
    await f.pool.query(`UPDATE ${f.db}.items SET val = 'a2' WHERE region = 'eu'`);
    await f.pool.query(`UPDATE ${f.db}.items SET id = 99 WHERE region = 'us' AND id = 2`);
    await f.pool.query(`UPDATE ${f.db}.other SET v = 2`);
    await f.pool.query(`DELETE FROM ${f.db}.items WHERE region = 'eu'`);
    await f.pool.query(`ALTER TABLE ${f.db}.items ADD COLUMN extra INT NULL`);
    await f.pool.query(`INSERT INTO ${f.db}.items (region, id, val, extra) VALUES ('ap', 7, 'c0', 5)`);
    for (let i = 1; i <= 10; i++) await f.pool.query(`UPDATE ${f.db}.items SET val = 'c${i}' WHERE region = 'ap'`);

    const expected = 2 + 1 + 2 + 1 + 3 + 1 + 10;
    const msgs = await readTopic(f.kafka, f.topic, (m) => m.length >= expected);
    expect(msgs).toHaveLength(expected);

    const events = msgs.map((m) => ({ m, e: parseCdcMessage(f.topic, m.partition, m.offset, m.key, m.raw.value) }));
    expect(events.every(({ e }) => e.table === 'items' && e.schema === f.db)).toBe(true); // `other` filtered out

    // DMS metadata on every data record
    for (const m of data(msgs)) {
      expect(m.value.metadata).toEqual(expect.objectContaining({
        'record-type': 'data', 'partition-key-type': 'primary-key', 'schema-name': f.db, 'table-name': 'items',
        'transaction-id': expect.any(Number), 'commit-timestamp': expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
        'stream-position': expect.stringMatching(/^cutover:1:\d+:0-\d+-\d+:/), timestamp: expect.any(String),
      }));
      const d = m.value.data as Record<string, unknown>;
      expect(m.key).toBe(JSON.stringify([d.region, d.id]));
    }
    const byKey = new Map<string, Array<{ partition: number; offset: bigint; e: CdcEvent }>>();
    for (const { m, e } of events) {
      if (isControlEvent(e)) continue;
      const list = byKey.get(m.key!) ?? [];
      list.push({ partition: m.partition, offset: BigInt(m.offset), e });
      byKey.set(m.key!, list);
    }
    // one partition per key; offsets order = version order = commit order
    for (const [key, list] of byKey) {
      expect(new Set(list.map((x) => x.partition)).size).toBe(1);
      list.sort((a, b) => (a.offset < b.offset ? -1 : 1));
      for (let i = 1; i < list.length; i++) expect(BigInt(list[i].e.version) > BigInt(list[i - 1].e.version)).toBe(true);
      if (key === '["ap","7"]') expect(list.map((x) => x.e.data.val)).toEqual(['c0', ...Array.from({ length: 10 }, (_, i) => `c${i + 1}`)]);
    }
    const eu = byKey.get('["eu","18446744073709551615"]')!.map((x) => x.e);
    expect(eu.map((e) => e.operation)).toEqual(['insert', 'update', 'delete']);
    expect(eu[0].data).toEqual({ region: 'eu', id: '18446744073709551615', val: 'a', amount: '12.500000000', at: '2024-01-01 00:00:00.123456', bin: { $b64: 'AP8=' } });
    expect(eu[1].before).toMatchObject({ val: 'a' });
    expect(eu[1].data).toMatchObject({ val: 'a2' });
    // row index counts the filtered table's row too: us/2 is row 2 of the first transaction
    const us2 = byKey.get('["us","2"]')!.map((x) => x.e);
    expect(BigInt(us2[0].version) - BigInt(eu[0].version)).toBe(2n);
    expect(BigInt(eu[0].version) % ROW_SPAN).toBe(0n);
    // primary-key change: delete of the old key, insert of the new one, same source version
    expect(us2.map((e) => e.operation)).toEqual(['insert', 'delete']);
    const us99 = byKey.get('["us","99"]')!.map((x) => x.e);
    expect(us99.map((e) => e.operation)).toEqual(['insert']);
    expect(us99[0].version).toBe(us2[1].version);
    // DDL: one control record per partition, with the new table definition, and rows after it carry the column
    const controls = msgs.filter((m) => (m.value.metadata as Record<string, unknown>)['record-type'] === 'control');
    expect(controls.map((c) => c.partition).sort()).toEqual([0, 1, 2]);
    expect(controls[0].value.metadata).toMatchObject({ operation: 'add-column', 'table-name': 'items' });
    expect(Object.keys(((controls[0].value.control as Record<string, unknown>)['table-def'] as { columns: object }).columns)).toContain('extra');
    expect(byKey.get('["ap","7"]')![0].e.data.extra).toBe(5);

    // describe: counts per operation and a position
    await new Promise((r) => setTimeout(r, 600));
    const d = await source.describe(started.cdcId);
    expect(d).toMatchObject({ state: 'running', counts: { loads: 0, inserts: 4, updates: 11, deletes: 2 } });
    expect(reader.progress().counts[`${f.db}.items`]).toMatchObject({ inserts: 4, updates: 11, deletes: 2, ddl: 1 });

    // stop through the task record; the reader finishes gracefully
    const stopped = await source.stop(started.cdcId);
    expect(stopped.state).toBe('stopped');
    await running;
    expect(stopped.finalPosition).toMatch(/^0-\d+-\d+@/);

    // changes while stopped are picked up after resume, from the checkpoint
    await f.pool.query(`INSERT INTO ${f.db}.items (region, id, val) VALUES ('sa', 1, 'while stopped')`);
    await source.resume(started.cdcId);
    const reader2 = new BinlogCdcReader({ db: f.pool, store: f.store, kafka: f.kafka }, { cdcId: started.cdcId, leaseTtlMs: 5000, checkpointIntervalMs: 200 });
    const running2 = reader2.run();
    const all = await readTopic(f.kafka, f.topic, (m) => m.length >= expected + 1 && m.some((x) => x.key === '["sa","1"]'));
    expect(all.filter((x) => x.key === '["sa","1"]')).toHaveLength(1);
    expect(all.length).toBe(expected + 1);
    reader2.stop();
    await running2;
  });

  it('carries every column type exactly: binlog → DMS JSON → Kafka → parser equals the SELECT row and the expected literal', async () => {
    const types = [...new Set(CASES.map((c) => c[0]))];
    const col = (t: string): string => `c${types.indexOf(t)}`;
    await f.pool.query(`CREATE TABLE ${f.db}.typed (id INT PRIMARY KEY, ${types.map((t) => `${col(t)} ${t.includes('NULL') ? t : `${t} NULL`}`).join(', ')}) CHARACTER SET utf8mb4`);
    const topic = `${f.topic}_typed`;
    const source = new BuiltinCdcSource({ db: f.pool, store: f.store, kafka: f.kafka });
    const { cdcId } = await source.start({ cdcId: `${f.db}-typed`, tables: [{ database: f.db, table: 'typed' }], topic, partitions: 2 });
    const reader = new BinlogCdcReader({ db: f.pool, store: f.store, kafka: f.kafka }, { cdcId, checkpointIntervalMs: 200 });
    const running = reader.run();
    try {
      for (const [i, [type, literal]] of CASES.entries()) await f.pool.query(`INSERT INTO ${f.db}.typed (id, ${col(type)}) VALUES (${i}, ${literal})`);
      await f.pool.query(`INSERT INTO ${f.db}.typed (id) VALUES (${CASES.length})`);
      const msgs = await readTopic(f.kafka, topic, (m) => m.length >= CASES.length + 1);
      const fromKafka = msgs.map((m) => parseCdcMessage(topic, m.partition, m.offset, m.key, m.raw.value) as CdcEvent).sort((a, b) => Number(a.data.id) - Number(b.data.id));
      const columns = await readColumns(f.pool, f.db, 'typed');
      const [rows] = await f.pool.query(`SELECT * FROM ${f.db}.typed ORDER BY id`);
      const fromSelect = (rows as Record<string, unknown>[]).map((r) => rowFromMysql2(columns, r));
      expect(JSON.stringify(fromKafka.map((e) => e.data))).toBe(JSON.stringify(fromSelect));
      for (const [i, [type, , expected]] of CASES.entries()) expect([type, fromKafka[i].data[col(type)]]).toEqual([type, expected]);
    } finally {
      reader.stop();
      await running;
      const admin = f.kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [topic] });
      await admin.disconnect();
    }
  });
});
