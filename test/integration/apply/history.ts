/**
 * Test support for the apply property test: random source histories, their CDC logs per Kafka partition, and a
 * delivery simulator (batches, cross-partition interleaving, rewinds = replays after a crash, duplicates, late
 * backfill loads, primary-key-change redirects appended to the old key's partition).
 */
import fc from 'fast-check';
import { changeVersion, loadVersion } from '../../../src/pipeline/version';
import type { CdcEvent, Row } from '../../../src/pipeline/types';

export const KEYS = 6;
export const PARTITIONS = 3;

export type Op =
  | { kind: 'insert' | 'update'; id: number; s: string; n: bigint }
  | { kind: 'delete'; id: number }
  | { kind: 'pk'; id: number; to: number }
  | { kind: 'load'; id: number; delay: number }
  | { kind: 'dup'; partition: number; count: number };

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom('insert' as const, 'update' as const), id: fc.integer({ min: 1, max: KEYS }), s: fc.string({ maxLength: 4 }), n: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }) }),
  fc.record({ kind: fc.constantFrom('insert' as const, 'update' as const), id: fc.integer({ min: 1, max: KEYS }), s: fc.string({ maxLength: 4 }), n: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }) }),
  fc.record({ kind: fc.constant('delete' as const), id: fc.integer({ min: 1, max: KEYS }) }),
  fc.record({ kind: fc.constant('pk' as const), id: fc.integer({ min: 1, max: KEYS }), to: fc.integer({ min: 1, max: KEYS }) }),
  fc.record({ kind: fc.constant('load' as const), id: fc.integer({ min: 1, max: KEYS }), delay: fc.integer({ min: 0, max: 12 }) }),
  fc.record({ kind: fc.constant('load' as const), id: fc.integer({ min: 1, max: KEYS }), delay: fc.integer({ min: 0, max: 12 }) }),
  fc.record({ kind: fc.constant('dup' as const), partition: fc.integer({ min: 0, max: PARTITIONS - 1 }), count: fc.integer({ min: 1, max: 4 }) }),
);

/** One consumer step: take up to `size` events of `partition`; then maybe rewind (crash + replay from earlier). */
export interface Step {
  partition: number;
  size: number;
  rewind: number;
}
export const stepArb: fc.Arbitrary<Step> = fc.record({
  partition: fc.integer({ min: 0, max: PARTITIONS - 1 }),
  size: fc.integer({ min: 1, max: 8 }),
  rewind: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 10 })),
});

export const partitionOf = (id: number | string): number => Number(id) % PARTITIONS;

/** The source's final rows and each partition's log, from `ops` interpreted against the source (invalid ops skip). */
export function buildHistory(schema: string, table: string, ops: readonly Op[]): { rows: Map<number, Row>; logs: CdcEvent[][] } {
  const rows = new Map<number, Row>();
  const logs: CdcEvent[][] = Array.from({ length: PARTITIONS }, () => []);
  const pendingLoads: { at: number; partition: number; event: CdcEvent }[] = [];
  let seq = 100n;
  let step = 0;
  const ev = (operation: CdcEvent['operation'], data: Row, version: string, before?: Row): CdcEvent => ({ operation, schema, table, data, version, ...(before ? { before } : {}) });
  for (const op of ops) {
    step++;
    for (const l of pendingLoads.filter((p) => p.at === step)) logs[l.partition].push(l.event);
    switch (op.kind) {
      case 'insert':
      case 'update': {
        // insert when absent, update when present (so every write op produces an event)
        const before = rows.get(op.id);
        seq++;
        const row: Row = { id: op.id, s: op.s, n: op.n.toString() };
        rows.set(op.id, row);
        logs[partitionOf(op.id)].push(ev(before ? 'update' : 'insert', row, changeVersion(seq, 0), before));
        break;
      }
      case 'delete': {
        const row = rows.get(op.id);
        if (!row) break;
        seq++;
        rows.delete(op.id);
        logs[partitionOf(op.id)].push(ev('delete', row, changeVersion(seq, 0)));
        break;
      }
      case 'pk': {
        const row = rows.get(op.id);
        if (!row || rows.has(op.to)) break;
        seq++;
        const moved: Row = { ...row, id: op.to };
        rows.delete(op.id);
        rows.set(op.to, moved);
        logs[partitionOf(op.to)].push(ev('update', moved, changeVersion(seq, 0), row));
        break;
      }
      case 'load': {
        const row = rows.get(op.id);
        if (!row) break; // the backfill reads only rows that exist in its snapshot
        pendingLoads.push({ at: step + op.delay, partition: partitionOf(op.id), event: ev('load', row, loadVersion(seq)) });
        break;
      }
      case 'dup': {
        const log = logs[op.partition];
        log.push(...log.slice(Math.max(0, log.length - op.count))); // at-least-once producer: a suffix published twice
        break;
      }
    }
  }
  for (const l of pendingLoads.filter((p) => p.at > step)) logs[l.partition].push(l.event);
  return { rows, logs };
}

/**
 * Delivers `logs` through `apply` following `steps`, then drains every partition. `apply(partition, events)` returns
 * redirects (old-key deletes), which are appended to the old key's partition log, as the consumer publishes them.
 * `onRewind(partition)` is called when a consumer "crashes" and the partition is re-read from an earlier offset.
 */
export async function deliver(
  logs: CdcEvent[][],
  steps: readonly Step[],
  apply: (partition: number, events: CdcEvent[]) => Promise<readonly CdcEvent[]>,
  onRewind: (partition: number) => void,
): Promise<void> {
  const pos = logs.map(() => 0);
  const run = async (p: number, size: number) => {
    const batch = logs[p].slice(pos[p], pos[p] + size);
    if (!batch.length) return;
    pos[p] += batch.length;
    for (const r of await apply(p, batch)) logs[partitionOf(r.data.id as number)].push(r);
  };
  for (const s of steps) {
    await run(s.partition, s.size);
    if (s.rewind) {
      pos[s.partition] = Math.max(0, pos[s.partition] - s.rewind);
      onRewind(s.partition);
    }
  }
  for (let progress = true; progress; ) {
    progress = false;
    for (let p = 0; p < logs.length; p++) {
      if (pos[p] < logs[p].length) {
        progress = true;
        await run(p, 5);
      }
    }
  }
}
