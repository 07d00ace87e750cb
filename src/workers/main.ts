/**
 * The worker process: `npm run worker`. Run as many as you like on as many machines as you like; they share the
 * `cutover` task queue and Temporal spreads the activities between them.
 *
 * Operability: JSON logs (pino; the Temporal SDK's own logs are routed through the same logger), and Prometheus
 * metrics on CUTOVER_METRICS_PORT (default 9464): cutover's metrics plus the Temporal runtime's (task latencies,
 * slots, polls, and the workflow-side `cutover_phase` gauge), exported by the SDK core on CUTOVER_TEMPORAL_METRICS_PORT.
 */
import { DefaultLogger, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { loadStackEnv } from '../infra/env';
import { createLogger } from '../infra/logger';
import { CutoverMetrics, metricsPorts, serveMetrics } from '../infra/metrics';
import { createWorkerConnection } from '../infra/temporal';
import { TASK_QUEUE } from '../shared/task-queues';
import { buildActivities } from './activities';
import { workflowBundle } from './bundle';

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

async function main(): Promise<void> {
  loadStackEnv();
  const logger = createLogger('worker');
  const ports = metricsPorts();
  Runtime.install({
    logger: new DefaultLogger('INFO', (entry) => logger[PINO_LEVEL[entry.level]]({ sdk: entry.meta }, entry.message)),
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${ports.temporalPort}` } } },
  });
  const metrics = new CutoverMetrics();
  const server = await serveMetrics(metrics, ports);
  const deps = buildActivities({ logger, metrics });
  const connection = await createWorkerConnection();
  const worker = await Worker.create({
    connection,
    taskQueue: TASK_QUEUE,
    workflowBundle: await workflowBundle(),
    activities: deps.activities,
    // pause and abort reach a running activity on its next heartbeat: keep that within a few seconds
    maxHeartbeatThrottleInterval: '5 seconds',
    defaultHeartbeatThrottleInterval: '5 seconds',
  });
  logger.info({ taskQueue: TASK_QUEUE, metricsPort: ports.port }, 'worker started');
  try {
    await worker.run();
  } finally {
    server.close();
    await connection.close();
    await deps.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
