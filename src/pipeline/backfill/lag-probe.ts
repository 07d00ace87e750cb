/**
 * The backfill's lag probe (like gh-ost's max-lag-millis): how far the pipeline that carries the copy to DynamoDB is
 * behind, measured where the copy's rows wait — the CDC reader (binlog → topic) and the ETL group's backlog on the
 * table's topic (end offsets − committed offsets, every partition). runBackfill polls it before each chunk and waits
 * while it says "over", so a copy can never run further ahead of the ETL than the configured limits.
 *
 * Invariants:
 * - A reading is over the limit when ANY enabled limit is exceeded: CDC lag > maxLagMs, ETL lag (backlog ÷ the live
 *   members' apply rate) > maxLagMs, or ETL backlog > maxLagMessages. A limit of 0 is disabled.
 * - A stopped or absent ETL has no apply rate: its time lag is unknown (null), and only the backlog limit applies —
 *   so a held-back ETL stops the copy once its backlog passes maxLagMessages, and the copy goes on when it drains.
 * - A failing measurement is not "no lag": the probe throws and the backfill attempt fails (and is retried), rather
 *   than copying blind.
 * - Each chunk is gated by a measurement taken after the previous chunk was acknowledged (no cache by default:
 *   a cached reading let a fast copy run several chunks past the limit). Parallel ranges asking at the same time
 *   share the measurement in flight, so the copy overruns a limit by at most one chunk per range.
 * - No Temporal imports; the sources are passed in (src/activities/parts/backfill.ts builds them from the clients).
 */
import type { Admin } from 'kafkajs';
import { groupLag } from '../consumer/offsets';

/** The limits a migration config sets (src/shared/migration-config.ts `backfill.maxLagMs` / `maxLagMessages`). */
export interface LagLimits {
  /** CDC lag and ETL time lag, ms; 0 disables. */
  readonly maxLagMs: number;
  /** ETL backlog on the topic, events; 0 disables. */
  readonly maxLagMessages: number;
}

/** Where the probe reads the lags from. */
export interface LagSources {
  /** The CDC reader's lag in seconds (its progress `lagSeconds`), null when unknown (no task record). */
  readonly cdcLagSeconds: () => Promise<number | null>;
  /** The ETL group's backlog on the table's topic and the live members' summed apply rate (events/s). */
  readonly etlBacklog: () => Promise<{ readonly events: number; readonly applyRate: number }>;
}

/** One measurement, and whether (and why) it is over the limits. */
export interface LagReading {
  readonly cdcLagMs: number | null;
  readonly etlLagMessages: number;
  /** Backlog ÷ apply rate; null when the backlog is non-zero and no member applies (ETL stopped or held back). */
  readonly etlLagMs: number | null;
  /** Why the copy must wait ("ETL backlog 12000 events > maxLagMessages 5000"), null when within the limits. */
  readonly over: string | null;
  readonly atMs: number;
}

/** The value `probe` returns for a reading exactly at its worst limit; pass it as runBackfill's `maxLagMs`. */
export const LAG_LIMIT = 1_000;

/** Measures pipeline lag against the limits; `probe` plugs into runBackfill's `lagProbe`. */
export class PipelineLagProbe {
  private last: LagReading | null = null;
  private inFlight: Promise<LagReading> | null = null;

  constructor(
    private readonly sources: LagSources,
    readonly limits: LagLimits,
    /** Reuse a reading younger than this (0: only share the one in flight). */
    private readonly minIntervalMs = 0,
  ) {}

  /** True when at least one limit is enabled (otherwise there is nothing to wait for). */
  get enabled(): boolean {
    return this.limits.maxLagMs > 0 || this.limits.maxLagMessages > 0;
  }

  /** The newest reading, null before the first. */
  get latest(): LagReading | null {
    return this.last;
  }

  /** A fresh reading (or the cached one when younger than minIntervalMs). */
  async read(now = Date.now()): Promise<LagReading> {
    if (this.last && this.minIntervalMs > 0 && now - this.last.atMs < this.minIntervalMs) return this.last;
    this.inFlight ??= this.measure().finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  /**
   * The worst lag as a fraction of its limit, ×LAG_LIMIT: runBackfill({ lagProbe: probe }, { maxLagMs: LAG_LIMIT })
   * then waits exactly while a limit is exceeded (both a time and a message limit fit its single comparison).
   */
  readonly probe = async (): Promise<number> => {
    const r = await this.read();
    if (r.over) return Number.MAX_SAFE_INTEGER;
    const { maxLagMs, maxLagMessages } = this.limits;
    const ratios = [
      maxLagMs > 0 && r.cdcLagMs !== null ? r.cdcLagMs / maxLagMs : 0,
      maxLagMs > 0 && r.etlLagMs !== null ? r.etlLagMs / maxLagMs : 0,
      maxLagMessages > 0 ? r.etlLagMessages / maxLagMessages : 0,
    ];
    return Math.min(LAG_LIMIT, Math.floor(Math.max(...ratios) * LAG_LIMIT));
  };

  private async measure(): Promise<LagReading> {
    const [cdcSeconds, etl] = await Promise.all([this.sources.cdcLagSeconds(), this.sources.etlBacklog()]);
    const cdcLagMs = cdcSeconds === null ? null : Math.round(cdcSeconds * 1000);
    const etlLagMs = etl.events === 0 ? 0 : etl.applyRate > 0 ? Math.round((etl.events / etl.applyRate) * 1000) : null;
    const { maxLagMs, maxLagMessages } = this.limits;
    let over: string | null = null;
    if (maxLagMessages > 0 && etl.events > maxLagMessages) over = `ETL backlog ${etl.events} events > maxLagMessages ${maxLagMessages}`;
    else if (maxLagMs > 0 && etlLagMs !== null && etlLagMs > maxLagMs) over = `ETL lag ${etlLagMs} ms (${etl.events} events at ${etl.applyRate}/s) > maxLagMs ${maxLagMs}`;
    else if (maxLagMs > 0 && cdcLagMs !== null && cdcLagMs > maxLagMs) over = `CDC lag ${cdcLagMs} ms > maxLagMs ${maxLagMs}`;
    this.last = { cdcLagMs, etlLagMessages: etl.events, etlLagMs, over, atMs: Date.now() };
    return this.last;
  }
}

/**
 * The CDC lag of a built-in task record (times on the metadata database's clock): the reader's own `lagSeconds`
 * while a reader holds the lease; once no live reader holds it, nobody reads the binlog and the saved lag is stale,
 * so the lag grows from the last checkpoint (a dead reader holds the copy instead of reading as "no lag").
 */
export function cdcLagSecondsOf(rec: { readonly lagSeconds: number; readonly owner: string | null; readonly leaseUntilMs: number | null; readonly updatedAtMs: number }, nowMs: number): number {
  const live = rec.owner !== null && (rec.leaseUntilMs ?? 0) > nowMs;
  return live ? rec.lagSeconds : rec.lagSeconds + Math.max(0, nowMs - rec.updatedAtMs) / 1000;
}

/** The ETL backlog of `group` on `topic` (every partition: end − committed, uncommitted = from the low mark). */
export function kafkaEtlBacklog(admin: Admin, group: string, topic: string, applyRate: () => Promise<number>): LagSources['etlBacklog'] {
  return async () => {
    const [lag, rate] = await Promise.all([groupLag(admin, group, topic), applyRate()]);
    return { events: lag.reduce((s, p) => s + p.lag, 0), applyRate: rate };
  };
}
