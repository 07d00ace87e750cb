/**
 * The ETL consumer: one member of a kafkajs consumer group on the CDC topic; horizontal scale = more members (Kafka
 * assigns partitions). Runs as a long Temporal activity (progress callback for heartbeats, AbortSignal) or as the
 * standalone process src/workers/etl.ts.
 *
 * Invariants:
 * - Per partition, chunks are applied strictly one after another and in offset order (one promise chain per
 *   partition), so per-key order is kept (every change of a key is on its key's partition).
 * - Pipelining: a batch's chunks are queued on its partition's chain and its offsets resolved at once, so kafkajs
 *   fetches the next round while they are written, and one slow partition does not hold the others' next batches
 *   (kafkajs fetches again only when every partition's eachBatch returned). eachBatch returns once the partition's
 *   previous batch is durable and committed: at most two batches per partition are held (backpressure).
 * - An offset is committed only after every write, dead letter and redirect of the events before it is durable
 *   (DynamoDB returned; Kafka acknowledged with acks = all). A crash anywhere re-delivers, and re-applying is a no-op.
 * - A chunk that fails drops the chunks queued behind it on its partition (they never run: order) and seeks the
 *   partition back to its first offset, so kafkajs fetches it again (resolved offsets are only the fetch position;
 *   commits are explicit). Leases are released, and the consumer disconnected, only once every chain has drained.
 * - Writes of a partition happen only under its lease (./control.ts); exclusive-mode blind writes also pass the
 *   lease guard before every request. Losing the lease forgets the partition's version cache.
 * - The apply mode changes only between batches: new batches wait until in-flight ones are durable, then the mode
 *   flips and the member acknowledges the new mode version.
 * - A PK-change redirect (old key's delete) is published keyed by the old primary key with the producer's default
 *   partitioner, the one the CDC publisher uses, so it reaches the old key's partition (see docs/design.md "Apply").
 */
import * as os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { ApplyMode } from '../../shared/phases';
import { Applier, type ApplierOptions } from '../apply/apply';
import { LeaseLostError } from '../apply/errors';
import { isTransient, sleep } from '../apply/throttle';
import { dataMessage, encodeKey } from '../cdc/dms-format';
import { isControlEvent, parseCdcMessage } from '../cdc/parser';
import type { CompiledMapping } from '../transform/mapping';
import type { CdcControlEvent, CdcEvent } from '../types';
import { ControlStore, type Lease } from './control';
import { deadLetterRecord, DlqGate, dlqTopicOf, publishDeadLetters, type DeadLetterRecord, type DlqGateOptions } from './dlq';

/** Turns a Kafka message into an event (default: the CDC parser for DMS and Debezium); throws on malformed input. */
export type ParseFn = (topic: string, partition: number, offset: string, key: Buffer | null, value: Buffer | null) => CdcEvent | CdcControlEvent;

/** A consumer's dependencies and knobs; the caller owns the clients. */
export interface EtlConsumerOptions extends Pick<ApplierOptions, 'maxWriteRate' | 'batchConcurrency' | 'conditionalConcurrency' | 'cacheEntries'> {
  readonly kafka: Kafka;
  readonly client: DynamoDBClient;
  readonly mappings: readonly CompiledMapping[];
  readonly topic: string;
  readonly group: string;
  readonly control: ControlStore;
  readonly dlqTopic?: string;
  readonly parse?: ParseFn;
  /** Mode and freshness the group starts with when it is new (initGroup keeps the first record). */
  readonly initialMode?: ApplyMode;
  readonly freshTarget?: boolean;
  readonly partitionsConsumedConcurrently?: number;
  readonly maxEventsPerApply?: number;
  readonly dlq?: DlqGateOptions;
  readonly sessionTimeout?: number;
  readonly rebalanceTimeout?: number;
  readonly heartbeatInterval?: number;
  readonly modePollMs?: number;
  readonly log?: (msg: string) => void;
}

/** Counters, mode, partitions and lag of one member (the heartbeat payload). */
export interface EtlProgress {
  readonly member: string;
  readonly events: number;
  readonly written: number;
  readonly skipped: number;
  readonly deadLettered: number;
  readonly redirected: number;
  readonly controls: number;
  readonly batches: number;
  readonly throttles: number;
  readonly mode: ApplyMode;
  readonly modeVersion: number;
  /** Partitions whose lease this member holds (it has written or may write them). */
  readonly partitions: readonly number[];
  /** Partitions Kafka assigned to this member at the last rebalance. */
  readonly assigned: readonly number[];
  readonly lagByPartition: readonly { readonly partition: number; readonly lag: number }[];
}

/** Why run() returned, with the final progress. */
export interface EtlRunResult {
  readonly stoppedBy: 'stopped' | 'aborted' | 'dlq-threshold' | 'error';
  readonly reason?: string;
  readonly progress: EtlProgress;
}

/** A partition's chain of chunks: its tail, its generation (a failure bumps it) and the work not yet done. */
interface Chain {
  tail: Promise<void>;
  gen: number;
  pending: number;
}

/** One consumer-group member; see the module invariants. */
export class EtlConsumer {
  readonly member = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly applier: Applier;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly dlqGate: DlqGate;
  private readonly mappings: Map<string, CompiledMapping>;
  private readonly leases = new Map<number, Lease>();
  private readonly lowWatermarks = new Map<number, string>();
  private readonly pendingComplete = new Set<number>();
  private readonly lag = new Map<number, number>();
  private assigned: number[] = [];
  /** Per partition: the tail of its chain of chunks, its generation (a failure bumps it) and chunks not yet done. */
  private readonly chains = new Map<number, Chain>();
  private readonly revoked = new Set<number>();
  private applied = { mode: 'shared' as ApplyMode, version: 0 };
  private desired = { mode: 'shared' as ApplyMode, version: 0 };
  private fresh = false;
  private inFlight = 0;
  private switching: Promise<void> | undefined;
  private poll: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private finished!: (r: EtlRunResult) => void;
  private readonly done = new Promise<EtlRunResult>((r) => (this.finished = r));
  private stopResult: Omit<EtlRunResult, 'progress'> = { stoppedBy: 'stopped' };
  private readonly counters = { events: 0, written: 0, skipped: 0, deadLettered: 0, redirected: 0, controls: 0, batches: 0 };
  private onProgress?: (p: EtlProgress) => void;
  private lastReport = { at: Date.now(), events: 0 };
  private markJoined!: () => void;
  /** Resolves when this member first joins the group (gets its assignment); never rejects. */
  readonly joined = new Promise<void>((r) => (this.markJoined = r));

  constructor(private readonly opts: EtlConsumerOptions) {
    this.applier = new Applier({ ...opts, mode: 'shared', pkChange: 'redirect' });
    this.mappings = new Map(opts.mappings.map((m) => [m.sourceId, m]));
    this.dlqGate = new DlqGate(opts.dlq);
    this.consumer = opts.kafka.consumer({
      groupId: opts.group,
      sessionTimeout: opts.sessionTimeout ?? 30_000,
      rebalanceTimeout: opts.rebalanceTimeout ?? 60_000,
      heartbeatInterval: opts.heartbeatInterval ?? 3_000,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: 4 * 1024 * 1024,
      // kafkajs restarts a crashed consumer 200 ms later. A stop() while the group is still joining (a dead member
      // not yet expired holds the rebalance) makes the join crash on its closed connection; restarting then would
      // leave an orphan member that rejoins forever and stalls the group (found by test/faults/worker-kill.fault.ts).
      retry: { retries: 5, restartOnFailure: async () => this.stopping === undefined },
    });
    this.producer = opts.kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
    this.admin = opts.kafka.admin();
  }

  get dlqTopic(): string {
    return this.opts.dlqTopic ?? dlqTopicOf(this.opts.topic);
  }

  /** Current counters, mode and lag. */
  progress(): EtlProgress {
    return {
      member: this.member,
      ...this.counters,
      throttles: this.applier.limiter.throttles,
      mode: this.applied.mode,
      modeVersion: this.applied.version,
      partitions: [...this.leases.keys()].sort((a, b) => a - b),
      assigned: [...this.assigned].sort((a, b) => a - b),
      lagByPartition: [...this.lag].map(([partition, lag]) => ({ partition, lag })).sort((a, b) => a.partition - b.partition),
    };
  }

  /** Connects, joins the group and consumes until stop(), the signal, the DLQ threshold or a fatal error. */
  async run(opts: { signal?: AbortSignal; onProgress?: (p: EtlProgress) => void } = {}): Promise<EtlRunResult> {
    this.onProgress = opts.onProgress;
    const onAbort = () => void this.stop({ stoppedBy: 'aborted' });
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.start();
      if (opts.signal?.aborted) void this.stop({ stoppedBy: 'aborted' });
      return await this.done;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async start(): Promise<void> {
    const { control, group, topic } = this.opts;
    await control.ensureTable();
    const state = await control.initGroup(group, { mode: this.opts.initialMode ?? 'shared', fresh: this.opts.freshTarget ?? false });
    this.fresh = state.fresh && !state.everShared;
    this.desired = { mode: state.mode, version: state.modeVersion };
    this.applier.setMode(state.mode);
    this.applied = { ...this.desired };
    await control.ackMode(group, this.member, state.mode, state.modeVersion);
    await Promise.all([this.admin.connect(), this.producer.connect(), this.consumer.connect()]);
    const topics = await this.admin.listTopics();
    if (!topics.includes(this.dlqTopic)) {
      const meta = await this.admin.fetchTopicMetadata({ topics: [topic] });
      await this.admin.createTopics({ topics: [{ topic: this.dlqTopic, numPartitions: meta.topics[0]?.partitions.length ?? 1 }] }).catch(() => undefined);
    }
    for (const p of await this.admin.fetchTopicOffsets(topic)) this.lowWatermarks.set(p.partition, p.low);
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      this.markJoined();
      void this.onAssignment(e.payload.memberAssignment[topic] ?? []);
    });
    this.poll = setInterval(() => void this.tick().catch((err) => this.opts.log?.(`control poll failed: ${(err as Error).message}`)), this.opts.modePollMs ?? 1_000);
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 4,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  /** Graceful stop: no new batch starts, the in-flight ones finish and commit, leases are released. Idempotent. */
  stop(result: Omit<EtlRunResult, 'progress'> = { stoppedBy: 'stopped' }): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopResult = result;
    this.stopping = (async () => {
      if (this.poll) clearInterval(this.poll);
      await this.drain(); // queued chunks finish and commit while the member is still in the group
      await this.consumer.disconnect().catch(() => undefined);
      await this.drain(); // a batch kafkajs was handing over during the first drain
      await Promise.all([...this.leases.values()].map((l) => this.opts.control.release(l).catch(() => undefined)));
      this.leases.clear();
      await Promise.all([this.producer.disconnect().catch(() => undefined), this.admin.disconnect().catch(() => undefined)]);
      this.finished({ ...this.stopResult, progress: this.progress() });
    })();
    return this.stopping;
  }

  /** Releases the leases of partitions no longer assigned; one still being written is released after its batch. */
  private async onAssignment(partitions: number[]): Promise<void> {
    this.assigned = [...partitions];
    for (const p of this.leases.keys()) if (!partitions.includes(p)) this.revoked.add(p);
    for (const p of [...this.revoked]) if (!this.chains.get(p)?.pending) await this.releasePartition(p);
  }

  private async releasePartition(p: number): Promise<void> {
    this.revoked.delete(p);
    const lease = this.leases.get(p);
    if (!lease || this.assigned.includes(p)) return;
    this.leases.delete(p);
    this.applier.forget(String(p));
    await this.opts.control.release(lease).catch(() => undefined);
  }

  private async refreshMode(): Promise<void> {
    const g = await this.opts.control.getGroup(this.opts.group);
    if (g && g.modeVersion > this.desired.version) this.desired = { mode: g.mode, version: g.modeVersion };
  }

  /** Starts the pending mode switch if there is one: it waits until no batch is in flight, flips, acknowledges. */
  private switchIfNeeded(): Promise<void> | undefined {
    if (!this.switching && this.desired.version > this.applied.version) {
      this.switching = (async () => {
        while (this.inFlight > 0) await sleep(5);
        const d = this.desired;
        this.applier.setMode(d.mode);
        this.applied = { ...d };
        await this.opts.control.ackMode(this.opts.group, this.member, d.mode, d.version);
        this.opts.log?.(`apply mode ${d.mode} (version ${d.version}) in force`);
      })().finally(() => (this.switching = undefined));
    }
    return this.switching;
  }

  /** Waits for a pending mode switch (starting it if needed), then counts this batch in. */
  private async enterBatch(): Promise<void> {
    for (let pending = this.switchIfNeeded(); pending; pending = this.switchIfNeeded()) await pending;
    this.inFlight++;
  }

  /** Background duty (every modePollMs): pick up mode changes, switch when idle, keep held leases alive, report. */
  private async tick(): Promise<void> {
    await this.refreshMode();
    await this.switchIfNeeded();
    const now = Date.now();
    if (now - this.lastReport.at >= 2_000 && !this.switching) {
      const rate = ((this.counters.events - this.lastReport.events) * 1000) / (now - this.lastReport.at);
      this.lastReport = { at: now, events: this.counters.events };
      await this.opts.control.reportMember(this.opts.group, this.member, { mode: this.applied.mode, modeVersion: this.applied.version, events: this.counters.events, throttles: this.applier.limiter.throttles, rate });
    }
    for (const [p, lease] of this.leases) {
      if (!this.opts.control.needsRenewal(lease)) continue;
      await this.opts.control.renew(lease).catch((e) => {
        this.opts.log?.(`lease of partition ${p} not renewed: ${(e as Error).message}`);
        if (e instanceof LeaseLostError && this.leases.get(p) === lease) {
          this.leases.delete(p);
          this.applier.forget(String(p));
        }
      });
    }
  }

  private async ensureLease(partition: number, heartbeat: () => Promise<void>): Promise<Lease> {
    const { control, group, topic } = this.opts;
    const held = this.leases.get(partition);
    if (held) {
      if (!control.needsRenewal(held)) return held;
      const lapsed = !control.isValid(held);
      await control.renew(held);
      if (lapsed) await this.refreshMode(); // a lapsed lease counts as re-acquired: read the mode after it
      return held;
    }
    const { lease, firstEver } = await control.acquire(group, topic, partition, this.member, heartbeat);
    this.leases.set(partition, lease);
    this.applier.forget(String(partition));
    if (firstEver && this.fresh) this.pendingComplete.add(partition);
    await this.refreshMode(); // read the mode after taking the lease (control.ts invariant)
    return lease;
  }

  /**
   * Resolves when every partition's chain has drained. A batch still taking its lease counts as pending with no
   * chunk queued yet: wait on a timer then, never in a loop of settled promises (that would starve the event loop).
   */
  private async drain(): Promise<void> {
    while ([...this.chains.values()].some((c) => c.pending > 0)) {
      await Promise.all([...this.chains.values()].map((c) => c.tail));
      if ([...this.chains.values()].some((c) => c.pending > 0)) await sleep(20);
    }
  }

  private chainOf(p: number): Chain {
    let c = this.chains.get(p);
    if (!c) this.chains.set(p, (c = { tail: Promise.resolve(), gen: 0, pending: 0 }));
    return c;
  }

  /** One piece of a partition's work is done: a revoked partition is released once nothing of it is pending. */
  private async settle(partition: number, chain: Chain): Promise<void> {
    chain.pending--;
    if (chain.pending === 0 && this.revoked.has(partition)) await this.releasePartition(partition).catch(() => undefined);
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { partition } = batch;
    if (!isRunning() || isStale() || this.stopping || !batch.messages.length) return;
    const chain = this.chainOf(partition);
    chain.pending++; // holds the partition (no release on revocation) until its chunks are queued
    let previous: Promise<void>;
    try {
      let lease: Lease;
      try {
        lease = await this.ensureLease(partition, heartbeat);
      } catch (e) {
        await this.onBatchError(partition, e);
        return;
      }
      if (this.pendingComplete.delete(partition) && batch.messages[0].offset === this.lowWatermarks.get(partition) && this.applied.mode === 'exclusive') {
        this.applier.cache(String(partition)).markComplete(); // first owner ever, fresh target, from the first offset
      }
      previous = chain.tail;
      const gen = chain.gen;
      const max = this.opts.maxEventsPerApply ?? 5_000;
      for (let i = 0; i < batch.messages.length; i += max) {
        const messages = batch.messages.slice(i, i + max);
        chain.pending++;
        chain.tail = chain.tail.then(() => this.runChunk(partition, gen, messages, lease, batch.topic, Number(batch.highWatermark)));
      }
      resolveOffset(batch.messages[batch.messages.length - 1].offset); // the fetch position only: commits are explicit
    } finally {
      await this.settle(partition, chain);
    }
    await previous;
    await heartbeat(); // a rebalance surfaces here, as before: kafkajs rejoins
  }

  /**
   * Applies and commits one chunk on its partition's chain; never rejects. A failure drops the chunks queued behind
   * it and seeks the partition back to its first offset. A failed commit is never fatal: the writes are durable, and a
   * commit refused around a rebalance (ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS: the chunk outlived the eachBatch
   * kafkajs waits for) only means the chunk is fetched and re-applied (a no-op) by whoever owns the partition next.
   */
  private async runChunk(partition: number, gen: number, messages: KafkaMessage[], lease: Lease, topic: string, highWatermark: number): Promise<void> {
    const chain = this.chainOf(partition);
    let applied = false;
    try {
      if (gen !== chain.gen || this.stopping) return; // an earlier chunk failed, or the member stops: not applied, not committed
      await this.enterBatch();
      try {
        await this.applyChunk(partition, messages, lease);
        applied = true;
        const last = messages[messages.length - 1].offset;
        await this.consumer.commitOffsets([{ topic, partition, offset: (BigInt(last) + 1n).toString() }]);
        this.lag.set(partition, Math.max(0, highWatermark - Number(last) - 1));
      } finally {
        this.inFlight--;
      }
      this.onProgress?.(this.progress());
    } catch (e) {
      chain.gen++; // the chunks queued behind this one must not run: kafkajs fetches them again after the seek
      if (!this.stopping) {
        try {
          this.consumer.seek({ topic, partition, offset: messages[0].offset });
        } catch {
          // the consumer is not running any more: the next owner starts from the committed offset
        }
      }
      if (applied) {
        this.opts.log?.(`commit of partition ${partition} failed (${(e as Error).message}); its chunk will be fetched and re-applied`);
        await sleep(200);
      } else await this.onBatchError(partition, e);
    } finally {
      await this.settle(partition, chain);
    }
  }

  private async onBatchError(partition: number, e: unknown): Promise<void> {
    if (e instanceof LeaseLostError) {
      this.opts.log?.(e.message);
      this.leases.delete(partition);
      this.applier.forget(String(partition));
    } else if (!isTransient(e) && !isKafkaUnavailable(e) && !this.stopping) {
      this.opts.log?.(`fatal: ${(e as Error).stack ?? e}`);
      void this.stop({ stoppedBy: 'error', reason: (e as Error).message });
    }
    await sleep(200); // the failed messages were not resolved, or the partition was sought back: kafkajs fetches them again
  }

  private async applyChunk(partition: number, messages: KafkaMessage[], lease: Lease): Promise<void> {
    const { topic } = this.opts;
    const parse = this.opts.parse ?? parseCdcMessage;
    const events: CdcEvent[] = [];
    const dead: DeadLetterRecord[] = [];
    const byOffset = new Map<string, KafkaMessage>();
    for (const m of messages) {
      byOffset.set(m.offset, m);
      try {
        const e = parse(topic, partition, m.offset, m.key, m.value);
        if (isControlEvent(e)) this.counters.controls++;
        else events.push(e.origin ? e : { ...e, origin: { topic, partition, offset: m.offset } });
      } catch (err) {
        dead.push(deadLetterRecord({ reason: 'unparseable', error: (err as Error).message, topic, partition, offset: m.offset, key: m.key, value: m.value }));
      }
    }
    const r = await this.applier.apply(events, { scope: String(partition), guard: this.opts.control.guardOf(lease) });
    for (const d of r.deadLetters) {
      const m = d.event?.origin ? byOffset.get(d.event.origin.offset) : undefined;
      dead.push(deadLetterRecord({ reason: d.reason, error: d.error, topic, partition, offset: d.event?.origin?.offset ?? '-1', key: m?.key ?? null, value: m?.value ?? null, event: d.event }));
    }
    await Promise.all([publishDeadLetters(this.producer, this.dlqTopic, dead), this.publishRedirects(r.redirects)]);
    this.counters.events += messages.length;
    this.counters.written += r.written;
    this.counters.skipped += r.skipped;
    this.counters.deadLettered += dead.length;
    this.counters.redirected += r.redirects.length;
    this.counters.batches++;
    const reason = this.dlqGate.record(messages.length, dead.length);
    if (reason && !this.stopping) {
      this.opts.log?.(`pausing: ${reason}`);
      setImmediate(() => void this.stop({ stoppedBy: 'dlq-threshold', reason }));
    }
  }

  private async publishRedirects(redirects: readonly CdcEvent[]): Promise<void> {
    if (!redirects.length) return;
    const messages = redirects.map((e) => {
      const pk = this.mappings.get(`${e.schema}.${e.table}`)?.source.primaryKey ?? [];
      const key = encodeKey(e.data, pk);
      const msg = dataMessage({ schema: e.schema, table: e.table, operation: 'delete', data: e.data, key, point: { version: e.version, gtid: 'pk-change-redirect' } });
      return { key, value: JSON.stringify(msg) };
    });
    await this.producer.send({ topic: this.opts.topic, acks: -1, messages });
  }
}

/**
 * A broker outage longer than kafkajs's own retry budget (a commit or DLQ publish failing with a connection error,
 * wrapped in KafkaJSNumberOfRetriesExceeded / KafkaJSNonRetriableError) is transient for the ETL: the batch is not
 * resolved and is fetched again once the broker is back. Found by test/faults/kafka-outage.fault.ts (Kafka down 30 s
 * stopped the ETL with stoppedBy 'error').
 */
export function isKafkaUnavailable(e: unknown): boolean {
  for (let err = e as { name?: string; retriable?: boolean; cause?: unknown } | undefined, depth = 0; err && depth < 5; err = err.cause as typeof err, depth++) {
    if (err.name === 'KafkaJSNumberOfRetriesExceeded' || err.name === 'KafkaJSConnectionError' || err.name === 'KafkaJSRequestTimeoutError' || (err.name?.startsWith('KafkaJS') && err.retriable === true)) return true;
  }
  return false;
}
