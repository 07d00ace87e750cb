/**
 * Starts the smoke workflow on the real stack with an in-process worker and prints its result and the Temporal UI
 * link to its history. `npm run demo` runs this until the full demo exists.
 */
import { Worker } from '@temporalio/worker';
import { loadStackEnv, serviceEnv } from '../src/infra/env';
import { createTemporalClient, createWorkerConnection } from '../src/infra/temporal';
import { TASK_QUEUE } from '../src/shared/task-queues';
import { buildActivities } from '../src/workers/activities';
import { workflowBundle } from '../src/workers/bundle';
import { smokeWorkflow } from '../src/workflows';

async function main(): Promise<void> {
  loadStackEnv();
  const deps = buildActivities();
  const connection = await createWorkerConnection();
  const worker = await Worker.create({ connection, taskQueue: TASK_QUEUE, workflowBundle: await workflowBundle(), activities: deps.activities });
  const client = await createTemporalClient();
  const workflowId = `smoke:${Date.now()}`;
  const result = await worker.runUntil(
    client.workflow.execute(smokeWorkflow, { taskQueue: TASK_QUEUE, workflowId, args: ['cutover'] }),
  );
  console.log(JSON.stringify(result));
  console.log(`history: ${serviceEnv().temporalUi}/namespaces/${serviceEnv().temporalNamespace}/workflows/${encodeURIComponent(workflowId)}`);
  await client.connection.close();
  await connection.close();
  await deps.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
