import { ChunkSizer, RateLimiter } from '../../../src/pipeline/backfill/pacing';
import { decodeCursor, encodeCursor, initialRanges } from '../../../src/pipeline/backfill/cursor';
import { rateAndEta } from '../../../src/pipeline/backfill/progress';

test('chunk size converges towards the target time, at most ×2 per step, within bounds', () => {
  const s = new ChunkSizer({ initial: 1000, min: 100, max: 5000, targetMs: 500 });
  s.observe(1000, 100); // 5× too fast: doubles only
  expect(s.next).toBe(2000);
  s.observe(2000, 250);
  expect(s.next).toBe(4000);
  s.observe(4000, 250);
  expect(s.next).toBe(5000); // capped
  s.observe(5000, 5000); // 10× too slow: halves only
  expect(s.next).toBe(2500);
  s.observe(10, 5000); // a short (end-of-range) chunk says nothing
  expect(s.next).toBe(2500);
});

test('rate limiter pays bursts back over the whole run', () => {
  const r = new RateLimiter(100, 0);
  expect(r.take(50, 0)).toBe(500);
  expect(r.take(50, 1000)).toBe(0);
  expect(new RateLimiter(undefined, 0).take(1e6, 0)).toBe(0);
});

test('cursor round-trips, names its table and splits the key space', () => {
  const ranges = initialRanges([[10], [20]]);
  expect(ranges).toEqual([
    { after: null, through: [10], done: false },
    { after: [10], through: [20], done: false },
    { after: [20], through: null, done: false },
  ]);
  const text = encodeCursor({ v: 1, table: 'db.t', ranges });
  expect(decodeCursor(text, 'db.t').ranges).toEqual(ranges);
  expect(() => decodeCursor(text, 'db.u')).toThrow(/written for db.t/);
  expect(() => decodeCursor('nope', 'db.t')).toThrow(/not JSON/);
});

test('rate and ETA', () => {
  expect(rateAndEta(1000, 2000, 1000, 3000)).toEqual({ rowsPerSecond: 500, etaSeconds: 4 });
  expect(rateAndEta(0, 0, 0, 10).etaSeconds).toBeNull();
});
