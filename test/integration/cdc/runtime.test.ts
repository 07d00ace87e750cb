/**
 * CdcRuntime in "claim any" mode (what `npm run cdc` runs without --cdc-id): two processes' worth of runtimes share
 * two tasks; each task is read by exactly one of them, and a graceful stop hands the task over to the other.
 */
import { CdcRuntime } from '../../../src/pipeline/cdc/runtime';
import { BuiltinCdcSource } from '../../../src/pipeline/cdc/source';
import { cdcFixture, readTopic, type CdcFixture } from './support';

jest.setTimeout(60_000);

describe('CdcRuntime claims runnable tasks', () => {
  let f: CdcFixture;
  beforeAll(async () => {
    f = await cdcFixture('cdc_rt');
    await f.pool.query(`CREATE TABLE ${f.db}.a (id INT PRIMARY KEY)`);
    await f.pool.query(`CREATE TABLE ${f.db}.b (id INT PRIMARY KEY)`);
  });
  afterAll(() => f.close());

  it('runs each task once across runtimes and hands over on stop', async () => {
    const source = new BuiltinCdcSource({ db: f.pool, store: f.store, kafka: f.kafka });
    const ta = await source.start({ tables: [{ database: f.db, table: 'a' }], topic: f.topic, partitions: 2 });
    const tb = await source.start({ tables: [{ database: f.db, table: 'b' }], topic: `${f.topic}_b`, partitions: 2 });
    const deps = { db: f.pool, store: f.store, kafka: f.kafka };
    const opts = { pollMs: 200, leaseTtlMs: 10_000, checkpointIntervalMs: 100 };
    const r1 = new CdcRuntime(deps, opts);
    const r2 = new CdcRuntime(deps, opts);
    const run1 = r1.run();
    const run2 = r2.run();
    try {
      const running = (): string[] => [...r1.progress(), ...r2.progress()].filter((p) => p.state === 'running').map((p) => p.cdcId).sort();
      const deadline = Date.now() + 30_000;
      while (running().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 500));
      const owned = running();
      expect(owned).toEqual([ta.cdcId, tb.cdcId].sort());
      await f.pool.query(`INSERT INTO ${f.db}.a VALUES (1)`);
      await f.pool.query(`INSERT INTO ${f.db}.b VALUES (1)`);
      expect(await readTopic(f.kafka, f.topic, (m) => m.length >= 1)).toHaveLength(1);
      expect(await readTopic(f.kafka, `${f.topic}_b`, (m) => m.length >= 1)).toHaveLength(1);

      // stop the first runtime: its tasks move to the second one, which continues from the checkpoint
      r1.stop();
      await run1;
      await f.pool.query(`INSERT INTO ${f.db}.a VALUES (2)`);
      await f.pool.query(`INSERT INTO ${f.db}.b VALUES (2)`);
      // at-least-once: a hand-over may repeat what the old reader had not checkpointed yet, never skip
      const ids = (ms: { value: Record<string, unknown> }[]): number[] => ms.map((m) => (m.value.data as { id: number }).id);
      const both = (m: { value: Record<string, unknown> }[]): boolean => ids(m).includes(1) && ids(m).includes(2);
      const a = await readTopic(f.kafka, f.topic, both);
      const b = await readTopic(f.kafka, `${f.topic}_b`, both);
      expect([...new Set(ids(a))].sort()).toEqual([1, 2]);
      expect([...new Set(ids(b))].sort()).toEqual([1, 2]);
      expect(r2.progress().map((p) => p.cdcId).sort()).toEqual([ta.cdcId, tb.cdcId].sort());
    } finally {
      r1.stop();
      r2.stop();
      await Promise.all([run1, run2]);
      const admin = f.kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [`${f.topic}_b`] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});
