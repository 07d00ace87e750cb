/** Helpers for the consumer integration tests: topics, DMS-format messages, waiting, reading a whole table. */
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin, Producer } from 'kafkajs';
import { dataMessage, encodeKey } from '../../../src/pipeline/cdc/dms-format';
import type { Item } from '../../../src/pipeline/item';
import type { CdcOperation, Row } from '../../../src/pipeline/types';

export const USERS_MAPPING = (source: string, table: string) => ({
  source,
  target: table,
  partitionKey: { attribute: 'pk', template: 'USER#{id}' },
  sortKey: { attribute: 'sk', template: 'PROFILE' },
  nulls: 'omit' as const,
  rename: { email_address: 'email' },
  columns: { id: { sqlType: 'bigint' }, balance: { sqlType: 'decimal(12,2)' }, prefs: { type: 'json' as const } },
});

/** A DMS-format message for `row` of schema.table. */
export function dms(schema: string, table: string, operation: CdcOperation, row: Row, version: string, before?: Row): { key: string; value: string } {
  const key = encodeKey(row, ['id']);
  return { key, value: JSON.stringify(dataMessage({ schema, table, operation, data: row, before, key, point: { version, gtid: `0-1-${version}` } })) };
}

export async function createTopic(admin: Admin, topic: string, partitions: number): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
}

export async function produce(producer: Producer, topic: string, messages: { key: string; value: string }[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 500) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500) });
}

export async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 40_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every item of `table`, sorted by key, as JSON text (for item-by-item comparison). */
export async function scanAll(client: DynamoDBClient, table: string): Promise<Item[]> {
  const out: Item[] = [];
  let start: Item | undefined;
  do {
    const r = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
    out.push(...(r.Items ?? []));
    start = r.LastEvaluatedKey;
  } while (start);
  return out.sort((a, b) => JSON.stringify([a.pk, a.sk]).localeCompare(JSON.stringify([b.pk, b.sk])));
}
