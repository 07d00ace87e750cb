/** The background writer: never throws into the caller, retries, counts outcomes, keeps failed keys, drains. */
import { BackgroundWriter } from '../../../src/routing/background';

it('retries, counts applied / superseded / failed per kind, and drains', async () => {
  const w = new BackgroundWriter({ attempts: 3, baseDelayMs: 1, concurrency: 2 });
  let flaky = 0;
  w.submit('shadowWrite', 'k1', async () => 'applied');
  w.submit('shadowWrite', 'k2', async () => 'superseded');
  w.submit('shadowWrite', 'k3', async () => {
    if (flaky++ < 2) throw new Error('transient');
    return 'applied';
  });
  w.submit('backgroundWrite', 'k4', async () => {
    throw new Error('MySQL is down');
  });
  expect(w.pending).toBe(4);
  await w.drain();
  expect(w.pending).toBe(0);
  expect(w.counters).toEqual({ shadowWrites: 2, shadowWriteSuperseded: 1, shadowWriteRetries: 2, backgroundWriteRetries: 2, backgroundWriteErrors: 1 });
  expect(w.failedKeys).toEqual([{ kind: 'backgroundWrite', key: 'k4', error: 'Error: MySQL is down' }]);
});

it('refuses work beyond maxPending as counted failures instead of growing without bound', async () => {
  const w = new BackgroundWriter({ maxPending: 1 });
  let release!: () => void;
  w.submit('backgroundWrite', 'a', () => new Promise((r) => (release = () => r('applied'))));
  w.submit('backgroundWrite', 'b', async () => 'applied');
  expect(w.counters.backgroundWriteErrors).toBe(1);
  expect(w.failedKeys[0]).toMatchObject({ key: 'b', error: 'Error: background queue full' });
  release();
  await w.drain();
  expect(w.counters.backgroundWrites).toBe(1);
});
