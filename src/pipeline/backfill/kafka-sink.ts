/**
 * The production LoadSink: backfill loads (and repair's loads and deletes) go to the CDC topic in the same DMS JSON
 * format, with the same message key (the primary key, ../cdc/dms-format.ts `encodeKey`) and the same partitioner
 * (kafkajs' default murmur2, which the CDC publisher uses), so each key's loads land on the partition that carries
 * its changes and that partition's consumer stays the only writer of the key. A topic replay therefore rebuilds the
 * table, backfill included.
 *
 * Invariants: `publish` resolves after acks=all for every message (idempotent producer, one request in flight, so
 * the order of one key's messages is kept); the version travels in `stream-position` (`cutover:1:<version>:load:`),
 * which the parser reads back exactly.
 */
import type { Kafka, Producer } from 'kafkajs';
import { dataMessage, encodeKey } from '../cdc/dms-format';
import type { CdcEvent } from '../types';
import type { LoadSink } from './sink';

export class KafkaLoadSink implements LoadSink {
  private constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly keyColumns: readonly string[],
    private readonly maxBatch: number,
  ) {}

  /** Connects an idempotent producer for `topic`; `keyColumns` are the primary-key columns in key order. */
  static async create(kafka: Kafka, topic: string, keyColumns: readonly string[], opts: { maxBatch?: number } = {}): Promise<KafkaLoadSink> {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    return new KafkaLoadSink(producer, topic, keyColumns, opts.maxBatch ?? 2_000);
  }

  /** The DMS message (key and value) of one event. */
  encode(e: CdcEvent): { key: string; value: string } {
    const key = encodeKey(e.data, this.keyColumns);
    const point = { version: e.version, gtid: e.operation === 'load' ? 'load' : `repair` };
    return { key, value: JSON.stringify(dataMessage({ schema: e.schema, table: e.table, operation: e.operation, data: e.data, key, point })) };
  }

  async publish(events: readonly CdcEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += this.maxBatch) {
      await this.producer.send({ topic: this.topic, acks: -1, messages: events.slice(i, i + this.maxBatch).map((e) => this.encode(e)) });
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}
