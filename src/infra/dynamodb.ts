/** DynamoDB client factory: the same code talks to dynalite locally and to AWS in production. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { serviceEnv, type ServiceEnv } from './env';

/**
 * A low-level client. Against a local endpoint (dynalite) static dummy credentials are used unless
 * AWS_ACCESS_KEY_ID is set; against AWS the default credential chain applies.
 */
export function createDynamoClient(env: ServiceEnv = serviceEnv()): DynamoDBClient {
  const local = env.dynamoEndpoint !== undefined && !process.env.AWS_ACCESS_KEY_ID;
  return new DynamoDBClient({
    region: env.awsRegion,
    endpoint: env.dynamoEndpoint,
    credentials: local ? { accessKeyId: 'local', secretAccessKey: 'local' } : undefined,
    maxAttempts: 8,
  });
}

/** A document client over `client`; numbers beyond 2^53 stay exact because we never convert to JS numbers. */
export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: true },
  });
}
