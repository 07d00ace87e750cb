/** The checker's verdicts on hand-built histories: it must fail on a dropped write and a resurrected delete. */
import { buildHistories, type SourcedRecord } from '../../../src/checker/history';
import { judgeState, type ObservedState } from '../../../src/checker/judge';
import type { KeyHistory } from '../../../src/checker/history';
import { keyString, type OpRecord } from '../../../src/checker/log-format';

const KEY = { id: '1' };
let opSeq = 0;

type W = { kind: 'insert' | 'update' | 'delete'; start: number; end?: number; result?: 'ok' | 'failed' | 'none'; applied?: boolean; token?: string };

/** Log lines for one write: invoke always, complete unless result is 'none' (the instance died). */
function write(w: W): SourcedRecord[] {
  const op = ++opSeq;
  const value = w.kind === 'delete' ? undefined : { id: '1', name: `n-${w.token}`, rev: w.token! };
  const base = { v: 1 as const, instance: 'app-1', op, kind: w.kind, table: 't', key: KEY, start: w.start };
  const out: OpRecord[] = [{ ...base, phase: 'invoke', value }];
  if (w.result !== 'none') {
    out.push({ ...base, phase: 'complete', end: w.end ?? w.start + 1, result: w.result ?? 'ok', applied: w.applied, value, error: w.result === 'failed' ? { name: 'Error', message: 'timeout' } : undefined });
  }
  return out.map((record, i) => ({ record, file: 'mem', line: op * 2 + i }));
}

function history(ws: W[]): KeyHistory {
  const { tables } = buildHistories(ws.flatMap(write), () => 'rev');
  return tables.get('t')!.get(keyString(KEY))!;
}

const row = (token: string): ObservedState => ({ present: true, token, row: { id: '1', name: `n-${token}`, rev: token } });
const absent: ObservedState = { present: false };
const kinds = (h: KeyHistory, s: ObservedState, initial: 'unknown' | 'absent' = 'absent') => judgeState(h, s, 'mysql', { initial }).map((v) => v.kind);

describe('judgeState', () => {
  it('passes the last of sequential acknowledged writes', () => {
    const h = history([{ kind: 'insert', start: 0, end: 1, token: 'a' }, { kind: 'update', start: 2, end: 3, token: 'b' }]);
    expect(kinds(h, row('b'))).toEqual([]);
  });

  it('fails on a deliberately dropped write (earlier value survives)', () => {
    const h = history([{ kind: 'insert', start: 0, end: 1, token: 'a' }, { kind: 'update', start: 2, end: 3, token: 'b' }]);
    const v = judgeState(h, row('a'), 'mysql', { initial: 'absent' });
    expect(v.map((x) => x.kind)).toEqual(['lost-write']);
    expect(v[0].contradicts?.map((w) => w.token)).toEqual(['b']);
    expect(v[0].producedBy?.token).toBe('a');
  });

  it('fails when an acknowledged insert vanished (row absent, no delete)', () => {
    const h = history([{ kind: 'insert', start: 0, end: 1, token: 'a' }]);
    expect(kinds(h, absent)).toEqual(['lost-write']);
  });

  it('fails on a resurrected delete', () => {
    const h = history([{ kind: 'insert', start: 0, end: 1, token: 'a' }, { kind: 'delete', start: 2, end: 3 }]);
    expect(kinds(h, row('a'))).toEqual(['resurrected-delete']);
    expect(kinds(h, absent)).toEqual([]);
  });

  it('allows either value of concurrent writes', () => {
    const h = history([{ kind: 'update', start: 0, end: 10, token: 'a' }, { kind: 'update', start: 5, end: 6, token: 'b' }]);
    expect(kinds(h, row('a'), 'unknown')).toEqual([]);
    expect(kinds(h, row('b'), 'unknown')).toEqual([]);
  });

  it('allows a delete concurrent with an insert to end either way', () => {
    const h = history([{ kind: 'insert', start: 0, end: 10, token: 'a' }, { kind: 'delete', start: 5, end: 6 }]);
    expect(kinds(h, row('a'))).toEqual([]);
    expect(kinds(h, absent)).toEqual([]);
  });

  it('allows a later insert after a delete, and rejects the delete winning over it', () => {
    const h = history([{ kind: 'insert', start: 0, end: 1, token: 'a' }, { kind: 'delete', start: 2, end: 3 }, { kind: 'insert', start: 4, end: 5, token: 'c' }]);
    expect(kinds(h, row('c'))).toEqual([]);
    expect(kinds(h, absent)).toEqual(['lost-write']);
    expect(kinds(h, row('a'))).toEqual(['resurrected-delete']);
  });

  it('treats a failed write as maybe applied, at any time after its start', () => {
    const h = history([{ kind: 'insert', start: 0, end: 1, token: 'a' }, { kind: 'update', start: 2, end: 3, token: 'b', result: 'failed' }, { kind: 'update', start: 4, end: 5, token: 'c' }]);
    expect(kinds(h, row('c'))).toEqual([]);
    expect(kinds(h, row('b'))).toEqual([]); // the timed-out write may have landed last
    expect(kinds(h, row('a'))).toEqual(['lost-write']); // but c was acknowledged after a ended
  });

  it('treats a failed write as maybe not applied', () => {
    const h = history([{ kind: 'insert', start: 0, end: 1, token: 'a' }, { kind: 'update', start: 2, end: 3, token: 'b', result: 'failed' }]);
    expect(kinds(h, row('a'))).toEqual([]);
    expect(kinds(h, row('b'))).toEqual([]);
  });

  it('treats a write with no completion (instance died) as indeterminate', () => {
    const h = history([{ kind: 'insert', start: 0, end: 1, token: 'a' }, { kind: 'delete', start: 2, result: 'none' }]);
    expect(kinds(h, row('a'))).toEqual([]);
    expect(kinds(h, absent)).toEqual([]);
  });

  it('ignores acknowledged no-op inserts but keeps no-op deletes as deletes', () => {
    const h = history([{ kind: 'insert', start: 0, end: 1, token: 'a' }, { kind: 'insert', start: 2, end: 3, token: 'x', applied: false }, { kind: 'delete', start: 4, end: 5, applied: false }]);
    expect(kinds(h, row('x'))).toEqual(['unknown-value']);
    expect(kinds(h, row('x'), 'unknown')).toEqual(['unknown-value']); // not mistaken for a seed value
    expect(kinds(h, row('a'))).toEqual(['resurrected-delete']);
  });

  it('flags a value no write produced, and a row whose columns differ from the write', () => {
    const h = history([{ kind: 'insert', start: 0, end: 1, token: 'a' }]);
    expect(kinds(h, row('zzz'), 'absent')).toEqual(['unknown-value']);
    const v = judgeState(h, { present: true, token: 'a', row: { id: '1', name: 'tampered', rev: 'a' } }, 'mysql', { initial: 'absent' });
    expect(v.map((x) => x.kind)).toEqual(['unknown-value']);
    expect(v[0].differingColumns).toEqual(['name']);
  });

  it('accepts an unlogged (seed) value only while no write was acknowledged', () => {
    expect(kinds(history([{ kind: 'update', start: 0, end: 1, token: 'a', result: 'failed' }]), row('seed'), 'unknown')).toEqual([]);
    expect(kinds(history([{ kind: 'update', start: 0, end: 1, token: 'a' }]), row('seed'), 'unknown')).toEqual(['lost-write']);
  });
});

describe('buildHistories', () => {
  it('rejects a complete line that does not match its invoke line', () => {
    const [inv, done] = write({ kind: 'update', start: 0, token: 'm' });
    const bad = { ...done, record: { ...done.record, key: { id: '2' } } };
    expect(() => buildHistories([inv, bad], () => 'rev')).toThrow(/does not match its invoke line/);
  });

  it('counts requests and rejects duplicate tokens', () => {
    const recs = [...write({ kind: 'insert', start: 0, token: 'dup' }), ...write({ kind: 'update', start: 2, token: 'dup' })];
    expect(() => buildHistories(recs, () => 'rev')).toThrow(/token "dup" written by both/);
    const ok = buildHistories([...write({ kind: 'insert', start: 0, token: 'p' }), ...write({ kind: 'update', start: 1, token: 'q', result: 'failed' }), ...write({ kind: 'delete', start: 2, result: 'none' })], () => 'rev');
    expect(ok.totals).toMatchObject({ ok: 1, failed: 1, unfinished: 1, acknowledgedWrites: 1 });
  });
});
