/**
 * DLQ redrive: read the dead letters of a CDC topic (`<topic>.dlq`, ./dlq.ts) and apply each original event again
 * through the normal versioned apply, with the mapping as it is *now* (after the operator fixed it).
 *
 * Invariants:
 * - Idempotent and never regressing: every redriven event is written in shared mode (conditional PutItem
 *   `attribute_not_exists(_v) OR _v < :v`, ../apply/writer.ts), so an event older than what the item holds changes
 *   nothing (reported `stale`), and a second run over the same letters writes nothing.
 * - The ETL group's consumers never write blind past a redriven item: the redrive refuses to start while the group
 *   has a Kafka member or a live partition lease (./replay.ts assertGroupStopped), and holds the leases of every
 *   partition of the CDC topic until it is done, so a consumer started meanwhile waits; when it then takes a lease
 *   it starts with an empty version cache and reads what the redrive stored.
 * - Nothing is lost: an event that fails again is published back to the DLQ (same DLQ partition, new reason and
 *   error, `redriveOf` naming the letter it came from) with acks = all, before the redrive's position is committed.
 * - The position: the DLQ offsets of the durable consumer group `<group>.redrive` are committed (admin setOffsets,
 *   the group never has members; after each batch and at the end) only after every letter before them was applied
 *   or re-dead-lettered, and only by a run that looked at every letter from that group's position on (no reason or
 *   source filter, no start past it); the letters a run re-published are behind its final position too (they were
 *   just tried with this mapping), so a second run with the same mapping does nothing. To try them again after another fix, redrive with `from: earliest`
 *   (harmless: applied events are stale the second time).
 * - Reading uses a throw-away consumer group positioned with setOffsets, so reading never moves the durable position.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { Applier } from '../apply/apply';
import type { DeadLetterReason } from '../apply/errors';
import { isControlEvent, parseCdcMessage } from '../cdc/parser';
import type { CompiledMapping } from '../transform/mapping';
import type { CdcEvent } from '../types';
import type { ControlStore, Lease } from './control';
import { deadLetterRecord, dlqTopicOf, type DeadLetterRecord } from './dlq';
import { RedriveRefusedError, ReplayRefusedError } from './errors';
import { assertGroupStopped } from './replay';

/** Which letters to redrive; everything unset = every letter after the group's committed redrive position. */
export interface RedriveFilter {
  /** Where to start reading each DLQ partition: its first offset, or an offset per partition (others: committed). */
  readonly from?: { readonly earliest: true } | { readonly offsets: Readonly<Record<number, string>> };
  /** Only letters with one of these reasons. */
  readonly reasons?: readonly DeadLetterReason[];
  /** Only letters of these source (CDC topic) positions. */
  readonly sourceOffsets?: readonly { readonly partition: number; readonly offset: string }[];
}

/** What a redrive needs; the caller owns the clients. */
export interface RedriveDeps {
  readonly kafka: Kafka;
  readonly client: DynamoDBClient;
  readonly control: ControlStore;
  readonly log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface RedriveOptions {
  /** The ETL group whose dead letters these are (its leases are held while redriving). */
  readonly group: string;
  /** The CDC topic. */
  readonly topic: string;
  readonly dlqTopic?: string;
  /** The current (fixed) mappings of the group. */
  readonly mappings: readonly CompiledMapping[];
  readonly filter?: RedriveFilter;
  readonly signal?: AbortSignal;
}

/** What happened to one letter. */
export type RedriveOutcome = 'applied' | 'stale' | 'failed' | 'control';

/** One redriven letter: where it was, where it came from, and what happened. */
export interface RedriveEntry {
  readonly dlqPartition: number;
  readonly dlqOffset: string;
  readonly sourceTopic: string;
  readonly sourcePartition: number;
  readonly sourceOffset: string;
  readonly key: string | null;
  /** The reason it was dead-lettered with. */
  readonly reason: DeadLetterReason;
  readonly outcome: RedriveOutcome;
  /** For `failed`: the new reason and error; the letter was re-published at `redeadLettered`. */
  readonly newReason?: DeadLetterReason;
  readonly error?: string;
  readonly redeadLettered?: { readonly partition: number; readonly offset: string };
}

/** The whole run: each letter looked at, counts, and the committed position (null when this run may not move it). */
export interface RedriveResult {
  readonly dlqTopic: string;
  readonly redriveGroup: string;
  readonly entries: readonly RedriveEntry[];
  readonly counts: Readonly<Record<RedriveOutcome | 'filtered', number>>;
  readonly committed: readonly { partition: number; offset: string }[] | null;
  /** Why `committed` is null. */
  readonly notCommitted?: string;
}

/** The durable consumer group that remembers how far `group`'s DLQ was redriven. */
export function redriveGroupOf(group: string): string {
  return `${group}.redrive`;
}

/** A DLQ record as stored, plus where it was read (`redriveOf` is set on letters a redrive re-published). */
type StoredLetter = DeadLetterRecord & { readonly redriveOf?: { partition: number; offset: string } };

/** Where each DLQ partition's reading starts and ends, and whether the run may commit its end. */
async function plan(admin: Admin, dlqTopic: string, redriveGroup: string, filter: RedriveFilter): Promise<{ start: Map<number, string>; end: Map<number, string>; commit: boolean; notCommitted?: string }> {
  const bounds = await admin.fetchTopicOffsets(dlqTopic);
  const committedRaw = (await admin.fetchOffsets({ groupId: redriveGroup, topics: [dlqTopic] }))[0]?.partitions ?? [];
  const committed = new Map(committedRaw.filter((p) => Number(p.offset) >= 0).map((p) => [p.partition, p.offset]));
  const start = new Map<number, string>();
  const end = new Map<number, string>();
  let commit = !filter.reasons?.length && !filter.sourceOffsets?.length;
  let notCommitted = commit ? undefined : 'only some reasons or source offsets were redriven';
  const explicit = filter.from && 'offsets' in filter.from ? filter.from.offsets : {};
  for (const p of Object.keys(explicit).map(Number)) {
    if (!bounds.some((b) => b.partition === p)) throw new RedriveRefusedError('bad-offset', dlqTopic, `partition ${p} does not exist (the topic has ${bounds.length})`);
  }
  for (const b of bounds) {
    const resume = BigInt(committed.get(b.partition) ?? b.low) < BigInt(b.low) ? b.low : committed.get(b.partition) ?? b.low;
    const from = filter.from && 'earliest' in filter.from ? b.low : explicit[b.partition] ?? resume;
    if (BigInt(from) < BigInt(b.low) || BigInt(from) > BigInt(b.high)) throw new RedriveRefusedError('bad-offset', dlqTopic, `offset ${from} of partition ${b.partition} is outside [${b.low}, ${b.high}]`);
    if (BigInt(from) > BigInt(resume)) {
      commit = false;
      notCommitted ??= `partition ${b.partition} was read from ${from}, past the redrive position ${resume}`;
    }
    start.set(b.partition, from);
    end.set(b.partition, b.high);
  }
  return { start, end, commit, notCommitted };
}

/** Reads every DLQ message in [start, end) per partition through a throw-away group; calls `each` per batch, in offset order. */
async function readRange(kafka: Kafka, admin: Admin, dlqTopic: string, start: Map<number, string>, end: Map<number, string>, each: (partition: number, messages: KafkaMessage[]) => Promise<void>, signal?: AbortSignal): Promise<void> {
  const pending = new Set([...start].filter(([p, o]) => BigInt(o) < BigInt(end.get(p) ?? '0')).map(([p]) => p));
  if (!pending.size) return;
  const readerGroup = `cutover-redrive-reader-${randomUUID()}`;
  await admin.setOffsets({ groupId: readerGroup, topic: dlqTopic, partitions: [...start].map(([partition, offset]) => ({ partition, offset })) });
  const consumer = kafka.consumer({ groupId: readerGroup, maxWaitTimeInMs: 200, allowAutoTopicCreation: false, maxBytesPerPartition: 4 * 1024 * 1024 });
  let failed: unknown;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const onAbort = () => finish();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: dlqTopic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        if (failed || !pending.has(batch.partition)) return;
        const last = BigInt(end.get(batch.partition) ?? '0');
        const messages = batch.messages.filter((m) => BigInt(m.offset) < last);
        try {
          if (messages.length) await each(batch.partition, messages);
        } catch (e) {
          failed = e;
          finish();
          return;
        }
        for (const m of messages) resolveOffset(m.offset);
        if (BigInt(batch.messages[batch.messages.length - 1]?.offset ?? '-1') + 1n >= last || (messages.length && BigInt(messages[messages.length - 1].offset) + 1n >= last)) {
          pending.delete(batch.partition);
          if (!pending.size) finish();
        }
      },
    });
    await done;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([readerGroup]).catch(() => undefined);
  }
  if (failed) throw failed;
  if (signal?.aborted) throw signal.reason;
}

/** Applies one letter's original event; returns its outcome (never throws for a bad letter, only for I/O). */
async function redriveOne(applier: Applier, rec: StoredLetter): Promise<{ outcome: RedriveOutcome; newReason?: DeadLetterReason; error?: string; event?: CdcEvent }> {
  let parsed;
  try {
    parsed = parseCdcMessage(rec.topic, rec.partition, rec.offset, rec.key, rec.value);
  } catch (e) {
    return { outcome: 'failed', newReason: 'unparseable', error: (e as Error).message };
  }
  if (isControlEvent(parsed)) return { outcome: 'control' };
  const event: CdcEvent = parsed.origin ? parsed : { ...parsed, origin: { topic: rec.topic, partition: rec.partition, offset: rec.offset } };
  const r = await applier.apply([event]);
  if (r.deadLetters.length) return { outcome: 'failed', newReason: r.deadLetters[0].reason, error: r.deadLetters[0].error, event };
  return { outcome: r.written > 0 ? 'applied' : 'stale', event };
}

/** Takes the lease of every partition of the CDC topic (the group is stopped, so they are free; a taken one refuses). */
async function holdLeases(control: ControlStore, group: string, topic: string, admin: Admin, owner: string, signal?: AbortSignal): Promise<Lease[]> {
  const partitions = (await admin.fetchTopicOffsets(topic)).map((p) => p.partition);
  const leases: Lease[] = [];
  const taken = (p: number) => async (): Promise<void> => {
    throw new ReplayRefusedError('lease-held', group, topic, `an ETL process took the lease of partition ${p} after the group was found stopped; stop every ETL process of group ${group} and redrive again`);
  };
  try {
    for (const p of partitions) leases.push((await control.acquire(group, topic, p, owner, taken(p), signal)).lease);
  } catch (e) {
    await Promise.all(leases.map((l) => control.release(l).catch(() => undefined)));
    throw e;
  }
  return leases;
}

/** Publishes the re-failed letters to their DLQ partition; returns the offset each got. */
async function republish(producer: Producer, dlqTopic: string, partition: number, letters: StoredLetter[]): Promise<string[]> {
  if (!letters.length) return [];
  const [meta] = await producer.send({
    topic: dlqTopic,
    acks: -1,
    messages: letters.map((r) => ({ key: r.key, partition, value: JSON.stringify(r), headers: { reason: r.reason, 'source-topic': r.topic, 'source-partition': String(r.partition), 'source-offset': r.offset } })),
  });
  const base = BigInt(meta?.baseOffset ?? '-1');
  if (base < 0n) throw new RedriveRefusedError('publish-failed', dlqTopic, `Kafka returned no offset for ${letters.length} re-dead-lettered event(s) on partition ${partition}`);
  return letters.map((_, i) => String(base + BigInt(i)));
}

/**
 * Redrives the DLQ of `topic` (see the module invariants): refuses (ReplayRefusedError) while the ETL group runs,
 * RedriveRefusedError when the DLQ topic is missing or an offset is bad; otherwise reports every letter it looked at.
 */
export async function redriveDlq(deps: RedriveDeps, o: RedriveOptions): Promise<RedriveResult> {
  const dlqTopic = o.dlqTopic ?? dlqTopicOf(o.topic);
  const redriveGroup = redriveGroupOf(o.group);
  const filter = o.filter ?? {};
  const admin = deps.kafka.admin();
  const producer = deps.kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  const owner = `redrive:${randomUUID().slice(0, 8)}`;
  let leases: Lease[] = [];
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(dlqTopic)) throw new RedriveRefusedError('no-dlq-topic', dlqTopic, `the DLQ topic does not exist (no event of ${o.topic} was ever dead-lettered, or --dlq-topic names another)`);
    await deps.control.ensureTable();
    await assertGroupStopped(admin, deps.control, o.group, o.topic);
    const { start, end, commit, notCommitted } = await plan(admin, dlqTopic, redriveGroup, filter);
    leases = await holdLeases(deps.control, o.group, o.topic, admin, owner, o.signal);
    await producer.connect();
    const applier = new Applier({ client: deps.client, mappings: o.mappings, mode: 'shared', pkChange: 'direct' });
    const entries: RedriveEntry[] = [];
    const counts = { applied: 0, stale: 0, failed: 0, control: 0, filtered: 0 };
    const lastWritten = new Map<number, bigint>();
    const reasons = filter.reasons?.length ? new Set<string>(filter.reasons) : undefined;
    const sources = filter.sourceOffsets?.length ? new Set(filter.sourceOffsets.map((s) => `${s.partition}:${s.offset}`)) : undefined;
    await readRange(deps.kafka, admin, dlqTopic, start, end, async (dlqPartition, messages) => {
      const again: StoredLetter[] = [];
      const pendingEntries: { entry: Omit<RedriveEntry, 'redeadLettered'>; index?: number }[] = [];
      for (const m of messages) {
        for (const l of leases) if (deps.control.needsRenewal(l)) await deps.control.renew(l);
        let rec: StoredLetter;
        try {
          rec = JSON.parse(m.value?.toString('utf8') ?? '') as StoredLetter;
          if (typeof rec.topic !== 'string' || typeof rec.offset !== 'string' || typeof rec.partition !== 'number') throw new Error('no source topic/partition/offset');
        } catch (e) {
          throw new RedriveRefusedError('bad-record', dlqTopic, `the message at partition ${dlqPartition} offset ${m.offset} is not a dead-letter record (${(e as Error).message}); skip it with --redrive-from`);
        }
        if ((reasons && !reasons.has(rec.reason)) || (sources && !sources.has(`${rec.partition}:${rec.offset}`))) {
          counts.filtered++;
          continue;
        }
        const r = await redriveOne(applier, rec);
        counts[r.outcome]++;
        const entry = { dlqPartition, dlqOffset: m.offset, sourceTopic: rec.topic, sourcePartition: rec.partition, sourceOffset: rec.offset, key: rec.key, reason: rec.reason, outcome: r.outcome, newReason: r.newReason, error: r.error };
        if (r.outcome === 'failed') {
          const fresh = deadLetterRecord({ reason: r.newReason ?? 'unparseable', error: r.error ?? '', topic: rec.topic, partition: rec.partition, offset: rec.offset, key: rec.key, value: rec.value, event: r.event });
          pendingEntries.push({ entry, index: again.push({ ...fresh, redriveOf: { partition: dlqPartition, offset: m.offset } }) - 1 });
        } else pendingEntries.push({ entry });
      }
      const offsets = await republish(producer, dlqTopic, dlqPartition, again);
      if (offsets.length) lastWritten.set(dlqPartition, BigInt(offsets[offsets.length - 1]));
      for (const { entry, index } of pendingEntries) {
        const e: RedriveEntry = index === undefined ? entry : { ...entry, redeadLettered: { partition: dlqPartition, offset: offsets[index] } };
        entries.push(e);
        deps.log?.('redrive', { ...e });
      }
      // progress: a run that crashes later resumes after this batch (its re-dead-letters lie past `end`: they are
      // covered by the final commit only, and a crash before it just tries them once more)
      if (commit) await admin.setOffsets({ groupId: redriveGroup, topic: dlqTopic, partitions: [{ partition: dlqPartition, offset: String(BigInt(messages[messages.length - 1].offset) + 1n) }] });
    }, o.signal);
    let committed: { partition: number; offset: string }[] | null = null;
    if (commit) {
      committed = [...end].map(([partition, high]) => {
        const re = lastWritten.get(partition);
        return { partition, offset: String(re !== undefined && re + 1n > BigInt(high) ? re + 1n : BigInt(high)) };
      });
      await admin.setOffsets({ groupId: redriveGroup, topic: dlqTopic, partitions: committed });
    }
    return { dlqTopic, redriveGroup, entries, counts, committed, notCommitted: commit ? undefined : notCommitted };
  } finally {
    await Promise.all(leases.map((l) => deps.control.release(l).catch(() => undefined)));
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}
