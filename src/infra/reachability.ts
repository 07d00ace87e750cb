/**
 * Start-up checks of the four services cutover talks to: are the credentials there, does each endpoint resolve and
 * answer, does MySQL accept the user. Every problem is one typed error naming the service, the endpoint and the
 * setting to fix — never a password, a key or a token.
 *
 * Guarantees:
 * - Bounded: each probe gives up after `timeoutMs` (default 4 s; DNS, TCP, MySQL handshake and the Kafka metadata
 *   request each bounded), and the services are probed in parallel, so a check takes seconds, never kafkajs's
 *   minutes of retries.
 * - Two policies over the same probes: `assertServicesReady` (CLI commands, the preflight activity) fails at once
 *   with one EnvironmentNotReadyError listing every problem; `waitForServices` (long-running processes: worker,
 *   `npm run etl`, `npm run cdc`) logs a warning per unreachable service and retries with capped backoff until
 *   they answer, but fails at once on a problem waiting cannot fix (missing credentials, a rejected MySQL user).
 */
import * as dns from 'node:dns';
import * as net from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Kafka, logLevel } from 'kafkajs';
import * as mysql from 'mysql2/promise';
import { ConfigError, CutoverError } from '../shared/errors';
import { awsCredentialChain, dynamoCredentials, serviceEnv, type ServiceEnv } from './env';

/** A service cutover depends on. */
export type ServiceName = 'mysql' | 'kafka' | 'dynamodb' | 'temporal' | 'dms';

const LABEL: Record<ServiceName, string> = { mysql: 'MySQL', kafka: 'Kafka', dynamodb: 'DynamoDB', temporal: 'Temporal', dms: 'AWS DMS' };

/** The service's endpoint does not resolve or does not answer; retrying may succeed once it is up. */
export class ServiceUnreachableError extends CutoverError {
  override readonly retriable = true;
  constructor(
    readonly service: ServiceName,
    readonly endpoint: string,
    readonly setting: string,
    readonly reason: string,
  ) {
    super(`${LABEL[service]} at ${endpoint} is unreachable: ${reason} (check ${setting})`);
  }
}

/** No credentials for the service: `tried` lists what was looked at (setting and file names, never values). */
export class MissingCredentialsError extends CutoverError {
  constructor(
    readonly service: ServiceName,
    readonly endpoint: string,
    readonly tried: readonly string[],
    readonly fix: string,
  ) {
    super(`no credentials for ${LABEL[service]} at ${endpoint}: tried ${tried.join('; ')}. ${fix}`);
  }
}

/** The service refused the configured user (wrong password, unknown user, host not allowed). */
export class CredentialsRejectedError extends CutoverError {
  constructor(
    readonly service: ServiceName,
    readonly endpoint: string,
    readonly user: string,
    readonly setting: string,
    readonly reason: string,
  ) {
    super(`${LABEL[service]} at ${endpoint} rejected user '${user}': ${reason} (check ${setting})`);
  }
}

/** One or more services are not usable; nothing was started. `problems` holds one typed error per service. */
export class EnvironmentNotReadyError extends CutoverError {
  constructor(readonly problems: readonly CutoverError[]) {
    super(problems.length === 1 ? problems[0].message : `${problems.length} problems:\n${problems.map((p) => `  - ${p.message}`).join('\n')}`);
  }
}

/** Options of every check. */
export interface CheckOptions {
  /** Bound of each network step (DNS, connect, handshake), ms. */
  readonly timeoutMs?: number;
  readonly env?: ServiceEnv;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer to ${what} within ${ms} ms`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Resolves `host` and opens (then closes) a TCP connection to it; undefined when it answered, else the reason. */
export async function probeTcp(host: string, port: number, timeoutMs = 4_000): Promise<string | undefined> {
  let address: string;
  try {
    address = (await withTimeout(dns.promises.lookup(host), timeoutMs, `the DNS lookup of ${host}`)).address;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? `host name ${host} does not resolve (${code})` : (e as Error).message;
  }
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const done = (reason: string | undefined): void => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer on port ${port} within ${timeoutMs} ms`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? `connection refused (nothing listens on ${host}:${port})` : `${e.code ?? e.name}: ${e.message}`));
  });
}

/** host:port of "host:port" or a URL, with the default port of its scheme. */
function hostPort(endpoint: string, defaultPort: number): { host: string; port: number } {
  if (/^[a-z]+:\/\//i.test(endpoint)) {
    const u = new URL(endpoint);
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || (u.protocol === 'https:' ? 443 : u.protocol === 'http:' ? 80 : defaultPort)) };
  }
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(endpoint.trim());
  return { host: m?.[1] ?? endpoint, port: Number(m?.[2] ?? defaultPort) };
}

async function checkMysql(env: ServiceEnv, timeoutMs: number): Promise<CutoverError | undefined> {
  let u: URL;
  try {
    u = new URL(env.mysqlUrl);
  } catch {
    return new ConfigError('is not a URL (mysql://user:password@host:port/database)', undefined, undefined, 'CUTOVER_MYSQL_URL'); // never echo it: it holds the password
  }
  const port = Number(u.port || 3306);
  const endpoint = `${u.hostname}:${port}`;
  const user = decodeURIComponent(u.username);
  if (!user) return new MissingCredentialsError('mysql', endpoint, ['the user and password of CUTOVER_MYSQL_URL (none given)'], 'Set CUTOVER_MYSQL_URL=mysql://USER:PASSWORD@host:port/database.');
  const unreachable = await probeTcp(u.hostname, port, timeoutMs);
  if (unreachable) return new ServiceUnreachableError('mysql', endpoint, 'CUTOVER_MYSQL_URL', unreachable);
  try {
    const conn = await mysql.createConnection({ host: u.hostname, port, user, password: decodeURIComponent(u.password), connectTimeout: timeoutMs });
    await conn.end();
    return undefined;
  } catch (e) {
    const err = e as { code?: string; message: string };
    if (err.code === 'ER_ACCESS_DENIED_ERROR' || err.code === 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR' || err.code === 'ER_HOST_NOT_PRIVILEGED') {
      return new CredentialsRejectedError('mysql', endpoint, user, 'the user and password in CUTOVER_MYSQL_URL', `access denied (${err.code}; password given: ${u.password ? 'yes' : 'no'})`);
    }
    return new ServiceUnreachableError('mysql', endpoint, 'CUTOVER_MYSQL_URL', `${err.code ?? 'error'}: ${err.message}`);
  }
}

async function checkKafka(env: ServiceEnv, timeoutMs: number): Promise<CutoverError | undefined> {
  const brokers = env.kafkaBrokers;
  if (brokers.length === 0) return new ConfigError('no brokers given (host:port[,host:port...])', undefined, undefined, 'CUTOVER_KAFKA_BROKERS');
  const probes = await Promise.all(brokers.map(async (b) => ({ b, reason: await probeTcp(hostPort(b, 9092).host, hostPort(b, 9092).port, timeoutMs) })));
  const down = probes.filter((p) => p.reason);
  if (down.length === brokers.length) return new ServiceUnreachableError('kafka', brokers.join(','), 'CUTOVER_KAFKA_BROKERS', down.map((p) => (brokers.length > 1 ? `${p.b}: ${p.reason}` : p.reason)).join('; '));
  // The port answers: ask for the cluster's metadata once (no retries), which also proves the advertised listeners work.
  const admin = new Kafka({ clientId: 'cutover-check', brokers: [...brokers], logLevel: logLevel.NOTHING, connectionTimeout: timeoutMs, requestTimeout: timeoutMs, retry: { retries: 0 } }).admin();
  try {
    await withTimeout((async () => {
      await admin.connect();
      await admin.describeCluster();
    })(), timeoutMs * 2, 'a Kafka metadata request');
    return undefined;
  } catch (e) {
    return new ServiceUnreachableError('kafka', brokers.join(','), 'CUTOVER_KAFKA_BROKERS', `the broker port answers but the metadata request failed: ${(e as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Resolves AWS credentials the way the SDK will; a MissingCredentialsError when nothing in the chain has any. */
async function checkAwsCredentials(service: 'dynamodb' | 'dms', endpoint: string, env: ServiceEnv, timeoutMs: number): Promise<CutoverError | undefined> {
  if (service === 'dynamodb' && dynamoCredentials(env)) return undefined; // local emulator: dummies by design
  const client = new DynamoDBClient({ region: env.awsRegion, endpoint: service === 'dynamodb' ? env.dynamoEndpoint : undefined });
  try {
    await withTimeout(client.config.credentials(), timeoutMs * 3, 'the AWS credential chain');
    return undefined;
  } catch {
    const fix = 'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE naming a profile in ~/.aws, or run with an IAM role' +
      (service === 'dynamodb' ? '; for a local emulator set CUTOVER_DYNAMO_ENDPOINT to its loopback URL.' : '.');
    return new MissingCredentialsError(service, endpoint, awsCredentialChain(), fix);
  } finally {
    client.destroy();
  }
}

async function checkDynamo(env: ServiceEnv, timeoutMs: number): Promise<CutoverError | undefined> {
  const url = env.dynamoEndpoint ?? `https://dynamodb.${env.awsRegion}.amazonaws.com`;
  const setting = env.dynamoEndpoint === undefined ? 'AWS_REGION (CUTOVER_DYNAMO_ENDPOINT is empty: AWS)' : 'CUTOVER_DYNAMO_ENDPOINT';
  let hp: { host: string; port: number };
  try {
    hp = hostPort(url, 443);
  } catch {
    return new ConfigError(`is not a URL: ${url}`, undefined, undefined, 'CUTOVER_DYNAMO_ENDPOINT');
  }
  const creds = await checkAwsCredentials('dynamodb', url, env, timeoutMs);
  if (creds) return creds;
  const unreachable = await probeTcp(hp.host, hp.port, timeoutMs);
  return unreachable ? new ServiceUnreachableError('dynamodb', url, setting, unreachable) : undefined;
}

async function checkTemporal(env: ServiceEnv, timeoutMs: number): Promise<CutoverError | undefined> {
  const { host, port } = hostPort(env.temporalAddress, 7233);
  const unreachable = await probeTcp(host, port, timeoutMs);
  return unreachable ? new ServiceUnreachableError('temporal', env.temporalAddress, 'CUTOVER_TEMPORAL_ADDRESS', unreachable) : undefined;
}

/** Checks one service; undefined when usable, else the typed problem. Never throws. */
export async function checkService(service: ServiceName, opts: CheckOptions = {}): Promise<CutoverError | undefined> {
  const env = opts.env ?? serviceEnv();
  const t = opts.timeoutMs ?? 4_000;
  try {
    switch (service) {
      case 'mysql': return await checkMysql(env, t);
      case 'kafka': return await checkKafka(env, t);
      case 'dynamodb': return await checkDynamo(env, t);
      case 'temporal': return await checkTemporal(env, t);
      case 'dms': return await checkAwsCredentials('dms', `https://dms.${env.awsRegion}.amazonaws.com`, env, t);
    }
  } catch (e) {
    return e instanceof CutoverError ? e : new CutoverError(`${LABEL[service]} check failed: ${(e as Error).message}`);
  }
}

/** Checks every service in parallel; the problems found, in the order of `services`. */
export async function checkServices(services: readonly ServiceName[], opts: CheckOptions = {}): Promise<CutoverError[]> {
  const results = await Promise.all([...new Set(services)].map((s) => checkService(s, opts)));
  return results.filter((r): r is CutoverError => r !== undefined);
}

/** Fail-fast policy (CLI commands, the preflight activity): throws EnvironmentNotReadyError listing every problem. */
export async function assertServicesReady(services: readonly ServiceName[], opts: CheckOptions = {}): Promise<void> {
  const problems = await checkServices(services, opts);
  if (problems.length) throw new EnvironmentNotReadyError(problems);
}

/** Options of waitForServices. */
export interface WaitOptions extends CheckOptions {
  /** Called once per unreachable service and attempt, with the problem and the delay before the next attempt. */
  readonly onWait?: (problem: CutoverError, nextAttemptInMs: number, attempt: number) => void;
  /** Give up after this long (EnvironmentNotReadyError); 0 or undefined: wait as long as it takes. */
  readonly maxWaitMs?: number;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * Retry policy (long-running processes): resolves once every service answers. Unreachable services are logged via
 * `onWait` and retried with doubling delays capped at `maxDelayMs` (default 15 s); a problem that waiting cannot fix
 * (missing or rejected credentials, a malformed setting) throws EnvironmentNotReadyError at once (listing every
 * problem found), as does the end of `maxWaitMs` or an aborted `signal`.
 */
export async function waitForServices(services: readonly ServiceName[], opts: WaitOptions = {}): Promise<void> {
  const started = Date.now();
  let delay = opts.initialDelayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    const problems = await checkServices(services, opts);
    if (problems.length === 0) return;
    const fatal = problems.filter((p) => !p.retriable);
    if (fatal.length) throw new EnvironmentNotReadyError(problems);
    if (opts.signal?.aborted || (opts.maxWaitMs && Date.now() - started + delay > opts.maxWaitMs)) throw new EnvironmentNotReadyError(problems);
    for (const p of problems) opts.onWait?.(p, delay, attempt);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      opts.signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    delay = Math.min(delay * 2, opts.maxDelayMs ?? 15_000);
  }
}

/** Structured fields of a problem for a JSON log line: error class, service, endpoint, setting, message (no secrets). */
export function problemFields(p: CutoverError): Record<string, unknown> {
  const { service, endpoint, setting } = p as Partial<ServiceUnreachableError>;
  return { problem: p.name, service, endpoint, setting, detail: p.message };
}

/** CUTOVER_STARTUP_WAIT_MS: how long a long-running process waits for its services at start (default 0: forever). */
export function startupWaitMs(): number {
  const n = Number(process.env.CUTOVER_STARTUP_WAIT_MS ?? 0);
  return Number.isFinite(n) && n > 0 ? n : 0;
}
