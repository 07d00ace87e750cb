/**
 * The ordering rule on the real MariaDB: a row read in a consistent snapshot whose position maps to GTID seq S
 * reflects exactly the transactions with seq ≤ S. Writers commit concurrently (several connections, so group
 * commit batches them) and record each commit's GTID (@@last_gtid); readers take snapshots meanwhile.
 */
import type * as mysql from 'mysql2/promise';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { trackerOf, type GtidTrackerStats } from '../../../src/pipeline/backfill/gtid-tracker';
import { beginSnapshot, loadSeq, seqOfGtidState, SnapshotSeqCache } from '../../../src/pipeline/backfill/snapshot';
import { loadVersion, changeVersion } from '../../../src/pipeline/version';
import { uniqueName } from '../../support/ids';

const db = uniqueName('bf_snap');
let pool: mysql.Pool;

beforeAll(async () => {
  pool = createSourcePool({ connectionLimit: 10 });
  await pool.query(`CREATE DATABASE \`${db}\``);
  await pool.query(`CREATE TABLE \`${db}\`.t (id INT PRIMARY KEY, v INT NOT NULL)`);
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

interface Commit {
  id: number;
  v: number | null; // null = deleted
  seq: bigint;
}
interface Snap {
  seq: bigint;
  rows: Map<number, number>;
}

/**
 * Three writers commit for `ms` while two readers take snapshots with `begin` (each reader on its own connection,
 * which `after` sees once the reader is done); returns both logs, commits by seq.
 */
async function workload(
  begin: (conn: mysql.PoolConnection) => Promise<{ seq: string; version: string }>,
  ms: number,
  after: (conn: mysql.PoolConnection) => void = () => undefined,
): Promise<{ ordered: Commit[]; snapshots: Snap[] }> {
  await pool.query(`DELETE FROM \`${db}\`.t`);
  await pool.query(`INSERT INTO \`${db}\`.t SELECT seq, 0 FROM \`${db}\`.seq_1_to_20`); // the state prefixMatch starts from
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
  const snapshots: Snap[] = [];
  const reader = async (): Promise<void> => {
    const conn = await pool.getConnection();
    try {
      while (!stop) {
        const pos = await begin(conn);
        const [rows] = await conn.query(`SELECT id, v FROM \`${db}\`.t`);
        await conn.query('COMMIT');
        snapshots.push({ seq: BigInt(pos.seq), rows: new Map((rows as { id: number; v: number }[]).map((r) => [r.id, r.v])) });
        expect(pos.version).toBe(loadVersion(pos.seq));
        // A few dozen ms between snapshots, as a chunk read takes: with the GTID tracker a snapshot takes a few ms, and
        // thousands of them would make the prefix check below quadratic in the test's own time.
        await new Promise((r) => setTimeout(r, 25));
      }
      after(conn);
    } finally {
      conn.release();
    }
  };
  const running = [writer(0), writer(1), writer(2), reader(), reader()];
  await new Promise((r) => setTimeout(r, ms));
  stop = true;
  await Promise.all(running);
  expect(commits.length).toBeGreaterThan(100);
  expect(snapshots.length).toBeGreaterThan(20);
  return { ordered: [...commits].sort((a, b) => (a.seq < b.seq ? -1 : 1)), snapshots };
}

/**
 * Where the snapshot equals a prefix of the commit order that contains every commit up to the seq a load claims
 * (loadSeq of the reported seq), looking no further than `upTo`: the first such prefix's last seq, `exact` when one
 * ends at the reported seq; undefined when the snapshot is no such prefix.
 */
function prefixMatch(snap: Snap, ordered: readonly Commit[], upTo: bigint): { at: bigint; exact: boolean } | undefined {
  const claimed = BigInt(loadSeq(snap.seq.toString()));
  const state = new Map<number, number>();
  for (let id = 1; id <= 20; id += 1) state.set(id, 0);
  const same = () => [...state].every(([id, v]) => snap.rows.get(id) === v) && [...snap.rows.keys()].every((id) => state.has(id));
  let matchedAt: bigint | undefined = same() && claimed <= 0n ? 0n : undefined;
  let exact = false;
  for (const c of ordered) {
    if (c.seq > upTo) break;
    if (c.v === null) state.delete(c.id);
    else state.set(c.id, c.v);
    if (c.seq >= claimed && same()) {
      matchedAt ??= c.seq;
      if (c.seq === snap.seq) exact = true;
    }
  }
  if (matchedAt === undefined && claimed <= (ordered[0]?.seq ?? 0n)) {
    // every commit of the run is after the claim: the prefix before them all qualifies if it is the snapshot
    const initial = new Map<number, number>(Array.from({ length: 20 }, (_, i) => [i + 1, 0]));
    if ([...initial].every(([id, v]) => snap.rows.get(id) === v) && snap.rows.size === initial.size) matchedAt = claimed;
  }
  return matchedAt === undefined ? undefined : { at: matchedAt, exact };
}

test('a snapshot row reflects every commit with seq ≤ S and none with seq > S', async () => {
  // Each position's GTID state also comes out exactly as BINLOG_GTID_POS gives it, though the connection's tracker
  // asks the server only for the first one and carries the state forward over the binlog events in between.
  const positions: { file: string; position: number; gtidState: string }[] = [];
  const stats: GtidTrackerStats[] = [];
  const { ordered, snapshots } = await workload(
    async (conn) => {
      const pos = await beginSnapshot(conn);
      positions.push(pos);
      return pos;
    },
    4_000,
    (conn) => stats.push({ ...trackerOf(conn).stats }),
  );
  const state = (s: string) => new Map(s.split(',').map((g) => [g.split('-')[0], g]));
  await Promise.all(positions.map(async (p) => {
    const [rows] = await pool.query('SELECT BINLOG_GTID_POS(?, ?) AS g', [p.file, p.position]);
    expect({ at: `${p.file}:${p.position}`, state: state(p.gtidState) }).toEqual({ at: `${p.file}:${p.position}`, state: state((rows as { g: string }[])[0].g) });
  }));
  expect(stats.reduce((n, x) => n + x.incremental, 0)).toBeGreaterThan(positions.length / 2);
  expect(stats.reduce((n, x) => n + x.eventsRead, 0)).toBeGreaterThan(0);
  // The snapshot must be a consistent prefix of the commit order that contains every commit up to the seq a load
  // claims (loadSeq: a margin below the reported S, because MariaDB's reported position can run a transaction or
  // two ahead of the read view under load) and nothing after the reported S. Exactness at S is logged, not required.
  let inexact = 0;
  for (const snap of snapshots) {
    const m = prefixMatch(snap, ordered, snap.seq);
    if (!m?.exact) inexact += 1;
    expect({ S: snap.seq, consistentPrefixBetweenClaimedAndS: m !== undefined }).toEqual({ S: snap.seq, consistentPrefixBetweenClaimedAndS: true });
    // In version terms: the claimed load version is below every change the snapshot does not contain.
    const lv = BigInt(loadVersion(loadSeq(snap.seq.toString())));
    const excludedBelow = ordered.filter((c) => c.seq > snap.seq && BigInt(changeVersion(c.seq, 0)) <= lv);
    expect(excludedBelow).toEqual([]);
  }
  if (inexact) console.log(`snapshot test: ${inexact} of ${snapshots.length} snapshots were not exact at the reported seq (tolerated by the load-seq margin)`);
}, 60_000); // checking every position runs BINLOG_GTID_POS per snapshot, which scans the binlog file

test('with a SnapshotSeqCache, a snapshot claims a seq it contains (a lower bound) and BINLOG_GTID_POS runs once per age', async () => {
  const cache = new SnapshotSeqCache(300);
  let exactCalls = 0;
  const begin = async (conn: mysql.PoolConnection) => {
    const counting = { query: (sql: string, args?: unknown[]) => ((exactCalls += /BINLOG_GTID_POS/.test(sql) ? 1 : 0), conn.query(sql, args)) } as unknown as mysql.PoolConnection;
    return beginSnapshot(counting, undefined, cache);
  };
  const { ordered, snapshots } = await workload(begin, 3_000);
  const last = ordered[ordered.length - 1].seq;
  let behind = 0;
  for (const snap of snapshots) {
    // the snapshot may hold commits after its (remembered) seq, but never lacks one up to the seq its loads claim
    const m = prefixMatch(snap, ordered, last);
    expect({ S: snap.seq, containsEveryCommitUpToClaim: m !== undefined }).toEqual({ S: snap.seq, containsEveryCommitUpToClaim: true });
    if (m && m.at > snap.seq) behind += 1;
  }
  expect(exactCalls).toBeLessThan(snapshots.length / 3);
  expect(exactCalls).toBeGreaterThanOrEqual(3_000 / 300 / 2);
  expect(behind).toBeGreaterThan(0); // the remembered seq did lag some snapshots, so the bound was exercised
}, 30_000);
