/** Kafka client factory (kafkajs), with a namespaced logger that stays quiet unless asked. */
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
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
