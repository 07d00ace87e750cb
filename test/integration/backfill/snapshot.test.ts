/**
 * The ordering rule on the real MariaDB: a row read in a consistent snapshot whose position maps to GTID seq S
 * reflects exactly the transactions with seq ≤ S. Writers commit concurrently (several connections, so group
 * commit batches them) and record each commit's GTID (@@last_gtid); readers take snapshots meanwhile.
 */
import type * as mysql from 'mysql2/promise';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { beginSnapshot, loadSeq, seqOfGtidState } from '../../../src/pipeline/backfill/snapshot';
import { loadVersion, changeVersion } from '../../../src/pipeline/version';
import { uniqueName } from '../../support/ids';

const db = uniqueName('bf_snap');
let pool: mysql.Pool;

beforeAll(async () => {
  pool = createSourcePool({ connectionLimit: 10 });
  await pool.query(`CREATE DATABASE \`${db}\``);
  await pool.query(`CREATE TABLE \`${db}\`.t (id INT PRIMARY KEY, v INT NOT NULL)`);
  await pool.query(`INSERT INTO \`${db}\`.t SELECT seq, 0 FROM \`${db}\`.seq_1_to_20`);
});

afterAll(async () => {
  await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await pool.end();
});

test('seqOfGtidState picks the domain and refuses ambiguity', () => {
  expect(seqOfGtidState('0-1-22')).toBe('22');
  expect(seqOfGtidState('')).toBe('0');
  expect(seqOfGtidState('0-1-22,1-2-5', 1)).toBe('5');
  expect(() => seqOfGtidState('0-1-22,1-2-5')).toThrow(/2 GTID domains/);
});

test('a snapshot row reflects every commit with seq ≤ S and none with seq > S', async () => {
  interface Commit {
    id: number;
    v: number | null; // null = deleted
    seq: bigint;
  }
  const commits: Commit[] = [];
  let stop = false;
  const writer = async (w: number): Promise<void> => {
    const conn = await pool.getConnection();
    try {
      for (let i = 0; !stop; i += 1) {
        const id = 1 + ((i * 7 + w * 3) % 25); // ids 21..25 are inserted and deleted
        await conn.query('BEGIN');
        try {
        const [rows] = await conn.query(`SELECT v FROM \`${db}\`.t WHERE id = ? FOR UPDATE`, [id]);
        const cur = (rows as { v: number }[])[0];
        let v: number | null;
        if (!cur) {
          v = 1000 + i;
          await conn.query(`INSERT INTO \`${db}\`.t VALUES (?, ?)`, [id, v]);
        } else if (id > 20 && i % 2 === 0) {
          v = null;
          await conn.query(`DELETE FROM \`${db}\`.t WHERE id = ?`, [id]);
        } else {
          v = cur.v + 1;
          await conn.query(`UPDATE \`${db}\`.t SET v = ? WHERE id = ?`, [v, id]);
        }
        await conn.query('COMMIT');
        const [g] = await conn.query('SELECT @@last_gtid AS g');
        commits.push({ id, v, seq: BigInt(seqOfGtidState((g as { g: string }[])[0].g)) });
        } catch (err) {
          // Concurrent writers on the same ids may deadlock on gap locks: the loser rolls back, which is fine.
          if ((err as { errno?: number }).errno !== 1213) throw err;
          await conn.query('ROLLBACK');
        }
      }
    } finally {
      conn.release();
    }
  };
  const snapshots: { file: string; pos: number; seq: bigint; rows: Map<number, number> }[] = [];
  const reader = async (): Promise<void> => {
    const conn = await pool.getConnection();
    try {
      while (!stop) {
        const pos = await beginSnapshot(conn);
        const [rows] = await conn.query(`SELECT id, v FROM \`${db}\`.t`);
        await conn.query('COMMIT');
        snapshots.push({ file: pos.file, pos: pos.position, seq: BigInt(pos.seq), rows: new Map((rows as { id: number; v: number }[]).map((r) => [r.id, r.v])) });
        expect(pos.version).toBe(loadVersion(pos.seq));
      }
    } finally {
      conn.release();
    }
  };
  const running = [writer(0), writer(1), writer(2), reader(), reader()];
  await new Promise((r) => setTimeout(r, 4_000));
  stop = true;
  await Promise.all(running);

  expect(commits.length).toBeGreaterThan(100);
  expect(snapshots.length).toBeGreaterThan(20);
  // The snapshot must be a consistent prefix of the commit order that contains every commit up to the seq a load
  // claims (loadSeq: a margin below the reported S, because MariaDB's reported position can run a transaction or
  // two ahead of the read view under load) and nothing after the reported S. Exactness at S is logged, not required.
  const ordered = [...commits].sort((a, b) => (a.seq < b.seq ? -1 : 1));
  let checked = 0;
  let inexact = 0;
  for (const snap of snapshots) {
    const claimed = BigInt(loadSeq(snap.seq.toString()));
    const state = new Map<number, number>();
    for (let id = 1; id <= 20; id += 1) state.set(id, 0);
    const same = () => [...state].every(([id, v]) => snap.rows.get(id) === v) && [...snap.rows.keys()].every((id) => state.has(id));
    let matchedAt: bigint | undefined = same() && claimed <= 0n ? 0n : undefined;
    let exact = false;
    for (const c of ordered) {
      if (c.seq > snap.seq) break;
      if (c.v === null) state.delete(c.id);
      else state.set(c.id, c.v);
      if (c.seq >= claimed && same()) {
        matchedAt ??= c.seq;
        if (c.seq === snap.seq) exact = true;
      }
    }
    if (matchedAt === undefined && claimed <= (ordered[0]?.seq ?? 0n) && same()) matchedAt = claimed;
    if (!exact) inexact += 1;
    expect({ S: snap.seq, consistentPrefixBetweenClaimedAndS: matchedAt !== undefined }).toEqual({ S: snap.seq, consistentPrefixBetweenClaimedAndS: true });
    // In version terms: the claimed load version is below every change the snapshot does not contain.
    const lv = BigInt(loadVersion(claimed));
    const excludedBelow = ordered.filter((c) => c.seq > snap.seq && BigInt(changeVersion(c.seq, 0)) <= lv);
    expect(excludedBelow).toEqual([]);
    checked += 1;
  }
  if (inexact) console.log(`snapshot test: ${inexact} of ${snapshots.length} snapshots were not exact at the reported seq (tolerated by the load-seq margin)`);
  expect(checked).toBe(snapshots.length);
}, 30_000);
