/**
 * Start modes of the built-in CDC on the real stack: from a timestamp, from a saved position, and the purged-binlog
 * failure (a position the server no longer has), which must say so and ask for a re-snapshot.
 */
import { BinlogPurgedError } from '../../../src/pipeline/cdc/errors';
import { locateGtidBefore } from '../../../src/pipeline/cdc/locate';
import { BinlogCdcReader } from '../../../src/pipeline/cdc/reader';
import { BuiltinCdcSource, currentPosition } from '../../../src/pipeline/cdc/source';
import { uniqueName } from '../../support/ids';
import { cdcFixture, readTopic, type CdcFixture } from './support';

jest.setTimeout(90_000);

describe('CDC start modes', () => {
  let f: CdcFixture;
  let source: BuiltinCdcSource;
  beforeAll(async () => {
    f = await cdcFixture('cdc_start');
    await f.pool.query(`CREATE TABLE ${f.db}.t (id INT PRIMARY KEY, note VARCHAR(20))`);
    source = new BuiltinCdcSource({ db: f.pool, store: f.store, kafka: f.kafka });
  });
  afterAll(() => f.close());

  const run = (cdcId: string): { reader: BinlogCdcReader; done: Promise<unknown> } => {
    const reader = new BinlogCdcReader({ db: f.pool, store: f.store, kafka: f.kafka }, { cdcId, leaseTtlMs: 5000, checkpointIntervalMs: 100, timestampMarginSeconds: 5 });
    return { reader, done: reader.run() };
  };

  const insert = async (id: number, note: string): Promise<bigint> => {
    const conn = await f.pool.getConnection();
    try {
      await conn.query(`INSERT INTO ${f.db}.t VALUES (?, ?)`, [id, note]);
      const [g] = await conn.query('SELECT @@last_gtid AS g');
      return BigInt(String((g as { g: string }[])[0].g).split('-')[2]);
    } finally {
      conn.release();
    }
  };

  it('starts from a timestamp: earlier commits are skipped, later ones published', async () => {
    const seqBefore = await insert(1, 'before');
    await new Promise((r) => setTimeout(r, 1100));
    const at = new Date(Math.ceil(Date.now() / 1000) * 1000).toISOString();
    await new Promise((r) => setTimeout(r, 1200));
    const seqAfter = await insert(2, 'after');
    // the binlog search lands between the two commits (no margin), without decoding the binlog
    const located = await locateGtidBefore(f.pool, Date.parse(at) / 1000, { marginSeconds: 0 });
    expect(located).toBeDefined();
    const seq = BigInt(located!.split('-')[2]);
    // P is the last GTID whose next transaction started before the timestamp: at the latest the one right before 'after',
    // at the earliest the one right before 'before' (when 'after' directly follows 'before' in the binlog)
    expect(seq).toBeGreaterThanOrEqual(seqBefore - 1n);
    expect(seq).toBeLessThan(seqAfter);
    const topic = uniqueName('cdc_start_ts');
    const { cdcId, startPosition } = await source.start({ cdcId: uniqueName('ts'), tables: [{ database: f.db, table: 't' }], topic, partitions: 1, start: { kind: 'timestamp', at } });
    expect(startPosition).toBe(`timestamp ${at}`);
    const { reader, done } = run(cdcId);
    try {
      const msgs = await readTopic(f.kafka, topic, (m) => m.some((x) => (x.value.data as { id: number }).id === 2));
      expect(msgs.map((x) => (x.value.data as { note: string }).note)).toEqual(['after']);
    } finally {
      reader.stop();
      await done;
      const admin = f.kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [topic] });
      await admin.disconnect();
    }
  });

  it('starts from a saved position', async () => {
    const pos = await currentPosition(f.pool);
    await f.pool.query(`INSERT INTO ${f.db}.t VALUES (3, 'from position')`);
    const topic = uniqueName('cdc_start_pos');
    const { cdcId } = await source.start({ cdcId: uniqueName('pos'), tables: [{ database: f.db, table: 't' }], topic, partitions: 1, start: { kind: 'position', position: { gtid: pos.gtid } } });
    const { reader, done } = run(cdcId);
    try {
      const msgs = await readTopic(f.kafka, topic, (m) => m.length >= 1);
      expect(msgs.map((x) => (x.value.data as { id: number }).id)).toEqual([3]);
    } finally {
      reader.stop();
      await done;
      const admin = f.kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [topic] });
      await admin.disconnect();
    }
  });

  it.each([
    ['a GTID the server never had (as after a purge)', { gtid: '0-4242-5' }],
    ['a binlog file that is gone', { file: 'binlog.999999', pos: 4 }],
  ])('fails with BinlogPurgedError for %s, offering a re-snapshot', async (_name, position) => {
    const topic = uniqueName('cdc_purged');
    const { cdcId } = await source.start({ cdcId: uniqueName('purged'), tables: [{ database: f.db, table: 't' }], topic, partitions: 1, start: { kind: 'position', position } });
    const { done } = run(cdcId);
    try {
      const err = await done.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(BinlogPurgedError);
      expect((err as Error).message).toMatch(/binlog purged.*re-snapshot required/);
      const d = await source.describe(cdcId);
      expect(d.state).toBe('failed');
      expect(d.error).toMatch(/re-snapshot/);
    } finally {
      const admin = f.kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [topic] });
      await admin.disconnect();
    }
  });
});
