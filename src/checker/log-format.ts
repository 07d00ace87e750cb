/**
 * The operation log: what every application instance records about every request it makes, and the only thing the
 * checker knows about the history. JSON Lines, one file per application instance, one object per line.
 *
 * Invariants the writer (src/loadgen/op-log.ts) keeps and the checker relies on:
 *  - `start`/`end` are milliseconds since the Unix epoch with fractions, all from one clock
 *    (performance.timeOrigin + performance.now()), so intervals of different instances in one process compare exactly.
 *  - A write is logged twice: an `invoke` line *before* the request is sent, and a `complete` line after the answer.
 *    A write with an invoke and no complete (the instance died) is indeterminate: it may take effect at any time
 *    after its start. Reads are logged once, at completion.
 *  - `value` of an insert/update is the full row the application wrote, in the canonical encoding of
 *    src/pipeline/types.ts, including a column (the token column, e.g. `rev`) whose value is unique per write in the
 *    whole run, so the final state names the write that produced it. Server-generated columns are left out.
 *  - `result: 'ok'` means acknowledged; `applied: false` on an ok write means the store reported no effect (insert of
 *    an existing key, update or delete of an absent one). `result: 'failed'` means indeterminate: it may or may not
 *    have taken effect.
 */
import { z } from 'zod';

/** One canonical column value (see src/pipeline/types.ts; restated here so the checker imports no pipeline code). */
export type LogValue = string | number | null | { readonly $b64: string };
/** A row, or a primary key, in the canonical encoding. */
export type LogRow = Readonly<Record<string, LogValue>>;

/** The four request kinds the load generator issues. */
export type OpKind = 'read' | 'insert' | 'update' | 'delete';

const value = z.union([z.string(), z.number(), z.null(), z.object({ $b64: z.string() }).strict()]);
const row = z.record(z.string(), value);

const common = {
  v: z.literal(1),
  instance: z.string().min(1),
  op: z.number().int().nonnegative(),
  kind: z.enum(['read', 'insert', 'update', 'delete']),
  table: z.string().min(1),
  key: row,
  start: z.number().finite(),
};

/** Written before a write request is sent. */
export const invokeRecordSchema = z.object({ ...common, phase: z.literal('invoke'), value: row.optional() }).strict();

/** Written when the answer (or the error) arrived. */
export const completeRecordSchema = z
  .object({
    ...common,
    phase: z.literal('complete'),
    end: z.number().finite(),
    result: z.enum(['ok', 'failed']),
    /** Writes only: false when the store acknowledged the request but it changed nothing. */
    applied: z.boolean().optional(),
    /** Insert/update: the row written. Read: the row read, or null when the key was absent. */
    value: row.nullable().optional(),
    error: z.object({ name: z.string(), message: z.string() }).optional(),
  })
  .strict();

/** Any log line (invoke or complete), validated. */
export const opRecordSchema = z.discriminatedUnion('phase', [invokeRecordSchema, completeRecordSchema]);

/** A write about to be sent. */
export type InvokeRecord = z.infer<typeof invokeRecordSchema>;
/** A request answered (or failed). */
export type CompleteRecord = z.infer<typeof completeRecordSchema>;
/** Any log line. */
export type OpRecord = z.infer<typeof opRecordSchema>;

/** The high-resolution clock every log line uses: epoch milliseconds with fractions. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** A stable string for a primary key: columns sorted by name, so `{a,b}` and `{b,a}` are the same key. */
export function keyString(key: LogRow): string {
  return JSON.stringify(Object.keys(key).sort().map((k) => [k, key[k]]));
}
