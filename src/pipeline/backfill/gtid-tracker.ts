/**
 * The exact GTID state at a binlog position, without rescanning the binlog for every snapshot.
 *
 * `BINLOG_GTID_POS(file, pos)` reads the binlog file from its start up to `pos` (MariaDB 10.11 keeps no GTID index),
 * so its cost grows with the file: 46 ms of the source's CPU at a 168 MB offset here, on every chunk, up to the
 * 1 GB of a full file by default. Positions read on one connection only move forward (each snapshot is newer than the
 * one before it on that connection), so the tracker asks BINLOG_GTID_POS once per binlog file and then carries the
 * state forward: the state at a later position of the same file is the earlier state with the GTID of every
 * transaction that starts between the two positions (per domain, the last one wins), read with
 * `SHOW BINLOG EVENTS IN file FROM earlier` (BINLOG MONITOR, which cutover's grants include). That reads only the
 * events between the two snapshots.
 *
 * Invariants: a result is exactly what BINLOG_GTID_POS returns for (file, pos) up to the order of domains
 * (test/integration/backfill/snapshot.test.ts compares them for every snapshot under concurrent commits);
 * `FROM` is always a position BINLOG_GTID_POS or SHOW BINLOG EVENTS reported as an event boundary; anything
 * unexpected (another file, an earlier position, more than MAX_EVENTS events to read) asks BINLOG_GTID_POS again.
 */
import type { SnapshotConnection } from './snapshot';

/** Events read per SHOW BINLOG EVENTS page. */
const PAGE = 2_000;
/** Beyond this many events between two snapshots, one BINLOG_GTID_POS is the cheaper ask. */
const MAX_EVENTS = 200_000;

interface BinlogEvent {
  readonly Pos: number | string;
  readonly Event_type: string;
  readonly End_log_pos: number | string;
  readonly Info: string;
}

/** How the tracker answered so far (for tests and logs). */
export interface GtidTrackerStats {
  /** Answers that asked BINLOG_GTID_POS. */
  full: number;
  /** Answers carried forward from the previous position. */
  incremental: number;
  /** Binlog events read to carry states forward. */
  eventsRead: number;
}

/** One connection's last known (file, position, GTID state per domain); see the module comment. */
export class GtidTracker {
  private last: { file: string; position: number; domains: Map<number, string> } | undefined;
  readonly stats: GtidTrackerStats = { full: 0, incremental: 0, eventsRead: 0 };

  /** The GTID state at (file, position), as BINLOG_GTID_POS would return it; null when the server returns none. */
  async stateAt(conn: SnapshotConnection, file: string, position: number): Promise<string | null> {
    const carried = this.last && this.last.file === file && this.last.position <= position ? await this.carry(conn, this.last, position) : undefined;
    if (carried) {
      this.stats.incremental += 1;
      this.last = { file, position, domains: carried };
      return format(carried);
    }
    const [rows] = await conn.query('SELECT BINLOG_GTID_POS(?, ?) AS g', [file, position]);
    const state = (rows as { g: string | null }[])[0]?.g ?? null;
    this.stats.full += 1;
    const domains = state === null ? undefined : parse(state);
    this.last = domains ? { file, position, domains } : undefined;
    return state;
  }

  /** The domains at `position`, read forward from `from`; undefined when that would read more than MAX_EVENTS. */
  private async carry(conn: SnapshotConnection, from: { file: string; position: number; domains: Map<number, string> }, position: number): Promise<Map<number, string> | undefined> {
    const domains = new Map(from.domains);
    let at = from.position; // the start of the next event to read
    for (let read = 0; ; ) {
      if (at >= position) return domains; // every event before `position` was read
      if (read >= MAX_EVENTS) return undefined;
      const [rows] = await conn.query(`SHOW BINLOG EVENTS IN ? FROM ${at} LIMIT ${PAGE}`, [from.file]);
      const events = rows as BinlogEvent[];
      read += events.length;
      this.stats.eventsRead += events.length;
      for (const e of events) {
        if (Number(e.Pos) >= position) return domains;
        if (e.Event_type === 'Gtid') {
          const m = /GTID (\d+)-(\d+)-(\d+)/.exec(e.Info);
          if (!m) return undefined; // a Gtid event this code cannot read: ask the server instead
          domains.set(Number(m[1]), `${m[1]}-${m[2]}-${m[3]}`);
        }
        at = Number(e.End_log_pos);
      }
      // The file ended before `position` as this read saw it (seen under concurrent commits: the events of the last
      // transactions not yet readable): ask the server instead of guessing.
      if (events.length < PAGE && at < position) return undefined;
    }
  }
}

function parse(state: string): Map<number, string> | undefined {
  const domains = new Map<number, string>();
  for (const g of state.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)-\d+-\d+$/.exec(g);
    if (!m) return undefined;
    domains.set(Number(m[1]), g);
  }
  return domains;
}

function format(domains: Map<number, string>): string {
  return [...domains.entries()].sort((a, b) => a[0] - b[0]).map(([, g]) => g).join(',');
}

const trackers = new WeakMap<object, GtidTracker>();

/** The tracker of `conn` (one per connection object: its snapshots only move forward). */
export function trackerOf(conn: SnapshotConnection): GtidTracker {
  let t = trackers.get(conn);
  if (!t) trackers.set(conn, (t = new GtidTracker()));
  return t;
}
