/**
 * The backfill runner on real MariaDB (sink in memory): composite keys including BIGINT UNSIGNED beyond 2^53 and
 * strings with quotes, parallel ranges copy every row exactly once, abort + resume from the reported cursor skips
 * nothing, pause and CDC lag hold the copy, a table without a primary key is refused.
 */
import type * as mysql from 'mysql2/promise';
import { runBackfill, type BackfillRunProgress } from '../../../src/pipeline/backfill/backfill';
import { BackfillConfigError, BackfillOrderError } from '../../../src/pipeline/backfill/errors';
import { MemorySink } from '../../../src/pipeline/backfill/sink';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { versionSeq, ROW_SPAN } from '../../../src/pipeline/version';
import { uniqueName } from '../../support/ids';

const db = uniqueName('bf_run');
let pool: mysql.Pool;
const N = 2500;

beforeAll(async () => {
  pool = createSourcePool({ connectionLimit: 8 });
  await pool.query(`CREATE DATABASE \`${db}\``);
  await pool.query(`CREATE TABLE \`${db}\`.t (region VARCHAR(8) NOT NULL, id BIGINT UNSIGNED NOT NULL, v VARCHAR(20) NULL, PRIMARY KEY (region, id))`);
  await pool.query(`INSERT INTO \`${db}\`.t SELECT ELT(1 + seq % 3, 'eu', 'us', "o'k"), 18446744073709551615 - seq, CONCAT('v', seq) FROM \`${db}\`.seq_1_to_${N}`);
  await pool.query(`CREATE TABLE \`${db}\`.nopk (a INT)`);
});

afterAll(async () => {
  await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await pool.end();
});

const keyOf = (e: { data: Record<string, unknown> }): string => `${e.data.region}/${e.data.id}`;

test('parallel ranges copy every row exactly once, each with the load version of its snapshot', async () => {
  const sink = new MemorySink();
  const seen: BackfillRunProgress[] = [];
  const p = await runBackfill({ pool, sink, onProgress: (x) => void seen.push(x) }, { schema: db, table: 't', parallelism: 3, initialChunkRows: 100, maxChunkRows: 300 });
  expect(p).toMatchObject({ done: true, rowsCopied: N, stoppedBy: 'done', etaSeconds: 0 });
  const keys = sink.events.map(keyOf);
  expect(new Set(keys).size).toBe(N);
  expect(keys).toHaveLength(N);
  expect(sink.events.some((e) => e.data.id === '18446744073709551614')).toBe(true);
  for (const e of sink.events) {
    expect(e.operation).toBe('load');
    expect(BigInt(e.version) % ROW_SPAN).toBe(ROW_SPAN - 1n);
    expect(versionSeq(e.version)).toBeLessThanOrEqual(BigInt(p.lastSnapshotSeq));
  }
  expect(JSON.parse(seen[0].cursor!).ranges).toHaveLength(3);
  expect(seen.map((s) => s.rowsCopied)).toEqual([...seen.map((s) => s.rowsCopied)].sort((a, b) => a - b));
});

test('abort and resume from the last reported cursor skips nothing; a rerun copies the same rows', async () => {
  const sink = new MemorySink();
  let cursor: string | null = null;
  let before = 0;
  for (let round = 0; round < 20; round += 1) {
    const ac = new AbortController();
    let chunks = 0;
    const p: BackfillRunProgress = await runBackfill(
      {
        pool,
        sink,
        signal: ac.signal,
        onProgress: (x) => {
          cursor = x.cursor;
          before = x.rowsCopied;
          if (++chunks === 2) ac.abort();
        },
      },
      { schema: db, table: 't', cursor, rowsCopiedBefore: before, parallelism: 2, initialChunkRows: 150, minChunkRows: 150, maxChunkRows: 150 },
    );
    if (p.done) break;
    expect(p.stoppedBy).toBe('cancelled');
  }
  expect(new Set(sink.events.map(keyOf)).size).toBe(N);
  expect(before).toBeGreaterThanOrEqual(N);
  const again = new MemorySink();
  await runBackfill({ pool, sink: again }, { schema: db, table: 't' });
  expect(new Set(again.events.map(keyOf))).toEqual(new Set(sink.events.map(keyOf)));
});

test('pause and CDC lag hold the copy between chunks; throttles are counted', async () => {
  const sink = new MemorySink();
  let paused = true;
  let lagCalls = 0;
  const running = runBackfill(
    { pool, sink, paused: () => paused, lagProbe: async () => (++lagCalls <= 3 ? 60_000 : 0) },
    { schema: db, table: 't', maxLagMs: 5_000, maxChunkRows: 500 },
  );
  await new Promise((r) => setTimeout(r, 600));
  expect(sink.events).toHaveLength(0);
  expect(lagCalls).toBe(0);
  paused = false;
  const p = await running;
  expect(p.done).toBe(true);
  expect(p.throttles).toBe(3);
  expect(sink.events).toHaveLength(N);
});

test('a table without a primary key is refused before anything is read', async () => {
  await expect(runBackfill({ pool, sink: new MemorySink() }, { schema: db, table: 'nopk' })).rejects.toThrow(BackfillConfigError);
  await expect(runBackfill({ pool, sink: new MemorySink() }, { schema: db, table: 'nopk' })).rejects.toThrow(/no primary key/);
});

test('a snapshot older than the CDC start position is refused (CDC must start first)', async () => {
  await expect(runBackfill({ pool, sink: new MemorySink() }, { schema: db, table: 't', cdcStartSeq: '999999999999' })).rejects.toThrow(BackfillOrderError);
});
