/**
 * Dead letters: events the apply could not map or write are published to the DLQ topic (never silently dropped),
 * with the reason and where they came from; the source offset is committed only after the DLQ write is acknowledged.
 * `DlqGate` watches the rate and says when the consumer must pause instead of skipping on.
 */
import type { Message, Producer } from 'kafkajs';
import type { DeadLetterReason } from '../apply/errors';
import type { CdcEvent } from '../types';

/** What a DLQ message holds (JSON value; key = the source message's key). */
export interface DeadLetterRecord {
  readonly reason: DeadLetterReason;
  readonly error: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly source?: string;
  readonly operation?: string;
  readonly version?: string;
  /** The original message value (UTF-8), so it can be fixed and re-published. */
  readonly value: string | null;
  readonly at: string;
}

/** The DLQ topic of a CDC topic, unless configured otherwise. */
export function dlqTopicOf(topic: string): string {
  return `${topic}.dlq`;
}

/** Publishes records to the DLQ topic; resolves when Kafka acknowledged all of them (acks = all). */
export async function publishDeadLetters(producer: Producer, dlqTopic: string, records: readonly DeadLetterRecord[]): Promise<void> {
  if (!records.length) return;
  const messages: Message[] = records.map((r) => ({ key: r.key, value: JSON.stringify(r), headers: { reason: r.reason, 'source-topic': r.topic, 'source-partition': String(r.partition), 'source-offset': r.offset } }));
  await producer.send({ topic: dlqTopic, acks: -1, messages });
}

/** Builds a record for `event` (or for a raw message that did not parse). */
export function deadLetterRecord(args: { reason: DeadLetterReason; error: string; topic: string; partition: number; offset: string; key: Buffer | string | null; value: Buffer | string | null; event?: CdcEvent }): DeadLetterRecord {
  const text = (b: Buffer | string | null) => (b === null ? null : typeof b === 'string' ? b : b.toString('utf8'));
  return {
    reason: args.reason,
    error: args.error,
    topic: args.topic,
    partition: args.partition,
    offset: args.offset,
    key: text(args.key),
    source: args.event ? `${args.event.schema}.${args.event.table}` : undefined,
    operation: args.event?.operation,
    version: args.event?.version,
    value: text(args.value),
    at: new Date().toISOString(),
  };
}

/** When dead letters make the consumer stop. */
export interface DlqGateOptions {
  /** Stop after this many dead letters in this process's run (default: unlimited). */
  readonly maxEvents?: number;
  /** Stop when the fraction of dead letters over the last `window` events exceeds this (default 0.5). */
  readonly maxRate?: number;
  /** Events in the rate window (default 1000; the rate is judged only once the window is full). */
  readonly window?: number;
}

/** Counts dead letters and decides when the consumer must pause; `reason` says why in words. */
export class DlqGate {
  total = 0;
  private recent: { events: number; dead: number }[] = [];
  constructor(private readonly opts: DlqGateOptions = {}) {}

  /** Records a batch; returns a reason to stop, or undefined to go on. */
  record(events: number, dead: number): string | undefined {
    this.total += dead;
    this.recent.push({ events, dead });
    const window = this.opts.window ?? 1000;
    let ev = this.recent.reduce((s, r) => s + r.events, 0);
    while (this.recent.length > 1 && ev - this.recent[0].events >= window) ev -= this.recent.shift()?.events ?? 0;
    const dl = this.recent.reduce((s, r) => s + r.dead, 0);
    if (this.opts.maxEvents !== undefined && this.total > this.opts.maxEvents) return `${this.total} events dead-lettered, more than the allowed ${this.opts.maxEvents}`;
    const rate = this.opts.maxRate ?? 0.5;
    if (ev >= window && dl / ev > rate) return `${dl} of the last ${ev} events dead-lettered (${((100 * dl) / ev).toFixed(1)} % > ${(100 * rate).toFixed(1)} %)`;
    return undefined;
  }
}
