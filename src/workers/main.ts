/**
 * The worker process: `npm run worker`. Run as many as you like on as many machines as you like; they share the
 * `cutover` task queue and Temporal spreads the activities between them.
 */
import { Worker } from '@temporalio/worker';
import { loadStackEnv } from '../infra/env';
import { createWorkerConnection } from '../infra/temporal';
import { TASK_QUEUE } from '../shared/task-queues';
import { buildActivities } from './activities';
import { workflowBundle } from './bundle';

async function main(): Promise<void> {
  loadStackEnv();
  const deps = buildActivities();
  const connection = await createWorkerConnection();
  const worker = await Worker.create({
    connection,
    taskQueue: TASK_QUEUE,
    workflowBundle: await workflowBundle(),
    activities: deps.activities,
  });
  console.log(JSON.stringify({ msg: 'worker started', taskQueue: TASK_QUEUE, pid: process.pid }));
  try {
    await worker.run();
  } finally {
    await connection.close();
    await deps.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
