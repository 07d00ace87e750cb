/**
 * The built-in CDC reader: MariaDB binlog (zongji) → DMS-format messages → Kafka (idempotent producer, acks=all) →
 * durable checkpoint. One reader runs one CDC task; any number of processes may try, the task's lease lets exactly
 * one of them read.
 *
 * Invariants (the ordering rule every other guarantee rests on):
 *   - Messages are sent in binlog order, one batch at a time (the next batch is sent only after Kafka acknowledged
 *     the previous one), so each partition receives a key's changes in commit order.
 *   - The checkpoint is the coordinate after the newest transaction whose every message (and every message of
 *     every earlier transaction) Kafka acknowledged. It is saved only from that watermark, so a crash at any point
 *     (kill -9 mid-transaction included) resumes from a transaction boundary that loses nothing: at-least-once.
 *   - Kafka unavailable: the batch is retried with capped exponential backoff for as long as it takes; reading stops
 *     (the binlog connection is paused) once `maxPendingMessages` wait, and the checkpoint does not move.
 *   - A purged binlog is detected before reading (the checkpoint's GTID is older than the oldest binlog file's start
 *     position, or its file is gone) and from the server's error 1236, and fails with BinlogPurgedError.
 *   - stop() is graceful: reading stops, what was read is published (bounded by `drainTimeoutMs`), the last
 *     checkpoint is saved and the lease released.
 */
import type { Kafka, Producer } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { readColumns, type ColumnInfo, type Queryable } from '../row/codec';
import { CheckpointStore, formatPosition, type CdcTaskRecord, type SourcePosition, type TableOpCounts, type TaskState } from './checkpoint';
import { BinlogPurgedError, CdcLeaseLostError, CdcStateError, KafkaUnavailableError } from './errors';
import { locateGtidBefore } from './locate';
import { TransactionAssembler, type SourceTransaction } from './transactions';
import { createZongJi, type ZongJi } from './zongji';

/** What a reader reports (getter and callback); plain JSON. */
export interface CdcProgress {
  readonly cdcId: string;
  readonly state: TaskState;
  /** Acknowledged (checkpointable) position. */
  readonly position: string | null;
  readonly counts: TableOpCounts;
  readonly published: number;
  readonly pendingMessages: number;
  /** Seconds between now and the commit of the oldest transaction read but not yet acknowledged (0 when caught up). */
  readonly lagSeconds: number;
  /** Set while Kafka refuses batches (the reader keeps retrying). */
  readonly kafkaError: string | null;
}

export interface CdcReaderDeps {
  /** Pool for metadata reads and the checkpoint store; the caller owns it. */
  readonly db: Queryable;
  readonly store: CheckpointStore;
  readonly kafka: Kafka;
  /** Source URL for the binlog connection (default: CUTOVER_MYSQL_URL). */
  readonly mysqlUrl?: string;
}

export interface CdcReaderOptions {
  readonly cdcId: string;
  readonly owner?: string;
  readonly leaseTtlMs?: number;
  readonly checkpointIntervalMs?: number;
  readonly maxBatchMessages?: number;
  readonly maxPendingMessages?: number;
  readonly drainTimeoutMs?: number;
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
  /** Start from a timestamp: how far before it the binlog search starts (default 60 s; binlog times are approximate). */
  readonly timestampMarginSeconds?: number;
  readonly onProgress?: (p: CdcProgress) => void;
  /** Called after Kafka acknowledged a batch, with its messages (for latency measurement and tests). */
  readonly onAck?: (messages: readonly { readonly key: string | null; readonly value: string }[]) => void;
}

type Tx = SourceTransaction & { sent: number };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs one CDC task until stopped; see the module invariants. */
export class BinlogCdcReader {
  private readonly owner: string;
  private readonly ttl: number;
  private readonly queue: Tx[] = [];
  private pending = 0;
  private acked: SourcePosition | null = null;
  private counts: TableOpCounts = {};
  private lastCommitTime: number | null = null;
  private published = 0;
  private state: TaskState = 'starting';
  private kafkaError: string | null = null;
  private stopping = false;
  private drainDeadline = Number.POSITIVE_INFINITY;
  /** Local-clock bound of the lease's validity (last successful renewal + 80 % of the TTL): no send after it. */
  private leaseOkUntil = 0;
  private fatal: unknown;
  private zongji: ZongJi | undefined;
  private paused = false;
  private producer: Producer | undefined;
  private wake: (() => void) | undefined;
  private columnCache = new Map<string, ColumnInfo[]>();
  private record: CdcTaskRecord | undefined;

  constructor(
    private readonly deps: CdcReaderDeps,
    private readonly opts: CdcReaderOptions,
  ) {
    this.owner = opts.owner ?? `reader-${randomUUID()}`;
    this.ttl = opts.leaseTtlMs ?? 30_000;
  }

  /** The current progress (safe to call at any time). */
  progress(): CdcProgress {
    const oldest = this.queue[0];
    return {
      cdcId: this.opts.cdcId,
      state: this.state,
      position: formatPosition(this.acked),
      counts: this.counts,
      published: this.published,
      pendingMessages: this.pending,
      lagSeconds: oldest ? Math.max(0, Date.now() / 1000 - oldest.commitTime) : 0,
      kafkaError: this.kafkaError,
    };
  }

  /** Asks the reader to stop gracefully; run() resolves once it has. */
  stop(): void {
    if (!this.stopping) this.drainDeadline = Date.now() + (this.opts.drainTimeoutMs ?? 10_000);
    this.stopping = true;
    this.wake?.();
  }

  /** Reads, publishes and checkpoints until stop() or the operator's desired state 'stopped'; rejects on a fatal error. */
  async run(): Promise<CdcProgress> {
    const { store } = this.deps;
    if (!(await store.get(this.opts.cdcId))) throw new CdcStateError(this.opts.cdcId, 'no such CDC task (start it first)');
    while (!(await store.acquireLease(this.opts.cdcId, this.owner, this.ttl))) {
      if (this.stopping) return this.progress();
      await sleep(Math.min(1000, this.ttl / 3));
    }
    // Read the checkpoint only once the lease is ours: the previous holder may have moved it while we waited.
    const rec = await store.get(this.opts.cdcId);
    if (!rec) throw new CdcStateError(this.opts.cdcId, 'task record removed');
    this.record = rec;
    this.acked = rec.position;
    this.counts = rec.counts;
    this.lastCommitTime = rec.lastCommitTime;
    try {
      await this.checkNotPurged(rec);
      this.producer = this.deps.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 } });
      await this.connectProducer();
      for (const t of rec.config.tables) this.columnCache.set(`${t.database}.${t.table}`, await readColumns(this.deps.db, t.database, t.table));
      this.leaseOkUntil = Date.now() + this.ttl * 0.8;
      this.state = 'running';
      await Promise.all([this.publishLoop(), this.checkpointLoop(), this.readLoop(rec)]);
      if (this.fatal) throw this.fatal;
      return this.progress();
    } catch (e) {
      this.state = 'failed';
      this.stopping = true;
      await this.save(e instanceof CdcLeaseLostError ? undefined : String((e as Error).message)).catch(() => undefined);
      throw e;
    } finally {
      this.stopZongji();
      await this.producer?.disconnect().catch(() => undefined);
      if (this.state !== 'failed') await store.releaseLease(rec.cdcId, this.owner).catch(() => undefined);
    }
  }

  private fail(e: unknown): void {
    this.fatal ??= e;
    this.stop();
  }

  private async connectProducer(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await this.producer!.connect();
        return;
      } catch (e) {
        this.kafkaError = String((e as Error).message);
        await sleep(this.backoff(attempt));
      }
    }
  }

  private backoff(attempt: number): number {
    const r = this.opts.retry ?? { initialMs: 200, maxMs: 5_000 };
    return Math.min(r.maxMs, r.initialMs * 2 ** Math.min(attempt, 16));
  }

  private async checkNotPurged(rec: CdcTaskRecord): Promise<void> {
    const p = rec.position;
    if (!p) return;
    const [logs] = await this.deps.db.query('SHOW BINARY LOGS');
    const files = (logs as { Log_name: string }[]).map((l) => l.Log_name);
    if (!files.length) throw new BinlogPurgedError(formatPosition(p) ?? '?', 'the server has no binary logs');
    if (p.gtid) {
      const [rows] = await this.deps.db.query('SELECT BINLOG_GTID_POS(?, 4) AS pos', [files[0]]);
      const start = String((rows as { pos: string | null }[])[0]?.pos ?? '');
      const [domain, server, seq] = p.gtid.split('-');
      const entry = start.split(',').map((s) => s.trim().split('-')).find((g) => g[0] === domain);
      if (entry && BigInt(entry[2]) > BigInt(seq) && !(entry[1] === server && BigInt(entry[2]) === BigInt(seq))) {
        throw new BinlogPurgedError(p.gtid, `the oldest binlog ${files[0]} starts after ${entry.join('-')}`);
      }
    } else if (p.file && !files.includes(p.file)) {
      throw new BinlogPurgedError(formatPosition(p) ?? p.file, `binlog file ${p.file} is gone (oldest is ${files[0]})`);
    }
  }

  private stopZongji(): void {
    const z = this.zongji;
    this.zongji = undefined;
    try {
      z?.stop();
    } catch {
      // already stopped
    }
  }

  private async startOptions(rec: CdcTaskRecord): Promise<{ opts: Record<string, unknown>; skipBefore?: number }> {
    const p = this.acked;
    if (p?.gtid) return { opts: { gtidSet: p.gtid } };
    if (p?.file) return { opts: { filename: p.file, position: p.pos ?? 4 } };
    const start = rec.config.start;
    if (start.kind === 'timestamp') {
      const skipBefore = Math.floor(Date.parse(start.at) / 1000);
      const from = await locateGtidBefore(this.deps.db, skipBefore, { mysqlUrl: this.deps.mysqlUrl, marginSeconds: this.opts.timestampMarginSeconds });
      if (from) return { opts: { gtidSet: from }, skipBefore };
      const [logs] = await this.deps.db.query('SHOW BINARY LOGS');
      const first = (logs as { Log_name: string }[])[0]?.Log_name;
      if (!first) throw new BinlogPurgedError(start.at, 'the server has no binary logs');
      return { opts: { filename: first, position: 4 }, skipBefore: Math.floor(Date.parse(start.at) / 1000) };
    }
    throw new CdcStateError(rec.cdcId, 'task has no start position (create it through BuiltinCdcSource.start)');
  }

  /** Reads the binlog; reconnects from the acknowledged position after a transient binlog error. */
  private async readLoop(rec: CdcTaskRecord): Promise<void> {
    let attempt = 0;
    while (!this.stopping) {
      const { opts, skipBefore } = await this.startOptions(rec);
      const z = createZongJi(this.deps.mysqlUrl);
      this.zongji = z;
      const assembler = new TransactionAssembler({
        tables: rec.config.tables,
        partitions: rec.config.partitions,
        domain: rec.config.gtidDomain,
        currentFile: () => String((z as unknown as { options: { filename?: string } }).options.filename ?? ''),
        skipBefore,
        columns: {
          columns: (s, t) => this.columnCache.get(`${s}.${t}`),
          refresh: async (s, t) => {
            const cols = await readColumns(this.deps.db, s, t);
            this.columnCache.set(`${s}.${t}`, cols);
            return cols;
          },
          remember: (s, t, cols) => this.columnCache.set(`${s}.${t}`, cols),
        },
      });
      const broken = await new Promise<unknown>((resolve) => {
        let chain = Promise.resolve();
        let failed = false;
        const watch = setInterval(() => {
          if (this.stopping) done(undefined);
        }, 100);
        const done = (v: unknown): void => {
          failed = true;
          clearInterval(watch);
          resolve(v);
        };
        z.on('error', (err: unknown) => done(err ?? new Error('binlog connection error')));
        z.on('binlog', (ev: unknown) => {
          // Strictly in order; after a failure nothing more is enqueued, so no later transaction can be acknowledged
          // (and checkpointed) past the one that failed.
          chain = chain
            .then(async () => {
              if (failed) return;
              const tx = await assembler.handle(ev as Parameters<TransactionAssembler['handle']>[0]);
              if (tx && !failed) this.enqueue(tx);
            })
            .catch(done);
        });
        z.start({ ...opts, serverId: serverIdFor(this.owner, attempt), includeEvents: ['mariadbgtid', 'tablemap', 'writerows', 'updaterows', 'deleterows', 'query', 'xid', 'rotate'] });
      });
      this.stopZongji();
      if (broken === undefined) return;
      const err = broken as { code?: unknown; errno?: unknown; message?: string };
      const msg = String(err.message ?? broken);
      if (err.errno === 1236 || err.code === 'ER_MASTER_FATAL_ERROR_READING_BINLOG' || /purged|could not find (first log|GTID state)/i.test(msg)) {
        this.fail(new BinlogPurgedError(formatPosition(this.acked) ?? '?', msg));
        return;
      }
      if (!(err instanceof Error) || /ECONNREFUSED|ECONNRESET|PROTOCOL_CONNECTION_LOST|ETIMEDOUT|closed/i.test(msg)) {
        // transient: publish what was read, then resume from the acknowledged position
        while (!this.stopping && this.queue.length) await sleep(50);
        await sleep(this.backoff(attempt++));
        continue;
      }
      this.fail(broken);
      return;
    }
  }

  private enqueue(tx: SourceTransaction): void {
    this.queue.push({ ...tx, sent: 0 });
    this.pending += tx.messages.length;
    if (!this.paused && this.pending > (this.opts.maxPendingMessages ?? 50_000)) {
      this.paused = true;
      (this.zongji as unknown as { connection?: { pause(): void } })?.connection?.pause();
    }
    this.wake?.();
  }

  private async publishLoop(): Promise<void> {
    const topic = this.record!.config.topic;
    const max = this.opts.maxBatchMessages ?? 1000;
    for (let attempt = 0; ; ) {
      this.ackEmptyHead();
      if (this.fatal || (this.stopping && (!this.queue.length || Date.now() > this.drainDeadline))) return;
      if (!this.queue.length) {
        await new Promise<void>((r) => {
          this.wake = r;
          setTimeout(r, 200);
        });
        continue;
      }
      // A lease that may have expired (renewal failing or late) could already be someone else's: do not publish
      // until a renewal succeeds, so two readers overlap for as short a time as possible.
      if (Date.now() > this.leaseOkUntil) {
        await sleep(50);
        continue;
      }
      // take messages in order across queued transactions, up to `max`
      const batch: { key: string | null; value: string; partition?: number }[] = [];
      const marks: Array<[Tx, number]> = [];
      for (const tx of this.queue) {
        const take = tx.messages.slice(tx.sent, tx.sent + (max - batch.length));
        batch.push(...take);
        marks.push([tx, take.length]);
        if (batch.length >= max) break;
      }
      try {
        await this.producer!.send({ topic, acks: -1, messages: batch });
        this.kafkaError = null;
        attempt = 0;
      } catch (e) {
        if (this.stopping && Date.now() > this.drainDeadline) return;
        this.kafkaError = new KafkaUnavailableError(topic, String((e as Error).message), { cause: e }).message;
        this.emit();
        await sleep(this.backoff(attempt++));
        continue;
      }
      for (const [tx, n] of marks) tx.sent += n;
      this.opts.onAck?.(batch);
      this.published += batch.length;
      this.pending -= batch.length;
      this.ackEmptyHead();
      if (this.paused && this.pending < (this.opts.maxPendingMessages ?? 50_000) / 2) {
        this.paused = false;
        (this.zongji as unknown as { connection?: { resume(): void } })?.connection?.resume();
      }
    }
  }

  /** Pops fully sent transactions from the head: they are acknowledged, and so is everything before them. */
  private ackEmptyHead(): void {
    while (this.queue.length && this.queue[0].sent >= this.queue[0].messages.length) {
      const tx = this.queue.shift()!;
      if (tx.partial) continue; // a leading chunk: the transaction is not complete, the checkpoint stays
      this.acked = { ...(tx.gtid ? { gtid: tx.gtid } : {}), file: tx.file, pos: tx.pos };
      this.lastCommitTime = tx.commitTime;
      for (const [table, c] of Object.entries(tx.counts)) {
        const t = (this.counts[table] ??= { loads: 0, inserts: 0, updates: 0, deletes: 0, ddl: 0 });
        t.loads += c.load ?? 0;
        t.inserts += c.insert ?? 0;
        t.updates += c.update ?? 0;
        t.deletes += c.delete ?? 0;
        t.ddl += c.ddl ?? 0;
      }
    }
  }

  private emit(): void {
    this.opts.onProgress?.(this.progress());
  }

  private async save(error?: string): Promise<void> {
    const p = this.progress();
    await this.deps.store.save(this.opts.cdcId, this.owner, this.ttl, {
      position: this.acked, counts: this.counts, state: this.state, lastCommitTime: this.lastCommitTime, lagSeconds: p.lagSeconds, error: error ?? null,
    });
  }

  private async checkpointLoop(): Promise<void> {
    const every = this.opts.checkpointIntervalMs ?? 1000;
    let lastSaved = Date.now();
    let lastSnapshot = '';
    while (true) {
      await sleep(every);
      try {
        if (!this.stopping) {
          const rec = await this.deps.store.get(this.opts.cdcId);
          if (!rec) throw new CdcStateError(this.opts.cdcId, 'task record removed');
          if (rec.desired === 'stopped') {
            this.state = 'stopping';
            this.stop();
          }
        }
        if (this.fatal) return;
        const finished = this.stopping && (this.queue.length === 0 || Date.now() > this.drainDeadline);
        // Stopped by the operator → stopped; stopped because this process is shutting down → waiting for a reader.
        if (finished) this.state = (await this.deps.store.get(this.opts.cdcId))?.desired === 'stopped' ? 'stopped' : 'starting';
        // Save on any change; otherwise only to renew the lease (each save is a write the binlog may carry).
        const snapshot = JSON.stringify([this.acked, this.counts, this.state, this.kafkaError]);
        if (finished || snapshot !== lastSnapshot || Date.now() - lastSaved > this.ttl / 3) {
          await this.save(this.kafkaError ?? undefined);
          lastSaved = Date.now();
          this.leaseOkUntil = lastSaved + this.ttl * 0.8;
          lastSnapshot = snapshot;
        }
        this.emit();
        if (finished) return;
      } catch (e) {
        // Lost lease / removed task: stop. A metadata-database hiccup: keep reading and retry the save; once the lease
        // has surely expired another reader may have taken over, so give up then (the fenced save guarantees that this
        // reader never overwrites the newer owner's checkpoint).
        if (e instanceof CdcLeaseLostError || e instanceof CdcStateError || Date.now() - lastSaved > this.ttl) {
          this.fail(e);
          return;
        }
      }
    }
  }
}

/** A replication server id unique to this reader and attempt (two replicas with one id disconnect each other). */
export function serverIdFor(owner: string, attempt: number): number {
  let h = 2166136261;
  for (const ch of `${owner}#${attempt}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return 10_000_000 + (h % 2_000_000_000);
}
