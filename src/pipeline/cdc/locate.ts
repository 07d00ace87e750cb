/**
 * Finds where to start reading for "CDC from a timestamp" without decoding the whole retained binlog: a binary search
 * over the GTID sequence numbers of the single domain, probing each candidate by asking the server to stream from it
 * and reading only the next transaction's GTID event time (the server seeks; nothing is decoded in JavaScript).
 *
 * Invariants: the returned GTID position P satisfies "the transaction right after P started before `at − margin`",
 * so every transaction at or after `at` (binlog times are per-second statement start times, roughly but not strictly
 * monotonic, hence the margin) comes after P; the reader then publishes only commits at or after `at`. Whenever the
 * search cannot be done exactly (no GTIDs yet, several server ids in the domain, a probe refused), it returns
 * undefined and the caller reads from the oldest binlog instead: slower, never wrong.
 */
import type { Queryable } from '../row/codec';
import { createZongJi } from './zongji';

export interface LocateOptions {
  /** Source URL for the probing binlog connections (default CUTOVER_MYSQL_URL). */
  readonly mysqlUrl?: string;
  /** Seconds subtracted from the target time (default 60). */
  readonly marginSeconds?: number;
  /** How long a probe waits for the next transaction before concluding there is none (default 2000 ms). */
  readonly probeTimeoutMs?: number;
  readonly serverIdBase?: number;
}

/** Start time (epoch seconds) of the first transaction after `gtid`, +Infinity when none follows it. */
async function probe(gtid: string, serverId: number, o: LocateOptions): Promise<number> {
  const z = createZongJi(o.mysqlUrl);
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => resolve(Number.POSITIVE_INFINITY), o.probeTimeoutMs ?? 2000);
      z.on('error', (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      });
      z.on('binlog', (ev: unknown) => {
        const e = ev as { getEventName(): string; timestamp: number };
        if (e.getEventName() !== 'mariadbgtid') return;
        clearTimeout(timer);
        resolve(Math.floor(e.timestamp / 1000));
      });
      z.start({ gtidSet: gtid, serverId, includeEvents: ['mariadbgtid'] });
    });
  } finally {
    try {
      z.stop();
    } catch {
      // already stopped
    }
  }
}

/** The GTID position to start from so that every transaction committed at or after `at` is read; see invariants. */
export async function locateGtidBefore(db: Queryable, atSeconds: number, o: LocateOptions = {}): Promise<string | undefined> {
  const [cur] = await db.query('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
  const now = String((cur as { pos: string | null }[])[0]?.pos ?? '').trim();
  if (!now || now.includes(',')) return undefined;
  const [domain, server, hiText] = now.split('-');
  const [logs] = await db.query('SHOW BINARY LOGS');
  const oldest = (logs as { Log_name: string }[])[0]?.Log_name;
  if (!oldest) return undefined;
  const [start] = await db.query('SELECT BINLOG_GTID_POS(?, 4) AS pos', [oldest]);
  const startPos = String((start as { pos: string | null }[])[0]?.pos ?? '').trim();
  const entry = startPos.split(',').map((s) => s.trim().split('-')).find((g) => g[0] === domain);
  if (entry && entry[1] !== server) return undefined;
  let lo = BigInt(entry ? entry[2] : '0');
  let hi = BigInt(hiText);
  const target = atSeconds - (o.marginSeconds ?? 60);
  const at = (seq: bigint): string => `${domain}-${server}-${seq}`;
  let n = 0;
  const serverId = (): number => (o.serverIdBase ?? 1_500_000_000) + (process.pid % 100_000) * 100 + (n++ % 100);
  try {
    if (lo === 0n) lo = 1n; // the binlog starts before the first GTID: search from the first one
    if (lo > hi || (await probe(at(lo), serverId(), o)) >= target) return undefined;
    // invariant: probe(lo) < target; find the largest such seq
    while (lo < hi) {
      const mid = lo + (hi - lo + 1n) / 2n;
      if ((await probe(at(mid), serverId(), o)) < target) lo = mid;
      else hi = mid - 1n;
    }
    return at(lo);
  } catch {
    return undefined;
  }
}
