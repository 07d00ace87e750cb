/**
 * The final-state verdict against brute force: for random small histories, the states judgeState accepts are exactly
 * the last values of the valid orders (every acknowledged write, any subset of the failed ones, respecting real time).
 */
import fc from 'fast-check';
import { buildHistories, type SourcedRecord } from '../../../src/checker/history';
import { judgeState, type ObservedState } from '../../../src/checker/judge';
import { keyString, type OpRecord } from '../../../src/checker/log-format';

interface GenWrite {
  kind: 'insert' | 'update' | 'delete';
  start: number;
  length: number;
  failed: boolean;
}

const KEY = { id: '1' };
const ABSENT = '<absent>';

function records(ws: GenWrite[]): SourcedRecord[] {
  return ws.flatMap((w, i) => {
    const value = w.kind === 'delete' ? undefined : { id: '1', rev: `t${i}` };
    const base = { v: 1 as const, instance: 'a', op: i, kind: w.kind, table: 't', key: KEY, start: w.start };
    const lines: OpRecord[] = [
      { ...base, phase: 'invoke', value },
      { ...base, phase: 'complete', end: w.start + w.length, result: w.failed ? 'failed' : 'ok', applied: true, value },
    ];
    return lines.map((record, j) => ({ record, file: 'gen', line: i * 2 + j }));
  });
}

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

/** Every final state some valid order allows, by enumeration; `initial` is what an empty order leaves. */
function bruteForce(ws: GenWrite[], initial = ABSENT): Set<string> {
  const finals = new Set<string>();
  const failed = ws.map((w, i) => (w.failed ? i : -1)).filter((i) => i >= 0);
  for (let mask = 0; mask < 1 << failed.length; mask++) {
    const applied = ws.map((_, i) => i).filter((i) => !ws[i].failed || (mask & (1 << failed.indexOf(i))) !== 0);
    for (const order of permutations(applied)) {
      const ok = order.every((b, bi) => order.slice(bi + 1).every((a) => ws[a].failed || !(ws[a].start + ws[a].length < ws[b].start)));
      if (!ok) continue;
      const last = order[order.length - 1];
      finals.add(last === undefined ? initial : ws[last].kind === 'delete' ? ABSENT : `t${last}`);
    }
  }
  return finals;
}

const write = fc.record({
  kind: fc.constantFrom('insert' as const, 'update' as const, 'delete' as const),
  start: fc.integer({ min: 0, max: 30 }),
  length: fc.integer({ min: 0, max: 12 }),
  failed: fc.boolean(),
});

function accepted(ws: GenWrite[], initial: 'absent' | 'unknown'): string[] {
  const h = buildHistories(records(ws), () => 'rev').tables.get('t')?.get(keyString(KEY)) ?? { table: 't', key: KEY, writes: [], reads: [], notApplied: [] };
  const states: Array<[string, ObservedState]> = [
    [ABSENT, { present: false }],
    ['seed', { present: true, token: 'seed', row: { id: '1', rev: 'seed' } }],
    ...ws.map((_w, i) => [`t${i}`, { present: true, token: `t${i}`, row: { id: '1', rev: `t${i}` } }] as [string, ObservedState]).filter((_, i) => ws[i].kind !== 'delete'),
  ];
  return states.filter(([, s]) => judgeState(h, s, 'mysql', { initial }).length === 0).map(([name]) => name).sort();
}

it('accepts exactly the final states that some valid order of the writes produces', () => {
  fc.assert(
    fc.property(fc.array(write, { minLength: 0, maxLength: 5 }), (ws) => {
      expect(accepted(ws, 'absent')).toEqual([...bruteForce(ws)].sort());
    }),
    { numRuns: 400, seed: 20261125 },
  );
});

it('with an unknown initial state, also accepts an unlogged (seed) value exactly when an empty order is valid', () => {
  fc.assert(
    fc.property(fc.array(write, { minLength: 0, maxLength: 5 }), (ws) => {
      expect(accepted(ws, 'unknown')).toEqual([...new Set([...bruteForce(ws), ...bruteForce(ws, 'seed')])].sort());
    }),
    { numRuns: 400, seed: 20261126 },
  );
});
