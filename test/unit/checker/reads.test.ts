/** Read verdicts: phantom reads are impossible values, stale reads saw a value already overwritten. */
import { buildHistories, type KeyHistory, type SourcedRecord } from '../../../src/checker/history';
import { keyString, type OpRecord } from '../../../src/checker/log-format';
import { judgeRead } from '../../../src/checker/reads';

const KEY = { id: '7' };

type Op =
  | { kind: 'insert' | 'update'; start: number; end: number; token: string; result?: 'ok' | 'failed' }
  | { kind: 'delete'; start: number; end: number }
  | { kind: 'read'; start: number; end: number; token: string | null };

function history(ops: Op[]): KeyHistory {
  const recs: SourcedRecord[] = [];
  ops.forEach((o, i) => {
    const base = { v: 1 as const, instance: 'app-1', op: i + 1, kind: o.kind, table: 't', key: KEY, start: o.start };
    const lines: OpRecord[] = [];
    if (o.kind === 'read') {
      lines.push({ ...base, phase: 'complete', end: o.end, result: 'ok', value: o.token === null ? null : { ...KEY, rev: o.token } });
    } else {
      const value = o.kind === 'delete' ? undefined : { ...KEY, rev: o.token };
      const result = o.kind === 'delete' ? 'ok' : (o.result ?? 'ok');
      lines.push({ ...base, phase: 'invoke', value }, { ...base, phase: 'complete', end: o.end, result, applied: true, value });
    }
    lines.forEach((record, j) => recs.push({ record, file: 'mem', line: i * 2 + j }));
  });
  return buildHistories(recs, () => 'rev').tables.get('t')!.get(keyString(KEY))!;
}

const verdicts = (ops: Op[], initial: 'unknown' | 'absent' = 'absent') => {
  const h = history(ops);
  return h.reads.map((r) => judgeRead(h, r, { initial }));
};

describe('judgeRead', () => {
  it('accepts reads of the latest value, of a concurrent write, and of absence before any write', () => {
    expect(verdicts([
      { kind: 'read', start: 0, end: 1, token: null },
      { kind: 'insert', start: 2, end: 3, token: 'a' },
      { kind: 'read', start: 4, end: 5, token: 'a' },
      { kind: 'update', start: 6, end: 10, token: 'b' },
      { kind: 'read', start: 7, end: 8, token: 'a' },
      { kind: 'read', start: 7.5, end: 8.5, token: 'b' },
    ])).toEqual(['ok', 'ok', 'ok', 'ok']);
  });

  it('calls a value from a write that had not started yet phantom, and an unlogged value phantom', () => {
    expect(verdicts([
      { kind: 'read', start: 0, end: 1, token: 'later' },
      { kind: 'insert', start: 2, end: 3, token: 'later' },
      { kind: 'read', start: 4, end: 5, token: 'never-written' },
    ])).toEqual(['phantom', 'phantom']);
  });

  it('calls a value overwritten before the read began stale, including a deleted row read back', () => {
    expect(verdicts([
      { kind: 'insert', start: 0, end: 1, token: 'a' },
      { kind: 'update', start: 2, end: 3, token: 'b' },
      { kind: 'read', start: 4, end: 5, token: 'a' },
      { kind: 'delete', start: 6, end: 7 },
      { kind: 'read', start: 8, end: 9, token: 'b' },
      { kind: 'read', start: 8, end: 9, token: null },
    ])).toEqual(['stale', 'stale', 'ok']);
  });

  it('lets a failed write explain a read, and an unlogged seed value until the first acknowledged write', () => {
    expect(verdicts([
      { kind: 'read', start: 0, end: 1, token: 'seed' },
      { kind: 'update', start: 2, end: 3, token: 'x', result: 'failed' },
      { kind: 'read', start: 4, end: 5, token: 'x' },
      { kind: 'update', start: 6, end: 7, token: 'y' },
      { kind: 'read', start: 8, end: 9, token: 'seed' },
    ], 'unknown')).toEqual(['ok', 'ok', 'stale']);
  });
});
