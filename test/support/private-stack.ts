/**
 * A private copy of the local stack (MariaDB, Temporal dev server, Kafka, dynalite) in a temp directory on free
 * ports, for tests that stop, kill or restart a service. The shared stack is never touched.
 *
 * Guarantees:
 * - Everything runs through `scripts/stack` with CUTOVER_STACK_DIR and CUTOVER_*_PORT set, so the services are the
 *   same programs with the same settings as the shared stack (bound to 127.0.0.1), only elsewhere.
 * - Resolved jars (.stack/kafka/lib, .stack/temporal-test-server/lib) and the temporal CLI are linked in, so `up`
 *   never downloads anything and takes seconds.
 * - `env` holds the CUTOVER_* variables pointing at the private services; pass it to child processes, or use
 *   `withEnv` to run in-process code (serviceEnv(), createKafka(), createDynamoClient()...) against it.
 * - `down()` stops every private service (by pid file) and removes the directory.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
const SHARED = process.env.CUTOVER_SHARED_STACK_DIR ?? path.join(ROOT, '.stack');

export type StackService = 'mariadb' | 'temporal' | 'kafka' | 'dynalite';

export interface PrivatePorts {
  readonly mysql: number;
  readonly temporal: number;
  readonly temporalUi: number;
  readonly kafka: number;
  readonly kafkaController: number;
  readonly dynamo: number;
}

export interface PrivateStack {
  readonly dir: string;
  readonly ports: PrivatePorts;
  /** CUTOVER_* connection variables for the private services (and CUTOVER_STACK_DIR). */
  readonly env: Record<string, string>;
  /** process.env overlaid with `env`, for child processes. */
  childEnv(extra?: Record<string, string>): NodeJS.ProcessEnv;
  /** Stops one service (SIGTERM, then SIGKILL after 30 s). */
  stop(service: StackService): Promise<void>;
  /** Starts whatever is stopped and waits until every service is healthy. */
  up(): Promise<void>;
  /** The pid of a running service, from its pid file. */
  pid(service: StackService): number | undefined;
  /** Runs `fn` with process.env pointing at the private stack, restoring it afterwards (also on error). */
  withEnv<T>(fn: () => Promise<T>): Promise<T>;
  /** Overwrites process.env with the private settings until `restoreEnv` (for whole test files). */
  applyEnv(): void;
  restoreEnv(): void;
  down(): Promise<void>;
}

/** A TCP port free on 127.0.0.1 right now and not in `taken` (which it joins). */
export async function freePort(taken: Set<number> = new Set()): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
}

/** Brings a private stack up (about 10-20 s). Call `down()` in afterAll. */
export async function startPrivateStack(prefix = 'cutover-private-'): Promise<PrivateStack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  for (const sub of ['bin', 'kafka', 'temporal-test-server']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  fs.symlinkSync(path.join(SHARED, 'kafka', 'lib'), path.join(dir, 'kafka', 'lib'));
  fs.symlinkSync(path.join(SHARED, 'temporal-test-server', 'lib'), path.join(dir, 'temporal-test-server', 'lib'));
  fs.symlinkSync(path.join(SHARED, 'bin', 'temporal'), path.join(dir, 'bin', 'temporal'));
  const taken = new Set<number>();
  const ports: PrivatePorts = {
    mysql: await freePort(taken),
    temporal: await freePort(taken),
    temporalUi: await freePort(taken),
    kafka: await freePort(taken),
    kafkaController: await freePort(taken),
    dynamo: await freePort(taken),
  };
  const scriptEnv = {
    ...process.env,
    CUTOVER_STACK_DIR: dir,
    CUTOVER_MYSQL_PORT: String(ports.mysql),
    CUTOVER_TEMPORAL_PORT: String(ports.temporal),
    CUTOVER_TEMPORAL_UI_PORT: String(ports.temporalUi),
    CUTOVER_KAFKA_PORT: String(ports.kafka),
    CUTOVER_KAFKA_CONTROLLER_PORT: String(ports.kafkaController),
    CUTOVER_DYNAMO_PORT: String(ports.dynamo),
  };
  const env: Record<string, string> = {
    CUTOVER_STACK_DIR: dir,
    CUTOVER_MYSQL_URL: `mysql://cutover:cutover@127.0.0.1:${ports.mysql}/cutover`,
    CUTOVER_KAFKA_BROKERS: `127.0.0.1:${ports.kafka}`,
    CUTOVER_DYNAMO_ENDPOINT: `http://127.0.0.1:${ports.dynamo}`,
    CUTOVER_TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
    CUTOVER_TEMPORAL_UI: `http://127.0.0.1:${ports.temporalUi}`,
  };
  const stack = async (...args: string[]): Promise<void> => {
    try {
      await run(path.join(ROOT, 'scripts', 'stack'), args, { env: scriptEnv, maxBuffer: 16 * 1024 * 1024 });
    } catch (e) {
      const err = e as Error & { stderr?: string };
      throw new Error(`private stack (${dir}): scripts/stack ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
    }
  };
  let saved: Record<string, string | undefined> | undefined;
  const applyEnv = (): void => {
    saved ??= Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
  };
  const restoreEnv = (): void => {
    if (!saved) return;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    saved = undefined;
  };
  const ps: PrivateStack = {
    dir,
    ports,
    env,
    childEnv: (extra = {}) => ({ ...process.env, ...env, ...extra }),
    stop: (service) => stack('stop', service),
    up: () => stack('up'),
    pid(service) {
      try {
        const n = Number(fs.readFileSync(path.join(dir, 'run', `${service}.pid`), 'utf8').trim());
        return Number.isFinite(n) && n > 0 ? n : undefined;
      } catch {
        return undefined;
      }
    },
    async withEnv(fn) {
      const before = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
      Object.assign(process.env, env);
      try {
        return await fn();
      } finally {
        for (const [k, v] of Object.entries(before)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
    },
    applyEnv,
    restoreEnv,
    async down() {
      restoreEnv();
      await stack('down').catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await stack('up');
  } catch (e) {
    await ps.down();
    throw e;
  }
  return ps;
}
