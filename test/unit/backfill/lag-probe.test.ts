/** PipelineLagProbe: which limit a reading exceeds, how a stopped ETL counts, and the value runBackfill compares. */
import { parseMigrationConfig } from '../../../src/cli/config';
import { CONFIG_DEFAULTS } from '../../../src/shared/migration-config';
import { ConfigError } from '../../../src/shared/errors';
import { cdcLagSecondsOf, LAG_LIMIT, PipelineLagProbe, type LagSources } from '../../../src/pipeline/backfill/lag-probe';

function sources(cdcLagSeconds: number | null, events: number, applyRate: number): LagSources {
  return { cdcLagSeconds: async () => cdcLagSeconds, etlBacklog: async () => ({ events, applyRate }) };
}

test('each limit alone holds the copy, and says which one', async () => {
  const limits = { maxLagMs: 10_000, maxLagMessages: 5_000 };
  const cases: [LagSources, RegExp | null][] = [
    [sources(0.2, 100, 1_000), null],
    [sources(12, 0, 0), /^CDC lag 12000 ms > maxLagMs 10000$/],
    [sources(0, 6_000, 10_000), /^ETL backlog 6000 events > maxLagMessages 5000$/],
    [sources(0, 4_000, 100), /^ETL lag 40000 ms \(4000 events at 100\/s\) > maxLagMs 10000$/],
  ];
  for (const [src, why] of cases) {
    const probe = new PipelineLagProbe(src, limits, 0);
    const r = await probe.read();
    if (why) expect(r.over).toMatch(why);
    else expect(r.over).toBeNull();
    const value = await probe.probe();
    expect(value > LAG_LIMIT).toBe(why !== null);
  }
});

test('a stopped ETL (no apply rate) has an unknown time lag; only the backlog limit applies to it', async () => {
  const probe = new PipelineLagProbe(sources(0, 4_000, 0), { maxLagMs: 1_000, maxLagMessages: 5_000 }, 0);
  expect(await probe.read()).toMatchObject({ etlLagMs: null, etlLagMessages: 4_000, over: null });
  expect(await probe.probe()).toBe(800); // 4000 / 5000 of the backlog limit
});

test('a limit of 0 is off; both off means the probe is not enabled', async () => {
  expect(new PipelineLagProbe(sources(999, 1e9, 1), { maxLagMs: 0, maxLagMessages: 0 }).enabled).toBe(false);
  const timeOnly = new PipelineLagProbe(sources(0, 1e9, 1e9), { maxLagMs: 5_000, maxLagMessages: 0 }, 0);
  expect((await timeOnly.read()).over).toBeNull(); // 1 s of ETL lag, the huge backlog is not limited
});

test('readings are cached for minIntervalMs and a failing measurement throws (never reads as no lag)', async () => {
  let calls = 0;
  const probe = new PipelineLagProbe({ cdcLagSeconds: async () => (calls += 1, 0), etlBacklog: async () => ({ events: 0, applyRate: 0 }) }, { maxLagMs: 1_000, maxLagMessages: 0 }, 60_000);
  await Promise.all([probe.probe(), probe.probe(), probe.probe()]);
  expect(calls).toBe(1);
  const failing = new PipelineLagProbe({ cdcLagSeconds: async () => 0, etlBacklog: async () => Promise.reject(new Error('broker down')) }, { maxLagMs: 1_000, maxLagMessages: 10 }, 0);
  await expect(failing.probe()).rejects.toThrow('broker down');
});

test('CDC lag: the reader\'s own while it holds the lease; growing from the last checkpoint once no live reader does', () => {
  const rec = { lagSeconds: 2, owner: 'w1', leaseUntilMs: 10_000, updatedAtMs: 5_000 };
  expect(cdcLagSecondsOf(rec, 9_000)).toBe(2);
  expect(cdcLagSecondsOf(rec, 45_000)).toBe(42); // lease expired at 10 s: 40 s since the last checkpoint + its 2 s
  expect(cdcLagSecondsOf({ ...rec, owner: null, leaseUntilMs: null }, 8_000)).toBe(5); // never claimed
});

describe('migration config: backfill.maxLag / maxLagMessages', () => {
  const yaml = (backfill: string): string => `tables:\n  - source: shop.orders\n    mapping: m.yaml\n    backfill: ${backfill}\n`;

  test('parsed (durations in ms), defaulted when absent', () => {
    expect(parseMigrationConfig(yaml('{ maxLag: 5s, maxLagMessages: 1000 }'), 'plan.yaml').tables[0].backfill).toMatchObject({ maxLagMs: 5_000, maxLagMessages: 1_000 });
    expect(parseMigrationConfig(yaml('{ parallelism: 2 }'), 'plan.yaml').tables[0].backfill).toMatchObject({ maxLagMs: CONFIG_DEFAULTS.backfill.maxLagMs, maxLagMessages: CONFIG_DEFAULTS.backfill.maxLagMessages });
  });

  test('a bad value is a ConfigError naming the file and the field', () => {
    for (const bad of ['{ maxLagMessages: -1 }', '{ maxLagMessages: 1.5 }', '{ maxLag: soon }']) {
      let err: unknown;
      try {
        parseMigrationConfig(yaml(bad), 'plan.yaml');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/plan\.yaml/);
      expect((err as Error).message).toMatch(/backfill\.maxLag/);
    }
  });
});
