/** Shared fixtures for the CDC integration tests: a private database + metadata database, a topic reader. */
import type { Kafka, KafkaMessage } from 'kafkajs';
import * as mysql from 'mysql2/promise';
import { createKafka } from '../../../src/infra/kafka';
import { mysqlConnectionParams } from '../../../src/infra/mysql';
import { CheckpointStore } from '../../../src/pipeline/cdc/checkpoint';
import { ROW_QUERY_OPTIONS } from '../../../src/pipeline/row/codec';
import { uniqueName } from '../../support/ids';

export interface CdcFixture {
  readonly db: string;
  readonly metaDb: string;
  readonly pool: mysql.Pool;
  readonly store: CheckpointStore;
  readonly kafka: Kafka;
  readonly topic: string;
  close(): Promise<void>;
}

export async function cdcFixture(prefix: string): Promise<CdcFixture> {
  const p = mysqlConnectionParams();
  const pool = mysql.createPool({ ...ROW_QUERY_OPTIONS, host: p.host, port: p.port, user: p.user, password: p.password, connectionLimit: 4 });
  const db = uniqueName(prefix);
  const metaDb = `${db}_meta`;
  await pool.query(`CREATE DATABASE ${db} CHARACTER SET utf8mb4`);
  await pool.query(`CREATE DATABASE ${metaDb}`);
  const store = new CheckpointStore(pool, metaDb);
  await store.ensureSchema();
  const kafka = createKafka(uniqueName('cdc_test'));
  const topic = uniqueName(`${prefix}_topic`);
  return {
    db, metaDb, pool, store, kafka, topic,
    async close() {
      const admin = kafka.admin();
      await admin.connect();
      if ((await admin.listTopics()).includes(topic)) await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
      await pool.query(`DROP DATABASE IF EXISTS ${db}`);
      await pool.query(`DROP DATABASE IF EXISTS ${metaDb}`);
      await pool.end();
    },
  };
}

export interface TopicMessage {
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: Record<string, unknown>;
  readonly raw: KafkaMessage;
}

/** Reads `topic` from the beginning until `done(messages)` holds or `timeoutMs` passes; returns what it read. */
export async function readTopic(kafka: Kafka, topic: string, done: (m: TopicMessage[]) => boolean, timeoutMs = 30_000): Promise<TopicMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('cdc_reader_group'), maxWaitTimeInMs: 100 });
  const out: TopicMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let resolveDone: () => void = () => undefined;
    const finished = new Promise<void>((r) => (resolveDone = r));
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        out.push({ partition, offset: message.offset, key: message.key?.toString() ?? null, value: JSON.parse(message.value!.toString()) as Record<string, unknown>, raw: message });
        if (done(out)) resolveDone();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([finished, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

export { createKafka };
