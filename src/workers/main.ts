/**
 * The worker process: `npm run worker`. Run as many as you like on as many machines as you like; they share the
 * `cutover` task queue and Temporal spreads the activities between them.
 *
 * Operability: JSON logs (pino; the Temporal SDK's own logs are routed through the same logger), and Prometheus
 * metrics on CUTOVER_METRICS_PORT (default 9464): cutover's metrics plus the Temporal runtime's (task latencies,
 * slots, polls, and the workflow-side `cutover_phase` gauge), exported by the SDK core on CUTOVER_TEMPORAL_METRICS_PORT.
 *
 * Start-up: missing AWS credentials, a MySQL user refused or a malformed setting fail at once (exit 1, one error
 * naming the setting); Temporal, MySQL, Kafka or DynamoDB not answering yet is waited for, with a `waiting for
 * service` warning per attempt naming the service, endpoint and setting, and capped backoff
 * (CUTOVER_STARTUP_WAIT_MS bounds the wait). Nothing polls a task queue until every service answers.
 */
import { DefaultLogger, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import { loadStackEnv } from '../infra/env';
import { createLogger } from '../infra/logger';
import { problemFields, startupWaitMs, waitForServices } from '../infra/reachability';
import { CutoverMetrics, metricsPorts, serveMetrics } from '../infra/metrics';
import { createWorkerConnection } from '../infra/temporal';
import { TASK_QUEUE } from '../shared/task-queues';
import { buildActivities, workerSettings } from './activities';
import { workflowBundle } from './bundle';

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

async function main(): Promise<void> {
  loadStackEnv();
  const settings = workerSettings(); // a malformed setting (CUTOVER_CDC_LEASE_TTL_MS) fails here, before any wait
  const logger = createLogger('worker');
  const ports = metricsPorts();
  Runtime.install({
    logger: new DefaultLogger('INFO', (entry) => logger[PINO_LEVEL[entry.level]]({ sdk: entry.meta }, entry.message)),
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${ports.temporalPort}` } } },
  });
  const metrics = new CutoverMetrics();
  const server = await serveMetrics(metrics, ports);
  const ac = new AbortController();
  const early = (): void => ac.abort();
  process.once('SIGTERM', early);
  process.once('SIGINT', early);
  try {
    await waitForServices(['temporal', 'mysql', 'kafka', 'dynamodb'], {
      maxWaitMs: startupWaitMs(),
      signal: ac.signal,
      onWait: (p, retryInMs, attempt) => logger.warn({ ...problemFields(p), attempt, retryInMs }, 'waiting for service'),
    });
  } catch (err) {
    server.close();
    throw err;
  }
  process.off('SIGTERM', early);
  process.off('SIGINT', early);
  if (ac.signal.aborted) {
    server.close();
    return;
  }
  const deps = buildActivities({ logger, metrics, settings });
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

main().then(
  () => process.exit(0),
  (err: unknown) => {
    const e = err as Error;
    console.error(JSON.stringify({ level: 'error', msg: 'worker exiting', error: e.name, detail: e.message }));
    process.exit(1);
  },
);
