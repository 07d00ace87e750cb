/**
 * A real dynalite table behind a fault-injecting HTTP proxy, for apply tests of DynamoDB answers dynalite never
 * gives (throttling, partial batches, validation errors): `direct` talks to dynalite, `proxied` through the proxy,
 * whose request handler the test supplies (given dynalite's URL to forward to).
 */
import * as http from 'node:http';
import { CreateTableCommand, DeleteTableCommand, waitUntilTableExists, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { serviceEnv } from '../../../src/infra/env';

export interface ProxyBed {
  readonly direct: DynamoDBClient;
  readonly proxied: DynamoDBClient;
  /** Deletes the table, closes both clients and the proxy. */
  close(): Promise<void>;
}

/** Creates `table` (hash key `pk`, string) and starts the proxy with `handler(upstream)`. */
export async function startProxyBed(table: string, handler: (upstream: URL) => http.RequestListener): Promise<ProxyBed> {
  const direct = createDynamoClient();
  await direct.send(new CreateTableCommand({ TableName: table, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }));
  await waitUntilTableExists({ client: direct, maxWaitTime: 60 }, { TableName: table });
  const proxy = http.createServer(handler(new URL(serviceEnv().dynamoEndpoint ?? 'http://127.0.0.1:18000')));
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const port = (proxy.address() as { port: number }).port;
  const proxied = createDynamoClient({ ...serviceEnv(), dynamoEndpoint: `http://127.0.0.1:${port}` });
  return {
    direct,
    proxied,
    async close() {
      await direct.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
      direct.destroy();
      proxied.destroy();
      await new Promise((r) => proxy.close(r));
    },
  };
}
