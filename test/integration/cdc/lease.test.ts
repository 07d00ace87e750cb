/**
 * The durable task record on real MariaDB: a checkpoint never moves backwards, only the lease holder can save
 * (fencing), and a second reader of the same task waits for the lease and then continues where the first stopped.
 */
import { CdcLeaseLostError } from '../../../src/pipeline/cdc/errors';
import { BinlogCdcReader } from '../../../src/pipeline/cdc/reader';
import { BuiltinCdcSource } from '../../../src/pipeline/cdc/source';
import { formatPosition, parsePosition } from '../../../src/pipeline/cdc/checkpoint';
import { cdcFixture, readTopic, type CdcFixture } from './support';

jest.setTimeout(60_000);

describe('CDC task record: monotonic checkpoint, fenced lease', () => {
  let f: CdcFixture;
  beforeAll(async () => {
    f = await cdcFixture('cdc_lease');
    await f.pool.query(`CREATE TABLE ${f.db}.t (id INT PRIMARY KEY)`);
  });
  afterAll(() => f.close());

  const config = { tables: [{ database: 'x', table: 'y' }], topic: 'unused', partitions: 1, start: { kind: 'now' as const } };
  const state = (gtid: string) => ({ position: { gtid, file: 'binlog.000001', pos: 4 }, counts: {}, state: 'running' as const, lastCommitTime: null, lagSeconds: 0 });

  it('never moves the checkpoint backwards and fences saves by lease owner', async () => {
    const { created } = await f.store.create('t1', config, { gtid: '0-1-10' });
    expect(created).toBe(true);
    expect((await f.store.create('t1', config, { gtid: '0-1-99' })).created).toBe(false);
    expect(await f.store.acquireLease('t1', 'A', 60_000)).toBe(true);
    expect(await f.store.acquireLease('t1', 'B', 60_000)).toBe(false);
    await f.store.save('t1', 'A', 60_000, state('0-1-20'));
    await f.store.save('t1', 'A', 60_000, state('0-1-15'));
    expect((await f.store.get('t1'))!.position!.gtid).toBe('0-1-20');
    await expect(f.store.save('t1', 'B', 60_000, state('0-1-30'))).rejects.toBeInstanceOf(CdcLeaseLostError);
    // an expired lease can be taken over, and the old owner is fenced out
    expect(await f.store.acquireLease('t1', 'A', -1)).toBe(true);
    expect(await f.store.acquireLease('t1', 'B', 60_000)).toBe(true);
    await expect(f.store.save('t1', 'A', 60_000, state('0-1-40'))).rejects.toThrow(/lease lost to B/);
    expect((await f.store.get('t1'))!.position!.gtid).toBe('0-1-20');
  });

  it('formats and parses positions', () => {
    for (const s of ['0-1-5', 'binlog.000002:1234', '0-1-5@binlog.000002:1234']) expect(formatPosition(parsePosition(s))).toBe(s);
    expect(() => parsePosition('nonsense')).toThrow(/not a source position/);
  });

  it('a second reader waits for the lease and continues from the first one’s checkpoint', async () => {
    const source = new BuiltinCdcSource({ db: f.pool, store: f.store, kafka: f.kafka });
    const { cdcId } = await source.start({ tables: [{ database: f.db, table: 't' }], topic: f.topic, partitions: 1 });
    const a = new BinlogCdcReader({ db: f.pool, store: f.store, kafka: f.kafka }, { cdcId, leaseTtlMs: 10_000, checkpointIntervalMs: 100 });
    const runA = a.run();
    await f.pool.query(`INSERT INTO ${f.db}.t VALUES (1)`);
    await readTopic(f.kafka, f.topic, (m) => m.length >= 1);
    const b = new BinlogCdcReader({ db: f.pool, store: f.store, kafka: f.kafka }, { cdcId, leaseTtlMs: 10_000, checkpointIntervalMs: 100 });
    const runB = b.run();
    await new Promise((r) => setTimeout(r, 500));
    expect(b.progress().state).toBe('starting'); // waiting for the lease
    a.stop();
    await runA;
    await f.pool.query(`INSERT INTO ${f.db}.t VALUES (2)`);
    const msgs = await readTopic(f.kafka, f.topic, (m) => m.length >= 2);
    expect(msgs.map((m) => (m.value.data as { id: number }).id)).toEqual([1, 2]);
    expect(b.progress().state).toBe('running');
    b.stop();
    await runB;
  });
});

describe('stop without a running reader', () => {
  let f: CdcFixture;
  beforeAll(async () => {
    f = await cdcFixture('cdc_stop');
    await f.pool.query(`CREATE TABLE ${f.db}.t (id INT PRIMARY KEY)`);
  });
  afterAll(() => f.close());

  it('marks the task stopped at once and resume makes it runnable again', async () => {
    const source = new BuiltinCdcSource({ db: f.pool, store: f.store, kafka: f.kafka }, { stopTimeoutMs: 2000 });
    const { cdcId } = await source.start({ tables: [{ database: f.db, table: 't' }], topic: f.topic, partitions: 1 });
    expect(await f.store.claimable()).toContain(cdcId);
    expect(await source.stop(cdcId)).toMatchObject({ state: 'stopped' });
    expect((await source.describe(cdcId)).state).toBe('stopped');
    expect(await f.store.claimable()).not.toContain(cdcId);
    expect(await source.resume(cdcId)).toEqual({ state: 'starting' });
    expect(await f.store.claimable()).toContain(cdcId);
    // the same id with other tables or another topic is refused, not silently reused
    await expect(source.start({ cdcId, tables: [{ database: f.db, table: 'other' }], topic: f.topic, partitions: 1 })).rejects.toThrow(/exists for tables/);
    await expect(source.start({ cdcId, tables: [{ database: f.db, table: 't' }], topic: `${f.topic}_x`, partitions: 1 })).rejects.toThrow(/exists with topic/);
  });
});
