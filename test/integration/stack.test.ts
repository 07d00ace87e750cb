/** Smoke tests on the real stack: each service answers, and MariaDB is configured for CDC. */
import { ConditionalCheckFailedException, CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Worker } from '@temporalio/worker';
import type { RowDataPacket } from 'mysql2/promise';
import { createDocumentClient, createDynamoClient } from '../../src/infra/dynamodb';
import { createKafka } from '../../src/infra/kafka';
import { createMysqlPool } from '../../src/infra/mysql';
import { createTemporalClient, createWorkerConnection } from '../../src/infra/temporal';
import { buildActivities } from '../../src/workers/activities';
import { workflowBundle } from '../../src/workers/bundle';
import { smokeWorkflow } from '../../src/workflows';
import { uniqueName } from '../support/ids';

describe('MariaDB', () => {
  const pool = createMysqlPool();
  afterAll(() => pool.end());

  it('has the binlog settings CDC needs', async () => {
    const [rows] = await pool.query<RowDataPacket[]>(
      'SELECT @@log_bin AS log_bin, @@binlog_format AS fmt, @@binlog_row_image AS image, @@binlog_row_metadata AS meta, @@server_id AS sid',
    );
    expect(rows[0]).toEqual({ log_bin: '1', fmt: 'ROW', image: 'FULL', meta: 'FULL', sid: '1' });
  });

  it('keeps BIGINT and DECIMAL exact', async () => {
    const [rows] = await pool.query<RowDataPacket[]>("SELECT CAST('18446744073709551615' AS UNSIGNED) AS big, CAST('12345678901234567890.123456789' AS DECIMAL(38,9)) AS exact_dec");
    expect(rows[0]).toEqual({ big: '18446744073709551615', exact_dec: '12345678901234567890.123456789' });
  });
});

describe('Kafka', () => {
  it('produces and consumes a message', async () => {
    const kafka = createKafka('smoke-test');
    const topic = uniqueName('smoke');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'k1', value: 'v1' }] });
    const consumer = kafka.consumer({ groupId: uniqueName('g') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got = await new Promise<{ key: string; value: string }>((resolve) => {
      void consumer.run({ eachMessage: async ({ message }) => resolve({ key: String(message.key), value: String(message.value) }) });
    });
    expect(got).toEqual({ key: 'k1', value: 'v1' });
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
  });
});

describe('dynalite', () => {
  const client = createDynamoClient();
  const doc = createDocumentClient(client);
  const TableName = uniqueName('smoke');
  beforeAll(async () => {
    await client.send(new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    }));
  });
  afterAll(async () => {
    await client.send(new DeleteTableCommand({ TableName }));
    client.destroy();
  });

  it('puts, gets and refuses a conditional put whose condition fails', async () => {
    await doc.send(new PutCommand({ TableName, Item: { pk: 'a', v: 1 } }));
    const got = await doc.send(new GetCommand({ TableName, Key: { pk: 'a' } }));
    expect(got.Item?.v?.toString()).toBe('1');
    await expect(
      doc.send(new PutCommand({ TableName, Item: { pk: 'a', v: 2 }, ConditionExpression: 'attribute_not_exists(pk)' })),
    ).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    const after = await doc.send(new GetCommand({ TableName, Key: { pk: 'a' } }));
    expect(after.Item?.v?.toString()).toBe('1');
  });
});

describe('Temporal', () => {
  it('runs the smoke workflow through a real worker and dev server', async () => {
    const deps = buildActivities();
    const connection = await createWorkerConnection();
    const taskQueue = uniqueName('smoke');
    const worker = await Worker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities: deps.activities });
    const client = await createTemporalClient();
    try {
      const result = await worker.runUntil(client.workflow.execute(smokeWorkflow, { taskQueue, workflowId: uniqueName('smoke'), args: ['test'] }));
      expect(result.greeting).toBe('hello, test');
      expect(result.mysqlVersion).toMatch(/MariaDB/);
      expect(result.dynamoTables).toBeGreaterThanOrEqual(0);
    } finally {
      await client.connection.close();
      await connection.close();
      await deps.close();
    }
  });
});
