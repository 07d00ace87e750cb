/**
 * kill -9 of the CDC process (src/workers/cdc.ts as a child process) in the middle of publishing a large
 * transaction, while writers keep committing; a new process resumes from the checkpoint and the topic then holds
 * every committed change (no gap; duplicates allowed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { BuiltinCdcSource } from '../../../src/pipeline/cdc/source';
import { cdcFixture, readTopic, type CdcFixture } from './support';

jest.setTimeout(120_000);

const ROOT = path.join(__dirname, '..', '..', '..');

function startWorker(f: CdcFixture, cdcId: string): { child: ChildProcess; output: () => string } {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/workers/cdc.ts', '--cdc-id', cdcId, '--meta-db', f.metaDb, '--lease-ttl-ms', '2000', '--checkpoint-interval-ms', '100', '--max-batch', '500', '--quiet'], {
    cwd: ROOT,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

const exited = (c: ChildProcess): Promise<number | null> => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));

describe('CDC survives kill -9 mid-transaction without a gap', () => {
  let f: CdcFixture;
  beforeAll(async () => {
    f = await cdcFixture('cdc_crash');
    await f.pool.query(`CREATE TABLE ${f.db}.t (id INT PRIMARY KEY, v INT NOT NULL)`);
  });
  afterAll(() => f.close());

  it('publishes every committed change after a restart', async () => {
    const source = new BuiltinCdcSource({ db: f.pool, store: f.store, kafka: f.kafka });
    const { cdcId } = await source.start({ tables: [{ database: f.db, table: 't' }], topic: f.topic, partitions: 4 });

    let first = startWorker(f, cdcId);
    let stopWriters = false;
    let nextId = 100_000;
    const writer = (async () => {
      while (!stopWriters) {
        const conn = await f.pool.getConnection();
        try {
          await conn.query('BEGIN');
          const id = nextId++;
          await conn.query(`INSERT INTO ${f.db}.t VALUES (?, 0)`, [id]);
          await conn.query(`UPDATE ${f.db}.t SET v = v + 1 WHERE id IN (?, ?, ?)`, [id, id - 1, id - 7]);
          await conn.query('COMMIT');
        } finally {
          conn.release();
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    try {
    // a 6000-row transaction, then kill -9 while it is being published
    await new Promise((r) => setTimeout(r, 1000));
    await f.pool.query(`INSERT INTO ${f.db}.t SELECT seq, 0 FROM ${f.db}.seq_1_to_6000`);
    const before = await readTopic(f.kafka, f.topic, (m) => m.length > 1500, 30_000);
    first.child.kill('SIGKILL');
    await exited(first.child);
    expect(first.child.signalCode).toBe('SIGKILL');
    const checkpoint = await f.store.get(cdcId);
    expect(before.length).toBeGreaterThan(1500);

    // writers keep going while no reader runs; then a fresh process resumes (after the 2 s lease)
    await new Promise((r) => setTimeout(r, 800));
    first = startWorker(f, cdcId);
    await new Promise((r) => setTimeout(r, 1500));
    stopWriters = true;
    await writer;

    // the expected changes: every (id, v) state each committed row went through
    const [rows] = await f.pool.query(`SELECT id, v FROM ${f.db}.t`);
    const expected = new Set<string>();
    for (const r of rows as { id: number; v: number }[]) for (let v = 0; v <= r.v; v++) expected.add(`${r.id}:${v}`);
    const seen = new Set<string>();
    const missing = (): number => [...expected].filter((k) => !seen.has(k)).length;
    let processed = 0;
    let lastCheck = 0;
    const all = await readTopic(f.kafka, f.topic, (m) => {
      for (; processed < m.length; processed++) {
        const d = m[processed].value.data as { id: number; v: number } | undefined;
        if (d) seen.add(`${d.id}:${d.v}`);
      }
      if (seen.size < expected.size || Date.now() - lastCheck < 200) return false;
      lastCheck = Date.now();
      return missing() === 0;
    }, 60_000);
    for (const x of all) {
      const d = x.value.data as { id: number; v: number };
      seen.add(`${d.id}:${d.v}`);
    }
    expect([...expected].filter((k) => !seen.has(k))).toEqual([]);
    expect([...seen].filter((k) => !expected.has(k))).toEqual([]);
    expect(all.length).toBeGreaterThanOrEqual(expected.size);
    expect(checkpoint?.position?.gtid).toBeDefined();

    // graceful stop of the second process
    first.child.kill('SIGTERM');
    expect(await exited(first.child)).toBe(0);
    const final = await f.store.get(cdcId);
    expect(final?.state).toBe('starting'); // the process stopped, not the task: it waits for the next reader
    expect(BigInt(final!.position!.gtid!.split('-')[2]) > BigInt(checkpoint!.position!.gtid!.split('-')[2])).toBe(true);
    } finally {
      stopWriters = true;
      await writer.catch(() => undefined);
      if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL');
    }
  });
});
