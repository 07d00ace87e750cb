/**
 * Connection settings for the four services, from the environment. Defaults match `scripts/stack` (all on
 * 127.0.0.1); against AWS, set CUTOVER_DYNAMO_ENDPOINT to empty and let the AWS default credential chain apply.
 * Credentials are read here and nowhere else, and are never logged or passed into workflow history.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ServiceEnv {
  readonly mysqlUrl: string;
  readonly kafkaBrokers: readonly string[];
  /** Empty means "real AWS": the SDK resolves the regional endpoint and the default credential chain. */
  readonly dynamoEndpoint: string | undefined;
  readonly awsRegion: string;
  readonly temporalAddress: string;
  readonly temporalNamespace: string;
  readonly temporalUi: string;
  readonly temporalTestServer: string | undefined;
}

const DEFAULTS: Record<string, string> = {
  CUTOVER_MYSQL_URL: 'mysql://cutover:cutover@127.0.0.1:13306/cutover',
  CUTOVER_KAFKA_BROKERS: '127.0.0.1:19092',
  CUTOVER_DYNAMO_ENDPOINT: 'http://127.0.0.1:18000',
  CUTOVER_TEMPORAL_ADDRESS: '127.0.0.1:7233',
  CUTOVER_TEMPORAL_NAMESPACE: 'default',
  CUTOVER_TEMPORAL_UI: 'http://127.0.0.1:8233',
};

/** Copies `.stack/env` (written by `scripts/stack up`) into process.env for keys not already set. */
export function loadStackEnv(stackDir = process.env.CUTOVER_STACK_DIR ?? path.join(__dirname, '..', '..', '.stack')): void {
  const file = path.join(stackDir, 'env');
  if (!fs.existsSync(file)) return;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m && process.env[m[1]] === undefined) process.env[m[1]] = m[2];
  }
}

function get(name: string): string {
  return process.env[name] ?? DEFAULTS[name] ?? '';
}

/** The service settings in force now. */
export function serviceEnv(): ServiceEnv {
  const endpoint = get('CUTOVER_DYNAMO_ENDPOINT');
  return {
    mysqlUrl: get('CUTOVER_MYSQL_URL'),
    kafkaBrokers: get('CUTOVER_KAFKA_BROKERS').split(',').map((b) => b.trim()).filter(Boolean),
    dynamoEndpoint: endpoint === '' ? undefined : endpoint,
    awsRegion: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    temporalAddress: get('CUTOVER_TEMPORAL_ADDRESS'),
    temporalNamespace: get('CUTOVER_TEMPORAL_NAMESPACE'),
    temporalUi: get('CUTOVER_TEMPORAL_UI'),
    temporalTestServer: process.env.CUTOVER_TEMPORAL_TEST_SERVER,
  };
}
