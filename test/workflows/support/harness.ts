/** Shared pieces of the workflow tests: a config, a worker per test on a unique task queue, status polling. */
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { workflowBundle } from '../../../src/workers/bundle';
import { CONFIG_DEFAULTS, type TableMigrationConfig } from '../../../src/shared/migration-config';
import { statusQuery, type MigrationStatus } from '../../../src/shared/messages';
import { temporal } from '@temporalio/proto';
import { uniqueName } from '../../support/ids';
import { createTimeSkippingEnv } from '../../support/temporal-test-env';
import { FakeActivities } from './fake-activities';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

/** The time-skipping environment with cutover's search attributes registered (the dev server has them already). */
export async function createEnv(): Promise<TestWorkflowEnvironment> {
  const env = await createTimeSkippingEnv();
  const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  await env.connection.operatorService.addSearchAttributes({ namespace: 'default', searchAttributes: { CutoverPhase: KEYWORD, CutoverTable: KEYWORD } });
  return env;
}

/** A config with every gate automatic and short soaks; `patch` overrides. */
export function testConfig(table: string, patch: Partial<Mutable<TableMigrationConfig>> = {}): TableMigrationConfig {
  return {
    ...CONFIG_DEFAULTS,
    source: { database: 'shop', table },
    mappingFile: '/mappings/x.yaml',
    cdc: { source: 'builtin', topic: `cdc.${table}`, partitions: 3 },
    etl: { group: `etl.${table}`, runner: 'external', consumers: 1 },
    backfill: { parallelism: 1, targetChunkMs: 500 },
    verify: { mode: 'full', repairAttempts: 1 },
    readLadder: [1, 10, 50, 100],
    soak: { readStepMs: 10_000, shadowWritesMs: 10_000, flipWritesMs: 10_000 },
    gates: { reads: 'auto', readSteps: 'auto', shadowWrites: 'auto', flipWrites: 'auto', dynamoOnly: 'auto' },
    thresholds: { ...CONFIG_DEFAULTS.thresholds },
    sliceMs: 60_000,
    monitorIntervalMs: 60_000,
    ...patch,
  } as TableMigrationConfig;
}

/** A worker on a fresh task queue serving `fake`'s activities. */
export async function makeWorker(env: TestWorkflowEnvironment, fake: FakeActivities): Promise<{ worker: Worker; taskQueue: string }> {
  const taskQueue = uniqueName('wf-test');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: fake.activities(),
    maxHeartbeatThrottleInterval: '50 milliseconds',
    defaultHeartbeatThrottleInterval: '50 milliseconds',
  });
  return { worker, taskQueue };
}

/** Polls the status (advancing test time by `stepMs` between polls) until `pred` holds. */
export async function waitForStatus(
  env: TestWorkflowEnvironment,
  handle: WorkflowHandle,
  pred: (s: MigrationStatus) => boolean,
  what: string,
  stepMs = 2_000,
  maxPolls = 400,
  fake?: FakeActivities,
): Promise<MigrationStatus> {
  let last: MigrationStatus | undefined;
  for (let i = 0; i < maxPolls; i++) {
    last = await handle.query(statusQuery);
    if (pred(last)) return last;
    // while an activity runs, test time cannot skip: wait a little real time instead
    if (fake && fake.busy > 0) await new Promise((r) => setTimeout(r, 50));
    else await env.sleep(stepMs);
  }
  throw new Error(`timed out waiting for ${what}; last status: phase ${last?.phase}, awaiting ${JSON.stringify(last?.awaiting)}, reads ${last?.readPercent}, writes ${last?.writeMode}, etl ${last?.etlProblem}`);
}

export { FakeActivities };
