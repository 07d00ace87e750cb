/**
 * CUTOVER_CDC_LEASE_TTL_MS: the lease of the CDC readers a worker hosts (how soon a killed worker's CDC task is taken
 * over; see docs/reliability.md, "Known limits"). Pure: no service is touched.
 */
import { CDC_LEASE_TTL_BOUNDS_MS, cdcLeaseTtlFromEnv, workerSettings } from '../../src/workers/activities';
import { ConfigError } from '../../src/shared/errors';

const saved = process.env.CUTOVER_CDC_LEASE_TTL_MS;
afterEach(() => {
  if (saved === undefined) delete process.env.CUTOVER_CDC_LEASE_TTL_MS;
  else process.env.CUTOVER_CDC_LEASE_TTL_MS = saved;
});

test('unset or empty: the 30 s default', () => {
  expect(cdcLeaseTtlFromEnv(undefined)).toBe(30_000);
  expect(cdcLeaseTtlFromEnv('  ')).toBe(30_000);
  expect(CDC_LEASE_TTL_BOUNDS_MS.default).toBe(30_000);
});

test('a whole number of ms within the bounds is taken, and reaches the worker settings', () => {
  expect(cdcLeaseTtlFromEnv('10000')).toBe(10_000);
  expect(cdcLeaseTtlFromEnv('5000')).toBe(5_000);
  process.env.CUTOVER_CDC_LEASE_TTL_MS = '12000';
  expect(workerSettings().cdcLeaseTtlMs).toBe(12_000);
  expect(workerSettings({ cdcLeaseTtlMs: 7_000 }).cdcLeaseTtlMs).toBe(7_000); // an explicit override wins
});

test.each(['4999', '600001', '10s', '1e9', '7500.5', '-1'])('%s fails fast, naming the setting but not the value', (raw) => {
  let err: unknown;
  try {
    cdcLeaseTtlFromEnv(raw);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as Error).message).toMatch(/^CUTOVER_CDC_LEASE_TTL_MS: must be a whole number of milliseconds from 5000 to 600000$/);
});

test('a bad value stops the worker settings from being built', () => {
  process.env.CUTOVER_CDC_LEASE_TTL_MS = 'soon';
  expect(() => workerSettings()).toThrow(ConfigError);
});
