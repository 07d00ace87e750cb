/**
 * The CdcSource contract (start / describe / stop / resume) shared by the built-in binlog reader and the AWS DMS
 * adapter (./dms-source.ts), and its built-in implementation.
 *
 * Invariants:
 *   - start() is idempotent: the same request returns the same cdcId and reuses the existing topic and task, so a
 *     retried activity converges. It runs the source preflight first; nothing is created when it fails.
 *   - The built-in task's state lives in the durable task table (./checkpoint.ts); start/stop/resume only change
 *     that record, and whichever process runs the reader (src/workers/cdc.ts, or a long-running activity calling
 *     runBuiltinCdc) follows it. describe() therefore works from any machine.
 *   - Results are plain JSON (positions and counts), fit for workflow history.
 */
import type { Kafka } from 'kafkajs';
import { withAdmin } from '../../infra/kafka';
import type { CdcDescription, CdcState, StartCdcResult, StopCdcResult } from '../../shared/activity-contract';
import type { Queryable } from '../row/codec';
import { CheckpointStore, formatPosition, type CdcTaskConfig, type SourcePosition, type StartMode } from './checkpoint';
import { CdcStateError } from './errors';
import { assertSourceReady } from './preflight';
import { ensureTopic } from './topic';

export interface CdcStartRequest {
  /** Stable id; default derived from the tables and topic. */
  readonly cdcId?: string;
  readonly tables: readonly { readonly database: string; readonly table: string }[];
  readonly topic: string;
  readonly partitions: number;
  /** Default: now. */
  readonly start?: StartMode;
  /** full load + CDC (DMS: full-load-and-cdc) or CDC only. The built-in source does CDC only: cutover's backfill loads. */
  readonly fullLoad?: boolean;
}

export type CdcCounts = CdcDescription['counts'];

/** What every CDC source offers the workflow's activities. */
export interface CdcSource {
  start(req: CdcStartRequest): Promise<StartCdcResult>;
  describe(cdcId: string): Promise<CdcDescription & { readonly perTable: Readonly<Record<string, CdcCounts>> }>;
  stop(cdcId: string): Promise<StopCdcResult>;
  resume(cdcId: string): Promise<{ readonly state: CdcState }>;
}

/** The default cdcId for a request. */
export function defaultCdcId(req: Pick<CdcStartRequest, 'tables' | 'topic'>): string {
  const tables = [...req.tables].map((t) => `${t.database}.${t.table}`).sort().join('+');
  return `builtin:${tables}:${req.topic}`.slice(0, 191);
}

/** Built-in CDC: the task record in MySQL, read by BinlogCdcReader processes. */
export class BuiltinCdcSource implements CdcSource {
  constructor(
    private readonly deps: { readonly db: Queryable; readonly store: CheckpointStore; readonly kafka: Kafka },
    private readonly opts: { readonly stopTimeoutMs?: number; readonly replicationFactor?: number } = {},
  ) {}

  async start(req: CdcStartRequest): Promise<StartCdcResult> {
    const cdcId = req.cdcId ?? defaultCdcId(req);
    await this.deps.store.ensureSchema();
    const existing = await this.deps.store.get(cdcId);
    if (existing) {
      if (existing.config.topic !== req.topic) throw new CdcStateError(cdcId, `exists with topic ${existing.config.topic}, not ${req.topic}`);
      const names = (ts: readonly { database: string; table: string }[]): string => ts.map((t) => `${t.database}.${t.table}`).sort().join(',');
      if (names(existing.config.tables) !== names(req.tables)) {
        throw new CdcStateError(cdcId, `exists for tables ${names(existing.config.tables)}, not ${names(req.tables)}`);
      }
      const topic = await this.topic(req);
      return { cdcId, topic: req.topic, partitions: topic.partitions, startPosition: formatPosition(existing.position) ?? `timestamp ${describeStart(existing.config.start)}`, createdTopic: topic.created, createdTask: false };
    }
    await assertSourceReady(this.deps.db, req.tables);
    const topic = await this.topic(req);
    const start = req.start ?? { kind: 'now' };
    const initial = await this.initialPosition(start);
    const config: CdcTaskConfig = { tables: req.tables, topic: req.topic, partitions: topic.partitions, start, gtidDomain: await this.domain() };
    const { record, created } = await this.deps.store.create(cdcId, config, initial);
    return {
      cdcId, topic: req.topic, partitions: topic.partitions,
      startPosition: formatPosition(record.position) ?? `timestamp ${describeStart(start)}`, createdTopic: topic.created, createdTask: created,
    };
  }

  async describe(cdcId: string): Promise<CdcDescription & { perTable: Record<string, CdcCounts> }> {
    const rec = await this.deps.store.get(cdcId);
    if (!rec) throw new CdcStateError(cdcId, 'no such CDC task');
    const counts = { loads: 0, inserts: 0, updates: 0, deletes: 0 };
    const perTable: Record<string, CdcCounts> = {};
    for (const [t, c] of Object.entries(rec.counts)) {
      perTable[t] = { loads: c.loads, inserts: c.inserts, updates: c.updates, deletes: c.deletes };
      counts.loads += c.loads;
      counts.inserts += c.inserts;
      counts.updates += c.updates;
      counts.deletes += c.deletes;
    }
    const [nowRows] = await this.deps.db.query('SELECT ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) AS now');
    const now = Number((nowRows as { now: number }[])[0].now);
    const live = rec.owner !== null && (rec.leaseUntilMs ?? 0) > now;
    // A task whose reader died shows as 'starting' until a reader picks it up again.
    const state: CdcState = rec.state === 'running' && !live ? 'starting' : rec.state;
    return {
      state, publishedPosition: formatPosition(rec.position), lagSeconds: live ? rec.lagSeconds : rec.lagSeconds, counts, perTable,
      ...(rec.error ? { error: rec.error } : {}),
    };
  }

  async stop(cdcId: string): Promise<StopCdcResult> {
    await this.deps.store.setDesired(cdcId, 'stopped');
    const deadline = Date.now() + (this.opts.stopTimeoutMs ?? 30_000);
    for (;;) {
      const rec = await this.deps.store.get(cdcId);
      if (!rec) throw new CdcStateError(cdcId, 'no such CDC task');
      const [nowRows] = await this.deps.db.query('SELECT ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) AS now');
      const readerGone = rec.owner === null || (rec.leaseUntilMs ?? 0) < Number((nowRows as { now: number }[])[0].now);
      if (rec.state === 'stopped' || rec.state === 'failed' || (readerGone && rec.state !== 'running')) {
        return { state: rec.state === 'stopping' ? 'stopped' : rec.state, finalPosition: formatPosition(rec.position) };
      }
      if (Date.now() > deadline) return { state: 'stopping', finalPosition: formatPosition(rec.position) };
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async resume(cdcId: string): Promise<{ state: CdcState }> {
    await this.deps.store.setDesired(cdcId, 'running');
    const rec = await this.deps.store.get(cdcId);
    return { state: rec?.state ?? 'starting' };
  }

  private topic(req: CdcStartRequest): Promise<{ created: boolean; partitions: number }> {
    return withAdmin(this.deps.kafka, (admin) => ensureTopic(admin, { topic: req.topic, partitions: req.partitions, replicationFactor: this.opts.replicationFactor }));
  }

  private async domain(): Promise<number> {
    const [rows] = await this.deps.db.query('SELECT @@GLOBAL.gtid_domain_id AS d');
    return Number((rows as { d: number }[])[0].d);
  }

  /** "now": the server's current GTID position (or binlog file:pos on a server without GTIDs yet). */
  private async initialPosition(start: StartMode): Promise<SourcePosition | null> {
    if (start.kind === 'position') return start.position;
    if (start.kind === 'timestamp') {
      if (Number.isNaN(Date.parse(start.at))) throw new CdcStateError('-', `start timestamp ${start.at} is not an ISO-8601 time`);
      return null;
    }
    return currentPosition(this.deps.db);
  }
}

/** The server's current binlog position: GTID when it has one, plus file:pos. */
export async function currentPosition(db: Queryable): Promise<SourcePosition> {
  const [rows] = await db.query('SELECT @@GLOBAL.gtid_binlog_pos AS gtid');
  const gtid = String((rows as { gtid: string | null }[])[0]?.gtid ?? '').trim();
  const [status] = await db.query('SHOW MASTER STATUS');
  const s = (status as { File: string; Position: number }[])[0];
  return { ...(gtid ? { gtid } : {}), ...(s ? { file: s.File, pos: Number(s.Position) } : {}) };
}

function describeStart(s: StartMode): string {
  return s.kind === 'timestamp' ? s.at : s.kind;
}

