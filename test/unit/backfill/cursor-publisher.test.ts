/**
 * CursorPublisher (src/pipeline/cursor-store.ts) over an in-memory claim: saves coalesce to the newest cursor, a
 * failed save is retried (with the newest cursor offered meanwhile) instead of silencing every later save of the
 * attempt, a fenced save is final at once, and a save failing past the retries is rethrown by refOf.
 */
import { CursorFencedError, CursorPublisher, type CursorClaim, type CursorCounters } from '../../../src/pipeline/cursor-store';

/** A claim whose saves fail while `failures` holds errors (one per save), recording what landed. */
function memoryClaim(failures: Error[] = []): CursorClaim & { landed: string[] } {
  let generation = 0;
  const landed: string[] = [];
  return {
    cursor: null,
    counters: null,
    landed,
    async save(cursor: string, _counters: CursorCounters): Promise<string> {
      await Promise.resolve();
      const e = failures.shift();
      if (e) throw e;
      landed.push(cursor);
      generation += 1;
      return `cursor-ref:v1:backfill:${generation}`;
    },
  };
}

test('offers coalesce to the newest cursor and refs arrive in order', async () => {
  const claim = memoryClaim();
  const p = new CursorPublisher(claim, [0]);
  const refs: string[] = [];
  for (const c of ['a', 'b', 'c']) p.offer(c, { rowsCopied: 1 }, (r) => refs.push(r));
  expect(await p.refOf('c', { rowsCopied: 1 })).toBe('cursor-ref:v1:backfill:2');
  expect(claim.landed).toEqual(['a', 'c']); // 'b' was superseded while 'a' was saving
  expect(refs).toEqual(['cursor-ref:v1:backfill:1', 'cursor-ref:v1:backfill:2']);
});

test('a failed save is retried with the newest cursor; later saves keep landing', async () => {
  const claim = memoryClaim([new Error('connection lost'), new Error('lock wait timeout')]);
  const p = new CursorPublisher(claim, [5, 5]);
  const refs: string[] = [];
  p.offer('a', { rowsCopied: 1 }, (r) => refs.push(`a ${r}`));
  await new Promise((r) => setTimeout(r, 1));
  p.offer('b', { rowsCopied: 2 }, (r) => refs.push(`b ${r}`)); // offered while 'a' waits for its retry
  await p.refOf(null, {});
  expect(claim.landed).toEqual(['b']);
  expect(refs).toEqual(['b cursor-ref:v1:backfill:1']);
  p.offer('c', { rowsCopied: 3 }, (r) => refs.push(`c ${r}`));
  expect(await p.refOf('d', { rowsCopied: 4 })).toBe('cursor-ref:v1:backfill:3');
  expect(claim.landed).toEqual(['b', 'c', 'd']);
});

test('a fenced save is final at once; a save failing past the retries is rethrown', async () => {
  const fenced = memoryClaim([new CursorFencedError('m', 'backfill', 1)]);
  const p = new CursorPublisher(fenced, [5, 5]);
  p.offer('a', { rowsCopied: 1 }, () => undefined);
  await expect(p.refOf('a', { rowsCopied: 1 })).rejects.toBeInstanceOf(CursorFencedError);
  p.offer('b', { rowsCopied: 2 }, () => undefined); // ignored after the failure
  expect(fenced.landed).toEqual([]);

  const broken = memoryClaim([new Error('x'), new Error('y'), new Error('z')]);
  const q = new CursorPublisher(broken, [1, 1]);
  await expect(q.refOf('a', { rowsCopied: 1 })).rejects.toThrow('z');
  expect(broken.landed).toEqual([]);
});
