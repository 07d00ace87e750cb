/**
 * Turns operation-log records (./log-format.ts) into per-key write histories and request totals.
 *
 * Rules:
 *  - invoke and complete lines of one (instance, op) are merged; a write with no complete line, or with
 *    `result: 'failed'`, is *indeterminate*: it may take effect at any time after its start (end = +Infinity).
 *  - an acknowledged write with `applied: false` changed nothing and is dropped, except a delete: "the key was absent
 *    at that point" is exactly what a delete leaves behind, so it is kept as a delete.
 *  - tokens (the token column of every insert/update value) must be unique in the run; a duplicate is bad input.
 */
import { CheckerInputError } from './errors';
import { keyString, type CompleteRecord, type InvokeRecord, type LogRow, type OpRecord } from './log-format';

/** One write as the checker sees it. */
export interface WriteOp {
  readonly instance: string;
  readonly op: number;
  readonly kind: 'insert' | 'update' | 'delete';
  readonly start: number;
  /** +Infinity for an indeterminate write. */
  readonly end: number;
  /** ok: acknowledged and took effect (the store said so); indeterminate: may or may not have taken effect. */
  readonly status: 'ok' | 'indeterminate';
  /** insert/update: the row written. */
  readonly value?: LogRow;
  /** insert/update: value[tokenColumn]. */
  readonly token?: string;
}

/** One acknowledged read: what it saw. */
export interface ReadOp {
  readonly instance: string;
  readonly op: number;
  readonly start: number;
  readonly end: number;
  /** false: the key was absent. */
  readonly present: boolean;
  /** The token column of the row read (undefined when absent or when the row had none). */
  readonly token?: string;
}

/** Everything the logs say about one key: its writes (incl. indeterminate ones) and acknowledged reads. */
export interface KeyHistory {
  readonly table: string;
  readonly key: LogRow;
  readonly writes: WriteOp[];
  readonly reads: ReadOp[];
  /** Tokens of acknowledged inserts/updates the store reported as not applied: they must never be observed. */
  readonly notApplied: string[];
}

/** Request outcomes of one kind. */
export interface KindTotals {
  ok: number;
  failed: number;
  /** Writes with an invoke line and no complete line. */
  unfinished: number;
}

/** Request outcomes over all logs; `acknowledgedWrites` counts writes answered ok (applied or not). */
export interface RequestTotals {
  readonly byKind: Record<'read' | 'insert' | 'update' | 'delete', KindTotals>;
  ok: number;
  failed: number;
  unfinished: number;
  /** Writes acknowledged as ok (applied or not). */
  acknowledgedWrites: number;
}

/** A record with where it came from, for error messages. */
export interface SourcedRecord {
  readonly record: OpRecord;
  readonly file: string;
  readonly line: number;
}

/** Per-table, per-key histories and the request totals of a set of logs. */
export interface Histories {
  /** table → key string → history (keys that were written at least once, or read). */
  readonly tables: Map<string, Map<string, KeyHistory>>;
  readonly totals: RequestTotals;
}

/** Builds histories; `tokenColumn(table)` names the column that holds each write's unique token. */
export function buildHistories(records: Iterable<SourcedRecord>, tokenColumn: (table: string) => string): Histories {
  const invokes = new Map<string, SourcedRecord & { record: InvokeRecord }>();
  const completes = new Map<string, SourcedRecord & { record: CompleteRecord }>();
  for (const r of records) {
    const id = `${r.record.instance}\u0000${r.record.op}`;
    const target = r.record.phase === 'invoke' ? invokes : completes;
    if (target.has(id)) throw new CheckerInputError(`duplicate ${r.record.phase} line for op ${r.record.instance}#${r.record.op}`, r.file, r.line);
    (target as Map<string, SourcedRecord>).set(id, r);
  }
  const zero = (): KindTotals => ({ ok: 0, failed: 0, unfinished: 0 });
  const totals: RequestTotals = { byKind: { read: zero(), insert: zero(), update: zero(), delete: zero() }, ok: 0, failed: 0, unfinished: 0, acknowledgedWrites: 0 };
  const tables = new Map<string, Map<string, KeyHistory>>();
  const tokens = new Map<string, string>();

  const historyOf = (table: string, key: LogRow): KeyHistory => {
    let t = tables.get(table);
    if (!t) tables.set(table, (t = new Map()));
    const ks = keyString(key);
    let h = t.get(ks);
    if (!h) t.set(ks, (h = { table, key, writes: [], reads: [], notApplied: [] }));
    return h;
  };

  for (const [id, inv] of invokes) if (!completes.has(id)) addOp(inv, undefined);
  for (const [id, c] of completes) addOp(invokes.get(id), c);
  return { tables, totals };

  function addOp(inv: (SourcedRecord & { record: InvokeRecord }) | undefined, done: (SourcedRecord & { record: CompleteRecord }) | undefined): void {
    const rec = (done ?? inv)!.record;
    const where = done ?? inv!;
    if (inv && done && (inv.record.kind !== done.record.kind || inv.record.table !== done.record.table || keyString(inv.record.key) !== keyString(done.record.key) || inv.record.start !== done.record.start)) {
      throw new CheckerInputError(`complete line of op ${rec.instance}#${rec.op} does not match its invoke line (${inv.file}:${inv.line})`, done.file, done.line);
    }
    const kt = totals.byKind[rec.kind];
    const h = historyOf(rec.table, rec.key);
    const outcome: keyof KindTotals = !done ? 'unfinished' : done.record.result === 'ok' ? 'ok' : 'failed';
    if (rec.kind === 'read') {
      const o = outcome === 'ok' ? 'ok' : 'failed';
      kt[o]++;
      totals[o]++;
      if (o === 'ok' && done) {
        const seen = done.record.value ?? null;
        const t = seen?.[tokenColumn(rec.table)];
        h.reads.push({ instance: rec.instance, op: rec.op, start: rec.start, end: done.record.end, present: seen !== null, token: typeof t === 'string' ? t : undefined });
      }
      return;
    }
    kt[outcome]++;
    totals[outcome]++;
    if (outcome === 'ok') totals.acknowledgedWrites++;

    const ok = done?.record.result === 'ok';
    const value = rec.kind === 'delete' ? undefined : (done?.record.value ?? inv?.record.value ?? undefined);
    if (ok && done.record.applied === false && rec.kind !== 'delete') {
      const t = value?.[tokenColumn(rec.table)];
      if (typeof t === 'string') h.notApplied.push(t);
      return;
    }
    let token: string | undefined;
    if (value) {
      const col = tokenColumn(rec.table);
      const t = value[col];
      if (typeof t !== 'string' || t === '') throw new CheckerInputError(`${rec.kind} of ${rec.table} has no string token in column "${col}"`, where.file, where.line);
      const seen = tokens.get(t);
      const self = `${rec.instance}#${rec.op}`;
      if (seen !== undefined && seen !== self) throw new CheckerInputError(`token "${t}" written by both ${seen} and ${self}: tokens must be unique per write`, where.file, where.line);
      tokens.set(t, self);
      token = t;
    } else if (rec.kind !== 'delete' && ok) {
      throw new CheckerInputError(`acknowledged ${rec.kind} of ${rec.table} without the value written`, where.file, where.line);
    }
    h.writes.push({
      instance: rec.instance,
      op: rec.op,
      kind: rec.kind,
      start: rec.start,
      end: ok ? done.record.end : Number.POSITIVE_INFINITY,
      status: ok ? 'ok' : 'indeterminate',
      value: value ?? undefined,
      token,
    });
  }
}
