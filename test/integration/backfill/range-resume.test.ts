/**
 * Parallel key ranges resume each from its own position after a kill (src/pipeline/cursor-store.ts, "Parallel key
 * ranges"), on real MariaDB with the real cursor table: a backfill over three ranges saves its cursor through the
 * CursorPublisher as the runBackfill activity does; after a few saves the "worker dies" (every later save hangs, so
 * chunks acknowledged after the last save are never recorded, then the run is abandoned). A new attempt claims the
 * row and resumes: every range starts right after its own stored key (not after the slowest range's), the rows copied
 * twice are exactly the ones acknowledged after the last completed save, and the two attempts together copy every row.
 */
import type * as mysql from 'mysql2/promise';
import { runBackfill } from '../../../src/pipeline/backfill/backfill';
import { decodeCursor } from '../../../src/pipeline/backfill/cursor';
import { MemorySink } from '../../../src/pipeline/backfill/sink';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { CursorPublisher, CursorStore, type CursorClaim } from '../../../src/pipeline/cursor-store';
import { uniqueName } from '../../support/ids';

const db = uniqueName('bf_ranges').toLowerCase();
const metaDb = `${db}_meta`;
const ROWS = 3_000;
const CHUNK = 100;
let pool: mysql.Pool;

beforeAll(async () => {
  pool = createSourcePool({ connectionLimit: 8 });
  await pool.query(`CREATE DATABASE \`${db}\``);
  await pool.query(`CREATE DATABASE \`${metaDb}\``);
  await pool.query(`CREATE TABLE \`${db}\`.t (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)`);
  await pool.query(`INSERT INTO \`${db}\`.t SELECT seq, CONCAT('v', seq) FROM \`${db}\`.seq_1_to_${ROWS}`);
});

afterAll(async () => {
  await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await pool.query(`DROP DATABASE IF EXISTS \`${metaDb}\``);
  await pool.end();
});

const idsOf = (sink: MemorySink): number[] => sink.events.map((e) => Number(e.data!.id));
const options = { schema: db, table: 't', parallelism: 3, initialChunkRows: CHUNK, minChunkRows: CHUNK, maxChunkRows: CHUNK, maxRowsPerSecond: 6_000 };

test('after a kill, each parallel range resumes from its own stored key; only chunks acknowledged after the last save are copied again', async () => {
  const store = new CursorStore(pool, metaDb);
  const owner = uniqueName('owner');

  // Attempt 1: saves land until at least 4 have and the saved cursor has two ranges past their start; later ones hang
  // (the worker died with them in flight). Which range moves first depends on timing, so the cut waits for two.
  const claim1 = await store.claim(owner, 'backfill', null);
  let saves = 0;
  let dead = false;
  const movedRanges = (cursor: string): number => {
    const rs = decodeCursor(cursor, `${db}.t`).ranges;
    return rs.filter((r, i) => r.after !== null && (i === 0 || Number(r.after[0]) > Number(rs[i - 1].through![0]))).length;
  };
  const dying: CursorClaim = {
    ...claim1,
    save: (cursor, counters) => {
      if (dead) return new Promise<string>(() => undefined);
      dead = ++saves >= 4 && movedRanges(cursor) >= 2;
      return claim1.save(cursor, counters);
    },
  };
  const publisher = new CursorPublisher(dying);
  const sink1 = new MemorySink();
  const ac = new AbortController();
  let chunks = 0;
  await runBackfill(
    {
      pool,
      sink: sink1,
      signal: ac.signal,
      onProgress: (p) => {
        publisher.offer(p.cursor!, { rowsCopied: p.rowsCopied }, () => undefined);
        if (dead && ++chunks === 6) ac.abort(); // six more chunks acknowledged after the last save
      },
    },
    options,
  );
  expect(saves).toBeGreaterThanOrEqual(4);
  expect(chunks).toBeGreaterThanOrEqual(6); // acknowledged chunks after the last save: never saved (others may finish as it stops)

  // Attempt 2 claims the row (fencing attempt 1) and resumes from the stored cursor.
  const claim2 = await store.claim(owner, 'backfill', 'cursor-ref:v1:backfill:1');
  const stored = decodeCursor(claim2.cursor!, `${db}.t`);
  expect(stored.ranges).toHaveLength(3);
  const afters = stored.ranges.map((r) => (r.after ? Number(r.after[0]) : 0));
  // At least two ranges have moved past their start (a range that has not may sit at the previous one's end key).
  const bounds = stored.ranges.map((r) => (r.through ? Number(r.through[0]) : Infinity));
  const rangeOf = (id: number): number => bounds.findIndex((b) => id <= b);
  expect(stored.ranges.filter((r, i) => r.after !== null && Number(r.after[0]) > (i === 0 ? 0 : bounds[i - 1])).length).toBeGreaterThanOrEqual(2);

  const sink2 = new MemorySink();
  const p2 = await runBackfill({ pool, sink: sink2 }, { ...options, cursor: claim2.cursor, rowsCopiedBefore: claim2.counters!.rowsCopied });
  expect(p2.done).toBe(true);

  const first = idsOf(sink1);
  const second = idsOf(sink2);
  // Each range resumed right after its own stored key: nothing at or below it in that range was read again.
  for (const id of second) expect(id).toBeGreaterThan(afters[rangeOf(id)]);
  for (let i = 0; i < 3; i += 1) {
    const inRange = second.filter((id) => rangeOf(id) === i);
    // (a range whose last full chunk ended on its bound is stored not done yet with nothing left to copy)
    if (!stored.ranges[i].done && afters[i] < bounds[i]) expect(Math.min(...inRange)).toBe(afters[i] + 1);
  }
  // Re-copied: exactly the rows attempt 1 had acknowledged beyond its range's stored key.
  const again = second.filter((id) => first.includes(id)).sort((a, b) => a - b);
  expect(again).toEqual(first.filter((id) => id > afters[rangeOf(id)]).sort((a, b) => a - b));
  expect(again.length).toBeGreaterThan(0);
  expect(new Set([...first, ...second]).size).toBe(ROWS);
  // Counting from the counters saved with the cursor: every row exactly once.
  expect(p2.rowsCopied).toBe(ROWS);
});
