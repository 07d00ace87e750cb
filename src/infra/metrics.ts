/**
 * Prometheus metrics of a cutover worker: cutover's own (prom-client) and the Temporal SDK's runtime metrics
 * (exported by the Rust core on an internal port), served together on one port so one scrape target sees both.
 * Labels are table names, activity names and outcomes: never keys or values.
 */
import * as http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActivityCtx } from '../shared/activity-contract';
import { PHASES, type PhaseOrTerminal } from '../shared/phases';

/** cutover's own metrics on their own registry. */
export class CutoverMetrics {
  readonly registry = new Registry();
  readonly rowsCopied = this.gauge('cutover_backfill_rows_copied', 'Rows the backfill copied so far');
  readonly rowsTotal = this.gauge('cutover_backfill_rows_total_estimate', 'Estimated rows of the source table');
  readonly backfillRate = this.gauge('cutover_backfill_rows_per_second', 'Backfill rate over the last slice');
  readonly cdcLag = this.gauge('cutover_cdc_lag_seconds', 'Seconds between the newest source commit and the newest published event');
  readonly etlLagEvents = this.gauge('cutover_etl_lag_events', 'Events published but not yet applied (sum over partitions)');
  readonly etlLagSeconds = this.gauge('cutover_etl_lag_seconds', 'Seconds between the newest published and the newest applied event');
  readonly applyRate = this.gauge('cutover_etl_apply_rate', 'Events applied per second');
  readonly dlq = this.gauge('cutover_dlq_events', 'Events dead-lettered by the ETL');
  readonly shadowReadMismatches = this.gauge('cutover_shadow_read_mismatches', 'Shadow-read mismatches in the last gate window');
  readonly shadowWriteErrors = this.gauge('cutover_shadow_write_errors', 'Failed shadow and background writes in the last gate window');
  readonly phase = this.gauge('cutover_activity_phase', '1 + index of the phase the last activity ran in (1 preflight … 12 complete)');
  readonly throttles = new Counter({ name: 'cutover_throttles_total', help: 'Back-offs on target throttling or CDC lag', labelNames: ['table', 'stage'], registers: [this.registry] });
  readonly activitySeconds = new Histogram({
    name: 'cutover_activity_duration_seconds',
    help: 'Duration of migration activities',
    labelNames: ['activity', 'outcome'],
    buckets: [0.05, 0.25, 1, 5, 30, 120, 600, 3600],
    registers: [this.registry],
  });

  constructor(defaultMetrics = true) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'cutover_process_' });
  }

  private gauge(name: string, help: string): Gauge<'table'> {
    return new Gauge({ name, help, labelNames: ['table'], registers: [this.registry] });
  }

  /** Records what an activity result says about its table (counts, lags, positions only). */
  observe(ctx: ActivityCtx, activity: string, result: unknown): void {
    const table = `${ctx.source.database}.${ctx.source.table}`;
    this.phase.set({ table }, phaseNumber(ctx.phase));
    const r = (result ?? {}) as Record<string, unknown>;
    const num = (k: string) => (typeof r[k] === 'number' ? (r[k] as number) : undefined);
    const set = (g: Gauge<'table'>, v: number | undefined) => v !== undefined && g.set({ table }, v);
    switch (activity) {
      case 'runBackfill':
        set(this.rowsCopied, num('rowsCopied'));
        set(this.rowsTotal, num('rowsTotalEstimate'));
        set(this.backfillRate, num('rowsPerSecond'));
        if (num('throttles')) this.throttles.inc({ table, stage: 'backfill' }, num('throttles'));
        break;
      case 'describeCdc':
        set(this.cdcLag, num('lagSeconds'));
        break;
      case 'describeEtl':
        set(this.etlLagEvents, num('lagEvents'));
        set(this.etlLagSeconds, num('lagSeconds'));
        set(this.applyRate, num('applyRate'));
        set(this.dlq, num('dlqCount'));
        break;
      case 'readShadowStats':
        set(this.shadowReadMismatches, num('readMismatches'));
        set(this.shadowWriteErrors, (num('shadowWriteErrors') ?? 0) + (num('backgroundWriteErrors') ?? 0));
        break;
      default:
    }
  }
}

function phaseNumber(phase: PhaseOrTerminal): number {
  return (PHASES as readonly string[]).indexOf(phase) + 1;
}

/** Where the worker serves metrics, and where the Temporal runtime's Prometheus exporter listens (internal). */
export interface MetricsPorts {
  readonly port: number;
  readonly temporalPort: number;
}

/** Ports from CUTOVER_METRICS_PORT (default 9464) and CUTOVER_TEMPORAL_METRICS_PORT (default 9465). */
export function metricsPorts(): MetricsPorts {
  return { port: Number(process.env.CUTOVER_METRICS_PORT ?? 9464), temporalPort: Number(process.env.CUTOVER_TEMPORAL_METRICS_PORT ?? 9465) };
}

async function temporalMetrics(port: number): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2_000) });
    return res.ok ? await res.text() : '';
  } catch {
    return `# temporal runtime metrics unavailable on port ${port}\n`;
  }
}

/** Serves `GET /metrics` (cutover's registry followed by the Temporal runtime's metrics). Close it on shutdown. */
export function serveMetrics(metrics: CutoverMetrics, ports: MetricsPorts = metricsPorts()): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    void Promise.all([metrics.registry.metrics(), temporalMetrics(ports.temporalPort)]).then(
      ([own, sdk]) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(`${own}\n${sdk}`),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // loopback unless the operator opens it for a Prometheus on another host (CUTOVER_METRICS_HOST=0.0.0.0)
    server.listen(ports.port, process.env.CUTOVER_METRICS_HOST ?? '127.0.0.1', () => resolve(server));
  });
}
