/**
 * Missing credentials and unreachable endpoints fail before anything starts, within seconds, with one error naming
 * the service, the endpoint and the setting to fix — never a password, key or token. Proven through the public
 * entry points: the checks (src/infra/reachability.ts), the workflow's preflight activity, the `cutover start` and
 * `cutover plan start` commands (no workflow is started), and the `npm run etl|cdc|worker` processes (exit 1 with
 * one `… exiting` line). Unreachable = a closed port on 127.0.0.1 and a name under `.invalid` (never resolves).
 * The long-running processes' waiting for a service that comes up later: etl-kafka-late.test.ts.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as mysql from 'mysql2/promise';
import YAML from 'yaml';
import { createCdcParts } from '../../../src/activities/parts/cdc';
import type { PartClients } from '../../../src/activities/parts/common';
import { dynamoCredentialSource, serviceEnv, type ServiceEnv } from '../../../src/infra/env';
import {
  checkService, CredentialsRejectedError, EnvironmentNotReadyError, MissingCredentialsError, ServiceUnreachableError, type ServiceName,
} from '../../../src/infra/reachability';
import { createTemporalClient } from '../../../src/infra/temporal';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { freePort } from '../../support/private-stack';
import { uniqueName } from '../../support/ids';

jest.setTimeout(60_000);

const ROOT = path.join(__dirname, '..', '..', '..');
const NO_HOST = 'cutover-no-such-host.invalid';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bad-env-'));
const emptyHome = fs.mkdtempSync(path.join(os.tmpdir(), 'bad-env-home-'));
const db = uniqueName('bad_env');
let closed: number;
let pool: mysql.Pool;

/** No AWS credentials anywhere: env vars unset, a profile that does not exist, an empty HOME, IMDS off. */
const NO_AWS: Record<string, string | undefined> = {
  AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: 'cutover-no-such-profile',
  AWS_SHARED_CREDENTIALS_FILE: undefined, AWS_CONFIG_FILE: undefined, AWS_WEB_IDENTITY_TOKEN_FILE: undefined, AWS_ROLE_ARN: undefined,
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined, AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined, AWS_EC2_METADATA_DISABLED: 'true',
  HOME: emptyHome, CUTOVER_DYNAMO_ENDPOINT: '', AWS_REGION: 'eu-west-1',
};

async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (v: Record<string, string | undefined>): void => {
    for (const [k, val] of Object.entries(v)) {
      if (val === undefined) delete process.env[k];
      else process.env[k] = val;
    }
  };
  set(vars);
  try {
    return await fn();
  } finally {
    set(saved);
  }
}

beforeAll(async () => {
  closed = await freePort(); // nothing listens here: the port was free a moment ago and is never bound
  pool = createSourcePool({ connectionLimit: 2 });
  await pool.query(`CREATE DATABASE \`${db}\``);
  await pool.query(`CREATE TABLE \`${db}\`.users (id BIGINT PRIMARY KEY, email VARCHAR(64))`);
  fs.writeFileSync(path.join(dir, 'users.mapping.yaml'), YAML.stringify({ version: 1, tables: [{ source: `${db}.users`, target: `${db}_users`, partitionKey: { attribute: 'pk', template: 'U#{id}' }, nulls: 'omit' }] }));
});

afterAll(async () => {
  await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await pool.end();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(emptyHome, { recursive: true, force: true });
});

describe('unreachable endpoints: a closed port and a name that does not resolve', () => {
  const cases: [ServiceName, string, (host: string, port: number) => Partial<ServiceEnv>][] = [
    ['mysql', 'CUTOVER_MYSQL_URL', (h, p) => ({ mysqlUrl: `mysql://cutover:s3cret-pw@${h}:${p}/cutover` })],
    ['kafka', 'CUTOVER_KAFKA_BROKERS', (h, p) => ({ kafkaBrokers: [`${h}:${p}`] })],
    ['dynamodb', 'CUTOVER_DYNAMO_ENDPOINT', (h, p) => ({ dynamoEndpoint: `http://${h}:${p}` })],
    ['temporal', 'CUTOVER_TEMPORAL_ADDRESS', (h, p) => ({ temporalAddress: `${h}:${p}` })],
  ];
  test.each(cases)('%s: ServiceUnreachableError naming the service, endpoint and %s, in seconds', async (service, setting, over) => {
    for (const [host, why] of [['127.0.0.1', /connection refused/], [NO_HOST, /does not resolve/]] as const) {
      const started = Date.now();
      // a non-loopback DynamoDB endpoint needs credentials: give it some so the endpoint itself is what fails
      const err = await withEnv(service === 'dynamodb' && host === NO_HOST ? { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'not-a-secret' } : {}, () =>
        checkService(service, { env: { ...serviceEnv(), ...over(host, closed) } }));
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(err).toBeInstanceOf(ServiceUnreachableError);
      const e = err as ServiceUnreachableError;
      expect(e.service).toBe(service);
      expect(e.endpoint).toContain(`${host}:${closed}`);
      expect(e.setting).toBe(setting);
      expect(e.message).toMatch(why);
      expect(e.message).toContain(setting);
      expect(e.message).not.toContain('s3cret-pw');
    }
  });

  test('the shared stack passes every check (the baseline the cases above break)', async () => {
    for (const s of ['mysql', 'kafka', 'dynamodb', 'temporal'] as const) expect(await checkService(s)).toBeUndefined();
  });
});

describe('credentials', () => {
  test('MySQL wrong password: CredentialsRejectedError naming host:port and user, never the password', async () => {
    const err = await checkService('mysql', { env: { ...serviceEnv(), mysqlUrl: 'mysql://cutover:wr0ng-Passw0rd@127.0.0.1:13306/cutover' } });
    expect(err).toBeInstanceOf(CredentialsRejectedError);
    expect(err!.message).toMatch(/MySQL at 127\.0\.0\.1:13306 rejected user 'cutover'/);
    expect(err!.message).toContain('CUTOVER_MYSQL_URL');
    expect(err!.message).not.toContain('wr0ng-Passw0rd');
    expect(err!.retriable).toBe(false);
  });

  test('MySQL URL without a user: MissingCredentialsError naming the endpoint and the setting', async () => {
    const err = await checkService('mysql', { env: { ...serviceEnv(), mysqlUrl: 'mysql://127.0.0.1:13306/cutover' } });
    expect(err).toBeInstanceOf(MissingCredentialsError);
    expect(err!.message).toMatch(/no credentials for MySQL at 127\.0\.0\.1:13306/);
    expect(err!.message).toContain('CUTOVER_MYSQL_URL');
  });

  test('no AWS credentials: MissingCredentialsError naming the endpoint and every source tried, no values', async () => {
    await withEnv({ ...NO_AWS, AWS_SECRET_ACCESS_KEY: 'only-half-a-key' }, async () => {
      const started = Date.now();
      const err = await checkService('dynamodb');
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(err).toBeInstanceOf(MissingCredentialsError);
      const m = err!.message;
      expect(m).toContain('DynamoDB at https://dynamodb.eu-west-1.amazonaws.com');
      for (const name of ['AWS_ACCESS_KEY_ID unset', 'AWS_SECRET_ACCESS_KEY set', 'AWS_PROFILE set', '~/.aws/credentials missing', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'disabled by AWS_EC2_METADATA_DISABLED']) {
        expect(m).toContain(name);
      }
      expect(m).not.toContain('only-half-a-key');
      expect(m).not.toContain('cutover-no-such-profile');
      expect(m).not.toContain(emptyHome);
    });
  });

  test('a non-local DynamoDB endpoint never falls back to the dummy credentials dynalite accepts', async () => {
    await withEnv({ ...NO_AWS, CUTOVER_DYNAMO_ENDPOINT: 'https://dynamodb.eu-west-1.amazonaws.com' }, async () => {
      expect(dynamoCredentialSource()).toBe('default-chain');
      expect(await checkService('dynamodb')).toBeInstanceOf(MissingCredentialsError);
    });
    await withEnv({ ...NO_AWS, CUTOVER_DYNAMO_ENDPOINT: serviceEnv().dynamoEndpoint ?? '' }, async () => expect(dynamoCredentialSource()).toBe('local-dummy'));
  });
});

describe('the preflight activity', () => {
  const preflight = (): Promise<unknown> => createCdcParts({ pool } as unknown as PartClients).preflight!({
    ctx: { migrationId: `migrate:${db}.users`, source: { database: db, table: 'users' }, phase: 'preflight' },
    mappingFile: path.join(dir, 'users.mapping.yaml'),
    cdc: { source: 'builtin', topic: 'unused', partitions: 1 },
  });

  test('Kafka unreachable and no AWS credentials: one EnvironmentNotReadyError listing both, before any source read', async () => {
    const err = await withEnv({ ...NO_AWS, CUTOVER_KAFKA_BROKERS: `127.0.0.1:${closed}` }, () => preflight().then(() => undefined, (e: unknown) => e));
    expect(err).toBeInstanceOf(EnvironmentNotReadyError);
    const e = err as EnvironmentNotReadyError;
    expect(e.retriable).toBe(false); // the activity fails non-retryably: the workflow stops for an operator
    expect(e.problems.map((p) => p.name).sort()).toEqual(['MissingCredentialsError', 'ServiceUnreachableError']);
    expect(e.message).toContain(`Kafka at 127.0.0.1:${closed} is unreachable`);
    expect(e.message).toContain('CUTOVER_KAFKA_BROKERS');
  });

  test('DynamoDB endpoint not answering: re-probed briefly (a blip is not a failure), then a bounded failure naming it', async () => {
    const started = Date.now();
    const err = await withEnv({ CUTOVER_DYNAMO_ENDPOINT: `http://127.0.0.1:${closed}` }, () => preflight().then(() => undefined, (e: unknown) => e));
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(err).toBeInstanceOf(EnvironmentNotReadyError);
    expect((err as Error).message).toBe(`DynamoDB at http://127.0.0.1:${closed} is unreachable: connection refused (nothing listens on 127.0.0.1:${closed}) (check CUTOVER_DYNAMO_ENDPOINT)`);
  });
});

describe('cutover start / plan start', () => {
  let run: (argv: string[]) => Promise<number>;
  let errors: string[] = [];
  let config: string;

  beforeAll(async () => {
    process.env.CUTOVER_TASK_QUEUE = uniqueName('bad_env_tq'); // never 'cutover', should anything start
    jest.resetModules();
    ({ run } = await import('../../../src/cli/main'));
    jest.spyOn(console, 'error').mockImplementation((s: unknown) => void errors.push(String(s)));
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
    config = path.join(dir, 'migration.yaml');
    fs.writeFileSync(config, `plan: ${db}\ntables:\n  - source: ${db}.users\n    mapping: users.mapping.yaml\n`);
  });
  afterAll(() => {
    delete process.env.CUTOVER_TASK_QUEUE;
    jest.restoreAllMocks();
  });

  async function cli(env: Record<string, string | undefined>, ...args: string[]): Promise<{ code: number; err: string; ms: number }> {
    errors = [];
    const started = Date.now();
    const code = await withEnv(env, () => run(['node', 'cutover', ...args]));
    return { code, err: errors.join('\n'), ms: Date.now() - started };
  }

  async function assertNotStarted(): Promise<void> {
    const client = await createTemporalClient();
    try {
      for (const id of [`migrate:${db}.users`, `plan:${db}`]) {
        await expect(client.workflow.getHandle(id).describe()).rejects.toThrow(/not found/i);
      }
    } finally {
      await client.connection.close();
    }
  }

  test('Temporal unreachable: exit 1 naming Temporal, the address and CUTOVER_TEMPORAL_ADDRESS', async () => {
    for (const addr of [`127.0.0.1:${closed}`, `${NO_HOST}:7233`]) {
      const r = await cli({ CUTOVER_TEMPORAL_ADDRESS: addr }, 'start', '--config', config);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`cutover: nothing was started: Temporal at ${addr} is unreachable`);
      expect(r.err).toContain('CUTOVER_TEMPORAL_ADDRESS');
      expect(r.ms).toBeLessThan(10_000);
    }
    const status = await cli({ CUTOVER_TEMPORAL_ADDRESS: `127.0.0.1:${closed}` }, 'status');
    expect(status.code).toBe(1);
    expect(status.err).toContain('Temporal at');
  });

  test('missing AWS credentials, MySQL refused, Kafka and DynamoDB unreachable: exit 1, one message, nothing started', async () => {
    const r = await cli({ ...NO_AWS, CUTOVER_MYSQL_URL: 'mysql://cutover:wr0ng@127.0.0.1:13306/cutover', CUTOVER_KAFKA_BROKERS: `${NO_HOST}:9092` }, 'start', '--config', config);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nothing was started: 3 problems/);
    expect(r.err).toMatch(/MySQL at 127\.0\.0\.1:13306 rejected user 'cutover'/);
    expect(r.err).toContain(`Kafka at ${NO_HOST}:9092 is unreachable: host name ${NO_HOST} does not resolve`);
    expect(r.err).toContain('no credentials for DynamoDB at https://dynamodb.eu-west-1.amazonaws.com');
    expect(r.err).not.toContain('wr0ng');
    expect(r.ms).toBeLessThan(15_000);

    const plan = await cli({ CUTOVER_DYNAMO_ENDPOINT: `http://127.0.0.1:${closed}` }, 'plan', 'start', '--config', config);
    expect(plan.code).toBe(1);
    expect(plan.err).toContain(`DynamoDB at http://127.0.0.1:${closed} is unreachable`);
    expect(plan.err).toContain('CUTOVER_DYNAMO_ENDPOINT');
    await assertNotStarted();
  });
});

describe('npm run etl | cdc | worker: what waiting cannot fix exits at once', () => {
  /** Runs an entry point to its exit (bounded); the `… exiting` JSON line it printed on stderr. */
  function runProcess(entry: string, args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; exit: Record<string, unknown> | undefined; stderr: string }> {
    const childEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete childEnv[k];
      else childEnv[k] = v;
    }
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    child.stdout.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    return new Promise((resolve) => child.once('exit', (code) => {
      clearTimeout(timer);
      const line = stderr.split('\n').find((l) => /"msg":"[a-z ]*exiting"/.test(l));
      resolve({ code, exit: line ? (JSON.parse(line) as Record<string, unknown>) : undefined, stderr });
    }));
  }

  test('missing AWS credentials (etl, worker), MySQL refused (cdc), a topic that does not exist (etl); a bounded wait ends', async () => {
    const mapping = path.join(dir, 'users.mapping.yaml');
    const etlArgs = (topic: string) => ['--mapping', mapping, '--topic', topic, '--group', uniqueName('bad_env_g'), '--quiet'];
    const ports = { CUTOVER_METRICS_PORT: String(await freePort()), CUTOVER_TEMPORAL_METRICS_PORT: String(await freePort()) };
    const [etl, worker, cdc, topic, bounded] = await Promise.all([
      runProcess('src/workers/etl.ts', etlArgs('unused'), NO_AWS),
      runProcess('src/workers/main.ts', [], { ...NO_AWS, ...ports }),
      runProcess('src/workers/cdc.ts', ['--quiet'], { CUTOVER_MYSQL_URL: 'mysql://cutover:wr0ng@127.0.0.1:13306/cutover' }),
      runProcess('src/workers/etl.ts', etlArgs(uniqueName('bad_env_missing_topic')), {}),
      runProcess('src/workers/etl.ts', etlArgs('unused'), { CUTOVER_KAFKA_BROKERS: `${NO_HOST}:9092`, CUTOVER_STARTUP_WAIT_MS: '3000' }),
    ]);
    for (const [name, r] of [['etl', etl], ['worker', worker]] as const) {
      expect({ name, code: r.code }).toEqual({ name, code: 1 });
      expect(r.exit?.error).toBe('EnvironmentNotReadyError');
      expect(String(r.exit?.detail)).toContain('no credentials for DynamoDB at https://dynamodb.eu-west-1.amazonaws.com');
      expect(r.stderr).not.toContain('waiting for service');
    }
    expect(cdc.code).toBe(1);
    expect(String(cdc.exit?.detail)).toMatch(/MySQL at 127\.0\.0\.1:13306 rejected user 'cutover'/);
    expect(cdc.stderr).not.toContain('wr0ng');
    expect(topic.code).toBe(1);
    expect(topic.exit?.error).toBe('ConfigError');
    expect(String(topic.exit?.detail)).toMatch(/--topic: topic bad_env_missing_topic\S* does not exist on 127\.0\.0\.1:\d+/);
    // A name that does not resolve is waited for (DNS may come later), but CUTOVER_STARTUP_WAIT_MS bounds the wait.
    expect(bounded.code).toBe(1);
    expect(bounded.stderr).toContain('"msg":"waiting for service"');
    expect(bounded.exit?.error).toBe('EnvironmentNotReadyError');
    expect(String(bounded.exit?.detail)).toContain(`Kafka at ${NO_HOST}:9092 is unreachable: host name ${NO_HOST} does not resolve`);
  });
});
