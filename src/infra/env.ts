/**
 * Connection settings for the four services, from the environment. Defaults match `scripts/stack` (all on
 * 127.0.0.1); against AWS, set CUTOVER_DYNAMO_ENDPOINT to empty and let the AWS default credential chain apply.
 * Credentials are read here and nowhere else, and are never logged or passed into workflow history.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
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

/** Static credentials dynalite accepts (it checks none); never used for an endpoint that is not local. */
const LOCAL_DUMMY_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * How DynamoDB requests are signed. Dummy credentials are used only when the endpoint is a local emulator — a
 * loopback host, or any host when CUTOVER_DYNAMO_LOCAL_CREDENTIALS=1 says so explicitly — and AWS_ACCESS_KEY_ID is
 * not set. Every other configuration (empty endpoint = AWS, a VPC or regional endpoint) uses the AWS default
 * credential chain, so a real-AWS config never silently falls back to dummies.
 */
export function dynamoCredentialSource(env: ServiceEnv = serviceEnv()): 'local-dummy' | 'default-chain' {
  if (env.dynamoEndpoint === undefined || process.env.AWS_ACCESS_KEY_ID) return 'default-chain';
  if (process.env.CUTOVER_DYNAMO_LOCAL_CREDENTIALS === '1') return 'local-dummy';
  let host: string;
  try {
    host = new URL(env.dynamoEndpoint).hostname;
  } catch {
    return 'default-chain';
  }
  return LOOPBACK.has(host) ? 'local-dummy' : 'default-chain';
}

/** The `credentials` option for a DynamoDB client: the local dummies, or undefined (the SDK's default chain). */
export function dynamoCredentials(env: ServiceEnv = serviceEnv()): { accessKeyId: string; secretAccessKey: string } | undefined {
  return dynamoCredentialSource(env) === 'local-dummy' ? { ...LOCAL_DUMMY_CREDENTIALS } : undefined;
}

/**
 * What the AWS default credential chain tries, in order, with whether each source is configured here: names of
 * settings and files only, never a value. For error messages when no credentials resolve.
 */
export function awsCredentialChain(): string[] {
  const e = process.env;
  const set = (n: string): string => `${n} ${e[n] ? 'set' : 'unset'}`;
  const home = os.homedir();
  const credFile = e.AWS_SHARED_CREDENTIALS_FILE ? 'AWS_SHARED_CREDENTIALS_FILE' : '~/.aws/credentials';
  const confFile = e.AWS_CONFIG_FILE ? 'AWS_CONFIG_FILE' : '~/.aws/config';
  const exists = (f: string | undefined, dflt: string): string => (fs.existsSync(f ?? path.join(home, '.aws', dflt)) ? 'present' : 'missing');
  return [
    `environment (${set('AWS_ACCESS_KEY_ID')}, ${set('AWS_SECRET_ACCESS_KEY')})`,
    `shared files (${set('AWS_PROFILE')}; ${credFile} ${exists(e.AWS_SHARED_CREDENTIALS_FILE, 'credentials')}, ${confFile} ${exists(e.AWS_CONFIG_FILE, 'config')}; SSO and credential_process profiles live there)`,
    `web identity (${set('AWS_WEB_IDENTITY_TOKEN_FILE')}, ${set('AWS_ROLE_ARN')})`,
    `container credentials (${set('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI')}, ${set('AWS_CONTAINER_CREDENTIALS_FULL_URI')})`,
    e.AWS_EC2_METADATA_DISABLED === 'true' ? 'EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)' : 'EC2 instance metadata (no instance role answered)',
  ];
}
