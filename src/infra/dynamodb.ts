/** DynamoDB client factory: the same code talks to dynalite locally and to AWS in production. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { dynamoCredentials, serviceEnv, type ServiceEnv } from './env';

/**
 * A low-level client. Against a local endpoint (dynalite on a loopback host) static dummy credentials are used
 * unless AWS_ACCESS_KEY_ID is set; against AWS (or any non-local endpoint) the default credential chain applies
 * (see dynamoCredentialSource in ./env).
 */
export function createDynamoClient(env: ServiceEnv = serviceEnv()): DynamoDBClient {
  return new DynamoDBClient({
    region: env.awsRegion,
    endpoint: env.dynamoEndpoint,
    credentials: dynamoCredentials(env),
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
