/**
 * Verdicts on what acknowledged reads returned, in the same register model as ./judge.ts.
 *
 *  - phantom: the read returned a value no write could have produced by then (its token belongs to no write that
 *    started before the read ended, and it is not the initial state). Always a violation.
 *  - stale: every write that could have produced the value was definitely overwritten before the read started (an
 *    acknowledged write g started after it ended and ended before the read began). Expected while reads are served
 *    by an asynchronously filled copy (DynamoDB behind CDC); counted, and a violation only when the caller says so.
 *
 * A candidate f for the value seen: a write producing it (insert/update with its token, or any delete for "absent")
 * with f.start < read.end, or the initial state (end = -inf) when allowed. Indeterminate writes count as candidates.
 */
import type { KeyHistory, ReadOp, WriteOp } from './history';
import type { JudgeOptions } from './judge';

/** ok, stale (saw an overwritten value) or phantom (saw a value no write could have produced yet). */
export type ReadVerdict = 'ok' | 'stale' | 'phantom';

/** The verdict for one read of key history `h`. */
export function judgeRead(h: KeyHistory, r: ReadOp, opts: JudgeOptions): ReadVerdict {
  if (r.present && r.token !== undefined && h.notApplied.includes(r.token)) return 'phantom';
  const produces = (w: WriteOp): boolean => (r.present ? w.kind !== 'delete' && w.token !== undefined && w.token === r.token : w.kind === 'delete');
  const candidates = h.writes.filter((w) => produces(w) && w.start < r.end);
  const tokenLogged = r.present && h.writes.some((w) => w.token !== undefined && w.token === r.token);
  const initialAllowed = r.present ? opts.initial === 'unknown' && !tokenLogged : true;
  const ends = candidates.map((w) => w.end);
  if (initialAllowed) ends.push(Number.NEGATIVE_INFINITY);
  if (ends.length === 0) return 'phantom';
  const acknowledged = h.writes.filter((g) => g.status === 'ok' && g.end < r.start);
  const overwritten = (end: number): boolean => acknowledged.some((g) => g.start > end);
  return ends.every(overwritten) ? 'stale' : 'ok';
}

/** Reads judged, and how many were stale or phantom. */
export interface ReadTotals {
  checked: number;
  stale: number;
  phantom: number;
}
