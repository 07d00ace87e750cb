/** Kafka client factory (kafkajs), with a namespaced logger that stays quiet unless asked. */
import { Kafka, logLevel, type Admin, type KafkaConfig } from 'kafkajs';
import { serviceEnv } from './env';

/** A kafkajs client for the configured brokers; `clientId` names the component in broker logs. */
export function createKafka(clientId: string, extra: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId,
    brokers: [...serviceEnv().kafkaBrokers],
    logLevel: process.env.CUTOVER_KAFKA_LOG === 'debug' ? logLevel.DEBUG : logLevel.ERROR,
    retry: { initialRetryTime: 200, retries: 10, maxRetryTime: 5_000 },
    ...extra,
  });
}

/** Runs `fn` with a connected admin client of `kafka`, disconnecting it however `fn` ends. */
export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}
