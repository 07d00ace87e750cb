/**
 * Runs the demo's migration plan with an in-process worker while the caller's load runs: starts the worker and the
 * plan, watches it (./monitor.ts) until every table finished or `timeoutS` passed, then shuts the worker down.
 * Refuses to start when the worker's activities do not cover the migration contract (src/shared/activity-contract.ts).
 */
import { Worker } from '@temporalio/worker';
import { serviceEnv } from '../../src/infra/env';
import { createTemporalClient, createWorkerConnection } from '../../src/infra/temporal';
import { TASK_QUEUE } from '../../src/shared/task-queues';
import { buildActivities } from '../../src/workers/activities';
import { workflowBundle } from '../../src/workers/bundle';
import { MigrationMonitor } from './monitor';
import { demoPlanConfig, missingActivities, planStatusSource, startDemoPlan, type DemoPlanOptions } from './plan';

/** A migration in progress; `finished` resolves when every table ended or the timeout passed. */
export interface RunningMigration {
  readonly monitor: MigrationMonitor;
  readonly workflowId: string;
  readonly finished: Promise<'finished' | 'timeout'>;
  /** Stops watching and shuts the in-process worker down. */
  close(): Promise<void>;
}

/** Throws unless this worker build registers every migration activity (checked before any load starts). */
export async function assertMigrationRunnable(): Promise<void> {
  const deps = buildActivities();
  const missing = missingActivities(deps.activities);
  await deps.close();
  if (missing.length) throw new Error(`the migration cannot run yet: src/workers/activities.ts does not register ${missing.join(', ')}`);
}

/** Starts the worker, the plan and the monitor. `origin` is the demo's t = 0 (epoch ms). */
export async function startMigration(o: DemoPlanOptions & { origin: number; timeoutS: number; bars: boolean; log(m: string): void }): Promise<RunningMigration> {
  const deps = buildActivities();
  const missing = missingActivities(deps.activities);
  if (missing.length) {
    await deps.close();
    throw new Error(`the migration cannot run yet: src/workers/activities.ts does not register ${missing.join(', ')}`);
  }
  const connection = await createWorkerConnection();
  const worker = await Worker.create({ connection, taskQueue: TASK_QUEUE, workflowBundle: await workflowBundle(), activities: deps.activities });
  const workerDone = worker.run();
  const client = await createTemporalClient();
  const plan = demoPlanConfig(o);
  const workflowId = await startDemoPlan(client, plan, TASK_QUEUE);
  const env = serviceEnv();
  o.log(`started plan ${workflowId} on task queue ${TASK_QUEUE}: ${env.temporalUi}/namespaces/${env.temporalNamespace}/workflows/${encodeURIComponent(workflowId)}`);
  const monitor = new MigrationMonitor(o.origin, planStatusSource(client, plan), { intervalMs: 1000, bars: o.bars });
  monitor.start();
  let timer: NodeJS.Timeout | undefined;
  let check: NodeJS.Timeout | undefined;
  const finished = new Promise<'finished' | 'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), o.timeoutS * 1000);
    check = setInterval(() => {
      if (monitor.allFinished()) resolve('finished');
    }, 500);
  }).finally(() => {
    clearTimeout(timer);
    clearInterval(check);
  });
  return {
    monitor,
    workflowId,
    finished,
    async close() {
      clearTimeout(timer);
      clearInterval(check);
      await monitor.stop();
      worker.shutdown();
      await workerDone.catch(() => undefined);
      await client.connection.close();
      await connection.close();
      await deps.close();
    },
  };
}
