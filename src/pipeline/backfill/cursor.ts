/**
 * The backfill's resume cursor: per key range, the last key of the last chunk whose load records Kafka acknowledged.
 *
 * Invariants:
 * - A range's `after` only moves forward, and only after every row up to it was acknowledged by the broker, so a
 *   resume from any cursor ever reported re-reads at most one chunk per range and skips nothing.
 * - Re-reading is harmless: a re-published load carries a version ≥ the first one and the apply never regresses an
 *   item, so a rerun from any cursor (or from scratch) converges to the same final table.
 * - The cursor is opaque JSON text naming its table; decoding one written for another table fails fast.
 */
import { CursorError } from './errors';
import type { KeyRange, KeyValues } from './keyset';

/** One key range's progress. */
export interface RangeState extends KeyRange {
  readonly done: boolean;
}

export interface BackfillCursorState {
  readonly v: 1;
  /** "schema.table". */
  readonly table: string;
  readonly ranges: readonly RangeState[];
}

/** The cursor text of `state`. */
export function encodeCursor(state: BackfillCursorState): string {
  return JSON.stringify(state);
}

/** Parses a cursor written by encodeCursor for `table` ("schema.table"); throws CursorError otherwise. */
export function decodeCursor(text: string, table: string): BackfillCursorState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CursorError('not JSON', text);
  }
  const s = parsed as Partial<BackfillCursorState>;
  if (s?.v !== 1 || !Array.isArray(s.ranges)) throw new CursorError('not a backfill cursor (v1)', text);
  if (s.table !== table) throw new CursorError(`written for ${s.table}, not ${table}`, text);
  const keyOk = (k: unknown): k is KeyValues | null => k === null || Array.isArray(k);
  for (const r of s.ranges) if (!r || !keyOk(r.after) || !keyOk(r.through) || typeof r.done !== 'boolean') throw new CursorError('malformed range', text);
  return s as BackfillCursorState;
}

/** Splits the whole key space at `boundaries` (ascending keys) into ranges (…, b0], (b0, b1], …, (bn, …). */
export function initialRanges(boundaries: readonly KeyValues[]): RangeState[] {
  const out: RangeState[] = [];
  let after: KeyValues | null = null;
  for (const b of boundaries) {
    out.push({ after, through: b, done: false });
    after = b;
  }
  out.push({ after, through: null, done: false });
  return out;
}
