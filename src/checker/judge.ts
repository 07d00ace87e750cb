/**
 * The verdict for one key: is the observed final state one that the logged writes allow?
 *
 * Model: each key is a register; each write takes effect at one instant inside its interval [start, end] (an
 * indeterminate write: anywhere in [start, +inf), or never). A delete writes "absent". The final state is the value of
 * the write that took effect last. So the observed state is allowed iff some write f that produces it could be last,
 * i.e. no acknowledged write g started after f ended (g.start > f.end would force g after f).
 *
 * Proof sketch of "iff": put every acknowledged write other than f at its start instant and f just after the latest of
 * them; that respects every real-time order and f's interval exactly when f.end > every such g.start. Indeterminate
 * writes other than f are left out (allowed: they may never have happened).
 *
 * The initial state (before the log) is a write that ended at -inf: it may remain only if no write was acknowledged.
 * Picking the candidate f with the latest end gives the smallest set of writes that the final state contradicts;
 * those are reported as lost (or, for a delete, as resurrected).
 */
import { differingColumns } from './canonical';
import type { KeyHistory, WriteOp } from './history';
import type { LogRow } from './log-format';

/** What one store holds for one key at the end. `row` may be missing when the store gives only the token. */
export type ObservedState =
  | { readonly present: false }
  | {
      readonly present: true;
      readonly token: string | undefined;
      /** The row, or the part of it the store's reader can compare; columns of the write missing here are not compared. */
      readonly row?: LogRow;
      /** Columns of `row` compared as numbers (DynamoDB N normalises "12.50" to "12.5"). */
      readonly numeric?: ReadonlySet<string>;
      /** `row` holds only some columns; the others are not compared. */
      readonly partial?: boolean;
    };

/** What went wrong for a key (see the module comment and ./reads.ts). */
export type ViolationKind = 'lost-write' | 'resurrected-delete' | 'unknown-value' | 'stores-disagree' | 'phantom-read' | 'stale-read';

/** A reference to a logged write, for evidence. */
export interface WriteRef {
  readonly instance: string;
  readonly op: number;
  readonly kind: WriteOp['kind'];
  readonly start: number;
  /** null for an indeterminate write. */
  readonly end: number | null;
  readonly status: WriteOp['status'];
  readonly token?: string;
}

/** One violation with its evidence: the write that produced the state and the writes it contradicts. */
export interface Violation {
  readonly kind: ViolationKind;
  /** The store whose state is wrong ("mysql", "dynamodb"); absent for stores-disagree and reads. */
  readonly store?: string;
  readonly message: string;
  /** The write that produced the observed state (latest-ending candidate), when one did. */
  readonly producedBy?: WriteRef;
  /** Acknowledged writes the observed state contradicts. */
  readonly contradicts?: readonly WriteRef[];
  readonly differingColumns?: readonly string[];
}

/** How to treat the state before the logs began. */
export interface JudgeOptions {
  /** What the key held before the log: 'unknown' allows any unlogged value or absence; 'absent' allows only absence. */
  readonly initial: 'unknown' | 'absent';
}

/** A compact reference to `w` for reports. */
export function refOf(w: WriteOp): WriteRef {
  return { instance: w.instance, op: w.op, kind: w.kind, start: w.start, end: Number.isFinite(w.end) ? w.end : null, status: w.status, token: w.token };
}

function describe(w: WriteRef): string {
  return `${w.kind} ${w.instance}#${w.op} [${w.start.toFixed(3)}, ${w.end === null ? 'unacknowledged' : w.end.toFixed(3)}]`;
}

/** Violations of one store's final state for one key (empty when the state is allowed). */
export function judgeState(h: KeyHistory, state: ObservedState, store: string, opts: JudgeOptions): Violation[] {
  const acknowledged = h.writes.filter((w) => w.status === 'ok');
  let candidates: WriteOp[];
  let initialAllowed: boolean;
  if (!state.present) {
    candidates = h.writes.filter((w) => w.kind === 'delete');
    initialAllowed = true;
  } else {
    candidates = h.writes.filter((w) => w.kind !== 'delete' && w.token !== undefined && w.token === state.token);
    if (state.token !== undefined && h.notApplied.includes(state.token)) {
      return [{ kind: 'unknown-value', store, message: `${store} holds token ${JSON.stringify(state.token)}, written by a request the store acknowledged as not applied` }];
    }
    initialAllowed = opts.initial === 'unknown' && !h.writes.some((w) => w.token !== undefined && w.token === state.token);
    if (candidates.length === 0 && !initialAllowed) {
      return [{ kind: 'unknown-value', store, message: `${store} holds token ${JSON.stringify(state.token)}, which no logged write that took effect produced` }];
    }
  }
  const best = candidates.reduce<WriteOp | undefined>((a, w) => (a === undefined || w.end > a.end ? w : a), undefined);
  const bestEnd = best ? best.end : Number.NEGATIVE_INFINITY;
  if (!best && !initialAllowed) return [{ kind: 'unknown-value', store, message: `${store} state has no possible origin` }];

  const out: Violation[] = [];
  if (best && state.present && state.row && best.value) {
    const diff = differingColumns(best.value, state.row, state.numeric, state.partial);
    if (diff.length) {
      out.push({ kind: 'unknown-value', store, message: `${store} row carries the token of ${describe(refOf(best))} but differs in ${diff.join(', ')}`, producedBy: refOf(best), differingColumns: diff });
    }
  }
  const contradicted = acknowledged.filter((g) => g.start > bestEnd).map(refOf);
  if (contradicted.length) {
    const deletes = contradicted.filter((g) => g.kind === 'delete');
    const origin = best ? describe(refOf(best)) : 'the initial state';
    if (state.present && deletes.length) {
      out.push({
        kind: 'resurrected-delete',
        store,
        message: `${store} holds the value of ${origin}, but ${describe(deletes[deletes.length - 1])} was acknowledged after it ended`,
        producedBy: best && refOf(best),
        contradicts: contradicted,
      });
    } else {
      out.push({
        kind: 'lost-write',
        store,
        message: `${store} holds ${state.present ? 'the value of' : 'no row, from'} ${origin}, but ${contradicted.length} acknowledged write(s) started after it ended, e.g. ${describe(contradicted[contradicted.length - 1])}`,
        producedBy: best && refOf(best),
        contradicts: contradicted,
      });
    }
  }
  return out;
}

/** The two stores' states differ (presence or token). */
export function statesDisagree(a: ObservedState, b: ObservedState): boolean {
  if (a.present !== b.present) return true;
  return a.present && b.present && a.token !== b.token;
}
