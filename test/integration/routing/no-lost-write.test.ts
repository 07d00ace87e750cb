/**
 * The no-lost-write proof with the test-only binlog relay as CDC (support/cdc-relay.ts): see support/scenario.ts for
 * the scenario. At the end the independent checker (src/checker) reads both stores and finds them equal and
 * consistent with every instance's log of acknowledged writes; no request failed, no background write failed.
 * (no-lost-write-e2e.test.ts runs the same scenario through the real CDC reader, Kafka and the ETL consumer.)
 */
import { TestCdcRelay } from './support/cdc-relay';
import { createFixture, type Fixture } from './support/fixture';
import { KV_DDL, KV_MAPPING, runTransitionScenario } from './support/scenario';

jest.setTimeout(90_000);

let fx: Fixture;
let relay: TestCdcRelay;

beforeAll(async () => {
  fx = await createFixture('rt_nlw', KV_DDL, KV_MAPPING);
  const { mapping, columns } = await fx.mapping('kv');
  relay = new TestCdcRelay(fx.pool, mapping, columns, fx.dynamo);
  await relay.start();
});

afterAll(async () => {
  await relay?.stop();
  await fx?.close();
});

it('keeps every acknowledged write across every mode transition, with both stores equal at the end', async () => {
  const { report, summary, transitions, fleet, failures } = await runTransitionScenario(fx, relay);
  if (process.env.ROUTING_TEST_DEBUG) console.log(JSON.stringify({ transitions, fleet, relay: { applied: relay.applied, skipped: relay.skipped }, byKind: summary.byKind }));
  expect(relay.error).toBeUndefined();
  expect(failures).toEqual([]);
  expect(summary.failed).toBe(0);
  expect(summary.byKind.update.ok + summary.byKind.insert.ok + summary.byKind.delete.ok).toBeGreaterThan(100);
  if (!report.passed) console.log(JSON.stringify({ transitions, keys: report.keys.slice(0, 5) }, null, 1));
  expect(report.keys).toEqual([]);
  expect(report.passed).toBe(true);
  expect(report.lostWrites).toBe(0);
  expect(report.keysChecked).toBe(16);
  expect(transitions).toHaveLength(12);
  // The fleet's heartbeated counters (retired instances keep theirs): nothing failed in the background.
  expect({ ...fleet, transitions }).toMatchObject({ instances: 3, liveInstances: 0, shadowWriteErrors: 0, backgroundWriteErrors: 0, fenceTimeouts: 0, pendingBackground: 0 });
  expect(fleet.readsCompared).toBeGreaterThan(0);
  expect(fleet.shadowWrites).toBeGreaterThan(0);
  expect(fleet.backgroundWrites).toBeGreaterThan(0);
});
