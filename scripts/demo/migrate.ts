/**
 * Runs the demo's migration plan with an in-process worker while the caller's load runs: starts the worker and the
 * plan, watches it (./monitor.ts) until every table finished or `timeoutS` passed, then shuts the worker down.
 * Refuses to start when the worker's activities do not cover the migration contract (src/shared/activity-contract.ts).
 *
 * The worker polls a task queue of its own run (never the shared 'cutover' queue, where another worker with other
 * settings could pick the tasks up), keeps its CDC task table in the demo database (so only this process hosts the
 * demo's CDC readers) and reads the same routing flag schema as the application instances.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from '@temporalio/worker';
import { createLogger } from '../../src/infra/logger';
import { serviceEnv } from '../../src/infra/env';
import { createTemporalClient, createWorkerConnection } from '../../src/infra/temporal';
import { buildActivities } from '../../src/workers/activities';
import { workflowBundle } from '../../src/workers/bundle';
import { MigrationMonitor } from './monitor';
import { demoPlanConfig, missingActivities, planStatusSource, startDemoPlan, type DemoPlanOptions } from './plan';

/** A migration in progress; `finished` resolves when every table ended or the timeout passed. */
export interface RunningMigration {
  readonly monitor: MigrationMonitor;
  readonly workflowId: string;
  /** `stuck`: a table waits at a gate for an operator because a check failed (see `monitor.problems()`). */
  readonly finished: Promise<'finished' | 'timeout' | 'stuck'>;
  /** Stops watching and shuts the in-process worker down. */
  close(): Promise<void>;
}

/** Starts the worker, the plan and the monitor. `origin` is the demo's t = 0 (epoch ms). */
export async function startMigration(o: DemoPlanOptions & { origin: number; timeoutS: number; bars: boolean; routingSchema: string; outDir: string; log(m: string): void }): Promise<RunningMigration> {
  fs.mkdirSync(o.outDir, { recursive: true });
  const deps = buildActivities({
    logger: createLogger('demo-worker', fs.createWriteStream(path.join(o.outDir, 'worker.log'))),
    settings: { cdcMetaDb: o.database, routingSchema: o.routingSchema, reportDir: path.join(o.outDir, 'verify'), cdcLeaseTtlMs: 10_000 },
  });
  const missing = missingActivities(deps.activities);
  if (missing.length) {
    await deps.close();
    throw new Error(`the migration cannot run yet: src/workers/activities.ts does not register ${missing.join(', ')}`);
  }
  const connection = await createWorkerConnection();
  const taskQueue = `cutover-demo-${o.runId}`;
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: deps.activities,
    maxHeartbeatThrottleInterval: '1 second',
    defaultHeartbeatThrottleInterval: '1 second',
  });
  const workerDone = worker.run();
  const client = await createTemporalClient();
  const plan = demoPlanConfig(o);
  const workflowId = await startDemoPlan(client, plan, taskQueue);
  const env = serviceEnv();
  o.log(`started plan ${workflowId} on task queue ${taskQueue}: ${env.temporalUi}/namespaces/${env.temporalNamespace}/workflows/${encodeURIComponent(workflowId)}`);
  const monitor = new MigrationMonitor(o.origin, planStatusSource(client, plan), { intervalMs: 1000, bars: o.bars });
  monitor.start();
  let timer: NodeJS.Timeout | undefined;
  let check: NodeJS.Timeout | undefined;
  const finished = new Promise<'finished' | 'timeout' | 'stuck'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), o.timeoutS * 1000);
    check = setInterval(() => {
      if (monitor.allFinished(plan.tables.length)) resolve('finished');
      else if (monitor.problems().length) resolve('stuck');
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
