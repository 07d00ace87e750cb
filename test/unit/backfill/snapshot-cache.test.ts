/**
 * SnapshotSeqCache hands out a remembered snapshot's seq only to snapshots at or after its binlog position (so the
 * seq is a lower bound of theirs) and only while the entry is younger than its age limit. The claim itself against
 * concurrent commits on the real server: test/integration/backfill/snapshot.test.ts.
 */
import { SnapshotSeqCache } from '../../../src/pipeline/backfill/snapshot';

describe('SnapshotSeqCache', () => {
  let now = 0;
  const cache = () => new SnapshotSeqCache(1_000, () => now);

  it('answers later positions of the same file and any position of a later file, never earlier ones', () => {
    now = 0;
    const c = cache();
    expect(c.lowerBound('binlog.000007', 500)).toBeUndefined();
    c.remember('binlog.000007', 500, '0-1-42', '42');
    expect(c.lowerBound('binlog.000007', 500)).toEqual({ gtidState: '0-1-42', seq: '42' });
    expect(c.lowerBound('binlog.000007', 9_000)).toEqual({ gtidState: '0-1-42', seq: '42' });
    expect(c.lowerBound('binlog.000008', 4)).toEqual({ gtidState: '0-1-42', seq: '42' });
    expect(c.lowerBound('binlog.000007', 499)).toBeUndefined();
    expect(c.lowerBound('binlog.000006', 90_000)).toBeUndefined();
    expect(c.lowerBound('binlog.000010', 4)).toEqual({ gtidState: '0-1-42', seq: '42' }); // 10 > 7 numerically
  });

  it('forgets the entry once it is older than the age limit, and keeps the newest remembered one', () => {
    now = 0;
    const c = cache();
    c.remember('binlog.000001', 100, '0-1-5', '5');
    now = 1_000;
    expect(c.lowerBound('binlog.000001', 200)?.seq).toBe('5');
    now = 1_001;
    expect(c.lowerBound('binlog.000001', 200)).toBeUndefined();
    c.remember('binlog.000001', 300, '0-1-9', '9');
    expect(c.lowerBound('binlog.000001', 200)).toBeUndefined();
    expect(c.lowerBound('binlog.000001', 300)?.seq).toBe('9');
  });
});
