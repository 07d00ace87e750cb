/**
 * The demo's migration plan: the four demo tables, every gate automatic, soaks of seconds instead of minutes, and the
 * glue to start it on Temporal and read each table's status for ./monitor.ts.
 *
 * The plan needs the migration activities registered by src/workers/activities.ts; `missingActivities` tells which
 * are not there yet, so the demo can refuse to start a plan that cannot run instead of hanging on it.
 */
import type { Client } from '@temporalio/client';
import type { Kafka } from 'kafkajs';
import * as path from 'node:path';
import { MIGRATION_ACTIVITY_NAMES } from '../../src/shared/activity-contract';
import { statusQuery, type MigrationStatus } from '../../src/shared/messages';
import { CONFIG_DEFAULTS, type MigrationPlanConfig, type TableMigrationConfig } from '../../src/shared/migration-config';
import { migrationWorkflowId, planWorkflowId } from '../../src/shared/task-queues';
import { migrationPlanWorkflow } from '../../src/workflows/migration-plan';
import { DEMO_TABLES, type DemoTable } from './schema';
import type { StatusSource } from './monitor';

/** The knobs of the demo plan. */
export interface DemoPlanOptions {
  readonly database: string;
  readonly runId: string;
  /** Seconds each read step, shadow writes and the flip are held before the automatic gate (default 5). */
  readonly soakS?: number;
  readonly partitions?: number;
  readonly concurrency?: number;
  /** The mapping file (default scripts/demo/mapping.yaml, whose sources are in cutover_demo). */
  readonly mappingFile?: string;
  /** The tables to migrate (default all four). */
  readonly tables?: readonly DemoTable[];
}

/** The plan for the demo tables. Topics and consumer groups are per run, so runs never share a stream. */
export function demoPlanConfig(o: DemoPlanOptions): MigrationPlanConfig {
  const soakMs = (o.soakS ?? 5) * 1000;
  const table = (name: string): TableMigrationConfig => ({
    ...CONFIG_DEFAULTS,
    source: { database: o.database, table: name },
    mappingFile: o.mappingFile ?? path.join(__dirname, 'mapping.yaml'),
    cdc: { source: 'builtin', topic: `cutover.${o.runId}.${o.database}.${name}`, partitions: o.partitions ?? 4 },
    createTarget: true,
    etl: { ...CONFIG_DEFAULTS.etl, runner: 'workflow', consumers: 1, group: `cutover-etl.${o.runId}.${o.database}.${name}` },
    backfill: { ...CONFIG_DEFAULTS.backfill, parallelism: 2 },
    verify: { ...CONFIG_DEFAULTS.verify },
    readLadder: [10, 50, 100],
    soak: { readStepMs: soakMs, shadowWritesMs: soakMs, flipWritesMs: soakMs },
    gates: { reads: 'auto', readSteps: 'auto', shadowWrites: 'auto', flipWrites: 'auto', dynamoOnly: 'auto' },
    // A shadow read races the live writes (the two stores are read a moment apart), so under the demo's write rate
    // shadow-read mismatches are expected and must not hold a gate; every other threshold stays at zero.
    thresholds: { ...CONFIG_DEFAULTS.thresholds, maxShadowReadMismatches: 1_000_000, maxShadowReadMismatchRate: 1 },
    shadowReadFraction: 0.1,
    fenceTimeoutMs: 20_000,
    barrierTimeoutMs: 30_000,
    monitorIntervalMs: 1_000,
    drainQuietMs: 3_000,
    sliceMs: 30_000,
  });
  const tables = o.tables ?? DEMO_TABLES;
  return { name: `demo-${o.runId}`, concurrency: o.concurrency ?? tables.length, tables: tables.map(table) };
}

/** Activity names of the migration contract that `activities` lacks (empty when the plan can run). */
export function missingActivities(activities: Readonly<Record<string, unknown>>): string[] {
  return MIGRATION_ACTIVITY_NAMES.filter((n) => typeof activities[n] !== 'function');
}

/** Starts the plan workflow on `taskQueue`; returns its workflow id. */
export async function startDemoPlan(client: Client, plan: MigrationPlanConfig, taskQueue: string): Promise<string> {
  const workflowId = planWorkflowId(plan.name);
  await client.workflow.start(migrationPlanWorkflow, { taskQueue, workflowId, args: [plan] });
  return workflowId;
}

/** Reads every table's `status` query; tables whose workflow has not started yet are left out. */
export function planStatusSource(client: Client, plan: MigrationPlanConfig): StatusSource {
  return async () => {
    const out: MigrationStatus[] = [];
    await Promise.all(plan.tables.map(async (t) => {
      try {
        out.push(await client.workflow.getHandle(migrationWorkflowId(t.source.database, t.source.table)).query(statusQuery));
      } catch {
        // not started yet, or busy: the next poll asks again
      }
    }));
    return out;
  };
}

/** Whether `name` is a topic or consumer group of some demo run over `database` (see `demoPlanConfig`). */
export function isDemoStream(name: string, database: string): boolean {
  return /^cutover(-etl)?\.d[0-9a-z]+\./.test(name) && name.includes(`.${database}.`);
}

/**
 * Deletes the topics (with their DLQs) and consumer groups that earlier demo runs over `database` left behind: a
 * completed migration keeps its topic (replayable), so without this every demo run would add four topics to the
 * broker. Returns what it deleted.
 */
export async function removePreviousStreams(kafka: Kafka, database: string): Promise<{ topics: string[]; groups: string[] }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => isDemoStream(t, database));
    if (topics.length) await admin.deleteTopics({ topics });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => isDemoStream(g, database));
    // A group whose last member stopped moments ago (kafkajs leaves by session expiry) is still "non-empty" for up
    // to a session timeout: retry those for a while, then leave them (a later run removes them); a group already
    // gone is fine. Any other error is real.
    let pending = groups;
    for (let attempt = 0; pending.length; attempt++) {
      try {
        await admin.deleteGroups(pending);
        pending = [];
      } catch (e) {
        const failed = (e as { groups?: { groupId: string; error?: { type?: string } }[] }).groups;
        if (!failed) throw e;
        const other = failed.filter((g) => g.error?.type !== 'NON_EMPTY_GROUP' && g.error?.type !== 'GROUP_ID_NOT_FOUND');
        if (other.length) throw e;
        pending = failed.filter((g) => g.error?.type === 'NON_EMPTY_GROUP').map((g) => g.groupId);
        if (pending.length && attempt >= 20) break;
        if (pending.length) await new Promise((r) => setTimeout(r, 2_000));
      }
    }
    return { topics, groups: groups.filter((g) => !pending.includes(g)) };
  } finally {
    await admin.disconnect();
  }
}
