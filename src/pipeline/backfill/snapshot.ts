/**
 * Consistent snapshots with their exact binlog position: the ordering rule backfill and verification rely on.
 *
 * THE ORDERING RULE (docs/design.md, "Backfill"). Every chunk is read inside
 * `START TRANSACTION WITH CONSISTENT SNAPSHOT`. MariaDB makes the InnoDB read view and the binlog coordinates of
 * that snapshot atomic (binlog and engine commit in one group-commit order; `Binlog_snapshot_file/position` are the
 * coordinates of the last transaction the read view contains). `BINLOG_GTID_POS(file, pos)` turns them into the
 * GTID state at that point; in the migrated tables' domain its sequence number `seq` is the last transaction the
 * snapshot includes. Every row read in the snapshot therefore gets version `loadVersion(seq)` (../version.ts):
 *   - ≥ the version of every change the row reflects (all come from transactions ≤ seq), and
 *   - < the version of every change it does not reflect (all come from transactions > seq).
 * test/integration/backfill/snapshot.test.ts proves this against the real server under concurrent commits.
 * Do NOT add `READ ONLY` to the START TRANSACTION: on MariaDB 10.11 `WITH CONSISTENT SNAPSHOT, READ ONLY` produced
 * read views that missed the last one or two transactions the reported position includes (the test caught it in one
 * run of three); without it the test found no violation in ten runs of ~40 snapshots under three writers.
 *
 * Unlike DBLog's watermarks or Debezium's incremental snapshots (which bracket a chunk read between two markers
 * written into the change stream and then drop chunk rows whose keys changed inside the window) and Ghostferry
 * (which records the binlog position before copying and re-applies binlog events over copied rows), no marker and
 * no de-duplication window is needed here: the version comparison at the target does the reconciliation.
 *
 * Observed since: even without READ ONLY, under load the reported position occasionally runs a transaction or two
 * ahead of the read view (a full-suite run on a loaded machine caught one). A load claiming the reported seq would
 * then outrank a change it does not contain. So loads claim `loadSeq`, SNAPSHOT_SEQ_MARGIN transactions earlier
 * (never earlier than where CDC starts): under-claiming is always safe, because every change after the claimed seq
 * is in the topic with its full row image and a higher version, so it re-applies over the load (or beats it) and the
 * item converges to the source; over-claiming loses changes.
 *
 * MySQL (the docker-compose stack runs MySQL 8.4) has no `Binlog_snapshot_*` status variables and no
 * BINLOG_GTID_POS: there is no lock-free way to learn the exact GTID set of a read view, so `snapshotPosition`
 * refuses with SnapshotUnsupportedError rather than guess. (mysqldump gets it with FLUSH TABLES WITH READ LOCK, which
 * stalls every writer; cutover does not take it.)
 */
import type * as mysql from 'mysql2/promise';
import { loadVersion } from '../version';
import { SnapshotUnsupportedError } from './errors';
import { trackerOf } from './gtid-tracker';

/** How far (in transactions) a load's claimed seq stays below the snapshot's reported seq; see the file comment. */
export const SNAPSHOT_SEQ_MARGIN = 1000n;

/**
 * The seq a row read in a snapshot reported at `seq` may claim: SNAPSHOT_SEQ_MARGIN below it, but not below the
 * seq CDC publishes from (every change after that is in the topic), and not below 0.
 */
export function loadSeq(seq: string, cdcStartSeq?: string): string {
  let claimed = BigInt(seq) - SNAPSHOT_SEQ_MARGIN;
  if (cdcStartSeq !== undefined && claimed < BigInt(cdcStartSeq)) claimed = BigInt(cdcStartSeq);
  if (claimed < 0n) claimed = 0n;
  if (claimed > BigInt(seq)) claimed = BigInt(seq);
  return claimed.toString();
}

/**
 * An exact snapshot position costs the source a BINLOG_GTID_POS the first time per connection and file, then a read of
 * the binlog events since the connection's previous snapshot (./gtid-tracker.ts). Loads need less than exact: this
 * cache keeps the position of one recent snapshot, and a snapshot reported at or after that binlog position claims it,
 * asking the source nothing: every transaction before the earlier position is in
 * the later read view, so the remembered seq is a LOWER bound of the later snapshot's own. Loads claiming it
 * under-claim, which the ordering rule allows (the file comment: every change after the claimed seq is on the topic
 * with a higher version and its full row image). The exact position is read again once the entry is `maxAgeMs` old,
 * so a claim lags the truth by at most that long. Only for readers that accept a lower bound (backfill loads); the
 * verifier and the ordering test use exact positions.
 */
export class SnapshotSeqCache {
  private entry: { fileIndex: number; position: number; gtidState: string; seq: string; at: number } | undefined;

  constructor(private readonly maxAgeMs = 2_000, private readonly now: () => number = Date.now) {}

  /** The remembered state when a snapshot at (file, position) may claim it, else undefined. */
  lowerBound(file: string, position: number): { gtidState: string; seq: string } | undefined {
    const e = this.entry;
    if (!e || this.now() - e.at > this.maxAgeMs) return undefined;
    const index = binlogFileIndex(file);
    return index > e.fileIndex || (index === e.fileIndex && position >= e.position) ? { gtidState: e.gtidState, seq: e.seq } : undefined;
  }

  /** Records the exact state of a snapshot at (file, position). */
  remember(file: string, position: number, gtidState: string, seq: string): void {
    this.entry = { fileIndex: binlogFileIndex(file), position, gtidState, seq, at: this.now() };
  }
}

/** The numeric suffix of a binlog file name (`binlog.000042` → 42): files are written in that order. */
function binlogFileIndex(file: string): number {
  const m = /\.(\d+)$/.exec(file);
  return m ? Number(m[1]) : -1;
}

/** Where a consistent snapshot sits in the source's history. */
export interface SnapshotPosition {
  readonly file: string;
  readonly position: number;
  /** The full GTID state at the snapshot (all domains), as BINLOG_GTID_POS returned it (or at an earlier snapshot: cache). */
  readonly gtidState: string;
  /**
   * Sequence number of the last transaction of the chosen domain the snapshot includes ("0" before any); with a
   * SnapshotSeqCache, possibly that of an earlier snapshot (a lower bound).
   */
  readonly seq: string;
  /** loadVersion(seq): the version of every row read in the snapshot. */
  readonly version: string;
}

/** A connection that can run a transaction (a mysql2/promise connection or pool connection). */
export type SnapshotConnection = Pick<mysql.PoolConnection, 'query'>;

/** Picks the sequence number of `domain` (or of the only domain) from a GTID state such as "0-1-22,1-5-3". */
export function seqOfGtidState(state: string, domain?: number): string {
  const gtids = state
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((g) => {
      const m = /^(\d+)-(\d+)-(\d+)$/.exec(g);
      if (!m) throw new SnapshotUnsupportedError(`BINLOG_GTID_POS returned "${state}", not a MariaDB GTID list`);
      return { domain: Number(m[1]), seq: m[3] };
    });
  if (domain !== undefined) return gtids.find((g) => g.domain === domain)?.seq ?? '0';
  if (gtids.length > 1) {
    throw new SnapshotUnsupportedError(`the binlog has ${gtids.length} GTID domains (${state}); configure the migrated tables' domain`);
  }
  return gtids[0]?.seq ?? '0';
}

/**
 * Starts a consistent-snapshot transaction on `conn` and returns its position (exact, or with `cache` possibly a lower
 * bound: see SnapshotSeqCache). The caller reads in the same transaction and ends it with COMMIT (see `inSnapshot`).
 */
export async function beginSnapshot(conn: SnapshotConnection, domain?: number, cache?: SnapshotSeqCache): Promise<SnapshotPosition> {
  await conn.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
  const [status] = await conn.query("SHOW STATUS LIKE 'binlog_snapshot_%'");
  const vars = new Map((status as { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name.toLowerCase(), r.Value]));
  const file = vars.get('binlog_snapshot_file');
  const position = Number(vars.get('binlog_snapshot_position'));
  if (file === undefined) {
    await conn.query('ROLLBACK');
    throw new SnapshotUnsupportedError('the server has no Binlog_snapshot_file status (MySQL rather than MariaDB?): cannot learn the exact position of a consistent snapshot without locking writers');
  }
  if (file === '') {
    await conn.query('ROLLBACK');
    throw new SnapshotUnsupportedError('the binary log is off (Binlog_snapshot_file is empty)');
  }
  const known = cache?.lowerBound(file, position);
  if (known) return { file, position, gtidState: known.gtidState, seq: known.seq, version: loadVersion(known.seq) };
  const state = await trackerOf(conn).stateAt(conn, file, position); // BINLOG_GTID_POS, carried forward (gtid-tracker.ts)
  if (state === null) {
    await conn.query('ROLLBACK');
    throw new SnapshotUnsupportedError(`BINLOG_GTID_POS(${file}, ${position}) is NULL: the binlog file was purged or the position is invalid`);
  }
  const seq = seqOfGtidState(state, domain);
  cache?.remember(file, position, state, seq);
  return { file, position, gtidState: state, seq, version: loadVersion(seq) };
}

/** Runs `fn` inside a consistent snapshot on `conn`; commits afterwards (rolls back if `fn` throws). */
export async function inSnapshot<T>(conn: SnapshotConnection, fn: (pos: SnapshotPosition) => Promise<T>, domain?: number, cache?: SnapshotSeqCache): Promise<{ pos: SnapshotPosition; result: T }> {
  const pos = await beginSnapshot(conn, domain, cache);
  try {
    const result = await fn(pos);
    await conn.query('COMMIT');
    return { pos, result };
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
