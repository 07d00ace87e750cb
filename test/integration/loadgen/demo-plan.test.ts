/** The demo plan: every demo table, automatic gates, short soaks, per-run topics, and the activity readiness check. */
import * as fs from 'node:fs';
import { MIGRATION_ACTIVITY_NAMES } from '../../../src/shared/activity-contract';
import { demoPlanConfig, isDemoStream, missingActivities } from '../../../scripts/demo/plan';

it('migrates the four demo tables with automatic gates and per-run streams', () => {
  const plan = demoPlanConfig({ database: 'cutover_demo', runId: 'r1', soakS: 2 });
  expect(plan.tables.map((t) => t.source.table)).toEqual(['users', 'orders', 'order_items', 'attachments']);
  for (const t of plan.tables) {
    expect(fs.existsSync(t.mappingFile)).toBe(true);
    expect(Object.values(t.gates)).toEqual(['auto', 'auto', 'auto', 'auto', 'auto']);
    expect(t.soak).toEqual({ readStepMs: 2000, shadowWritesMs: 2000, flipWritesMs: 2000 });
    expect(t.readLadder[t.readLadder.length - 1]).toBe(100);
  }
  expect(new Set(plan.tables.map((t) => t.cdc.topic)).size).toBe(4);
  expect(demoPlanConfig({ database: 'cutover_demo', runId: 'r2' }).tables[0].cdc.topic).not.toBe(plan.tables[0].cdc.topic);
});

it('names the migration activities a worker lacks', () => {
  expect(missingActivities({})).toEqual([...MIGRATION_ACTIVITY_NAMES]);
  const all = Object.fromEntries(MIGRATION_ACTIVITY_NAMES.map((n) => [n, async () => undefined]));
  expect(missingActivities(all)).toEqual([]);
});

it('recognises the topics and consumer groups of its own database only', () => {
  const t = demoPlanConfig({ database: 'cutover_demo', runId: 'dabc123' }).tables[0];
  expect(isDemoStream(t.cdc.topic, 'cutover_demo')).toBe(true);
  expect(isDemoStream(`${t.cdc.topic}.dlq`, 'cutover_demo')).toBe(true);
  expect(isDemoStream(t.etl.group, 'cutover_demo')).toBe(true);
  expect(isDemoStream(t.cdc.topic, 'other_db')).toBe(false);
  expect(isDemoStream('cutover.orders.cdc', 'cutover_demo')).toBe(false);
});
