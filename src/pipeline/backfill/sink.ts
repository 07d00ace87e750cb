/**
 * Where backfill loads (and repair re-loads) go. In production: the CDC topic, as DMS `load` records keyed like CDC
 * changes (./kafka-sink.ts), so the partition's consumer is the only writer of each key and a topic replay rebuilds
 * the table, backfill included.
 *
 * Contract: `publish` resolves only once the broker has acknowledged every event (acks=all); a rejected promise
 * means some may or may not have been written (at-least-once: the caller re-publishes the whole batch). Events of
 * one key keep their order.
 */
import type { CdcEvent } from '../types';

export interface LoadSink {
  publish(events: readonly CdcEvent[]): Promise<void>;
}

/** A sink that keeps events in memory (tests and the bench's publish-free baseline). */
export class MemorySink implements LoadSink {
  readonly events: CdcEvent[] = [];
  async publish(events: readonly CdcEvent[]): Promise<void> {
    this.events.push(...events);
  }
}
