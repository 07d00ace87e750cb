/**
 * Credentials never printed, on the real stack: the ETL process (`npm run etl`) and the main worker (`npm run worker`)
 * are started as child processes with a marker password in CUTOVER_MYSQL_URL and debug logging, then made to
 *  - run (the password is right: the process starts and logs as usual),
 *  - fail at once (a wrong password: MySQL refuses the user, the process exits naming the problem),
 *  - fail after waiting (an unreachable endpoint, bounded by CUTOVER_STARTUP_WAIT_MS),
 * and none of their stdout or stderr contains the password. (The CDC worker's twin is test/faults/security.test.ts.)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { mysqlConnectionParams } from '../../../src/infra/mysql';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { uniqueName } from '../../support/ids';

jest.setTimeout(120_000);
const ROOT = path.join(__dirname, '..', '..', '..');

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Runs `script` with `env` until it exits or `ms` pass (then SIGTERM); all its output, and its exit code. */
async function runProcess(script: string, args: string[], env: Record<string, string>, ms: number, until?: RegExp): Promise<{ output: string; code: number | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT, env: { ...process.env, CUTOVER_LOG_LEVEL: 'debug', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let timer = setTimeout(() => child.kill('SIGTERM'), ms);
  const onData = (d: Buffer): void => {
    output += d.toString();
    if (until?.test(output)) {
      clearTimeout(timer);
      timer = setTimeout(() => child.kill('SIGTERM'), 1_500); // let it log a little more, then stop it
      until = undefined;
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearTimeout(timer);
  return { output, code };
}

describe('no password in process output', () => {
  const pool = createSourcePool({ connectionLimit: 1 });
  const user = `pwl_${process.pid}`.slice(0, 32);
  const password = `PwMark-${Math.random().toString(36).slice(2)}-never-printed`;
  const db = uniqueName('pwleak').toLowerCase();
  const topic = uniqueName('pwleak-topic');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-pwleak-'));
  const mapping = path.join(dir, 'map.yaml');
  const p = mysqlConnectionParams();
  const url = (pw: string, host = `${p.host}:${p.port}`) => `mysql://${user}:${encodeURIComponent(pw)}@${host}/${db}`;
  const admin = createKafka('pwleak-test').admin();

  beforeAll(async () => {
    await pool.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    await pool.query(`GRANT ALL PRIVILEGES ON *.* TO '${user}'@'%'`);
    await pool.query(`CREATE DATABASE \`${db}\``);
    await pool.query(`CREATE TABLE \`${db}\`.t (id BIGINT PRIMARY KEY, v VARCHAR(20))`);
    fs.writeFileSync(mapping, `version: 1\ntables:\n  - source: ${db}.t\n    target: ${db}_t\n    partitionKey: { attribute: pk, template: "T#{id}" }\n    nulls: omit\n`);
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  });

  afterAll(async () => {
    const step = async (what: string, f: () => Promise<unknown>): Promise<void> => {
      const t = Date.now();
      await Promise.race([f().catch(() => undefined), new Promise((r) => setTimeout(r, 15_000))]);
      if (Date.now() - t > 5_000) console.warn(`cleanup ${what} took ${Date.now() - t} ms`);
    };
    await step('topic', () => admin.deleteTopics({ topics: [topic] }));
    await step('admin', () => admin.disconnect());
    const dynamo = createDynamoClient();
    for (const TableName of [`${db}_t`, `${db}_ctl`]) await step(TableName, () => dynamo.send(new DeleteTableCommand({ TableName })));
    dynamo.destroy();
    await step('user', () => pool.query(`DROP USER IF EXISTS '${user}'@'%'`));
    await step('db', () => pool.query(`DROP DATABASE IF EXISTS \`${db}\``));
    await step('pool', () => pool.end());
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the ETL process: running, refused and unreachable', async () => {
    const args = ['--mapping', mapping, '--topic', topic, '--group', uniqueName('pwleak-g'), '--control-table', `${db}_ctl`, '--create-target'];
    const [running, refused, unreachable] = await Promise.all([
      runProcess('src/workers/etl.ts', args, { CUTOVER_MYSQL_URL: url(password) }, 40_000, /"progress"/),
      runProcess('src/workers/etl.ts', args, { CUTOVER_MYSQL_URL: url(`${password}x`) }, 40_000),
      runProcess('src/workers/etl.ts', args, { CUTOVER_MYSQL_URL: url(password, '127.0.0.1:1'), CUTOVER_STARTUP_WAIT_MS: '3000' }, 40_000),
    ]);
    expect(running.output).toContain('"progress"');
    expect(refused).toMatchObject({ code: 1, output: expect.stringMatching(/etl exiting.*(Access denied|access denied|refused)/) });
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.output).toMatch(/"service":"mysql".*waiting for service|waiting for service.*"service":"mysql"/);
    for (const r of [running, refused, unreachable]) expect(r.output).not.toContain(password);
  });

  it('the main worker: running, refused and unreachable', async () => {
    const env = async (): Promise<Record<string, string>> => ({
      CUTOVER_TASK_QUEUE: uniqueName('pwleak-q'), CUTOVER_METRICS_PORT: String(await freePort()), CUTOVER_TEMPORAL_METRICS_PORT: String(await freePort()),
    });
    const [running, refused, unreachable] = await Promise.all([
      runProcess('src/workers/main.ts', [], { ...(await env()), CUTOVER_MYSQL_URL: url(password) }, 60_000, /worker started/),
      runProcess('src/workers/main.ts', [], { ...(await env()), CUTOVER_MYSQL_URL: url(`${password}x`) }, 60_000),
      runProcess('src/workers/main.ts', [], { ...(await env()), CUTOVER_MYSQL_URL: url(password, '127.0.0.1:1'), CUTOVER_STARTUP_WAIT_MS: '3000' }, 60_000),
    ]);
    expect(running.output).toContain('worker started');
    expect(refused).toMatchObject({ code: 1, output: expect.stringMatching(/worker exiting.*(Access denied|access denied|refused)/) });
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.output).toMatch(/"service":"mysql".*waiting for service|waiting for service.*"service":"mysql"/);
    for (const r of [running, refused, unreachable]) expect(r.output).not.toContain(password);
  });
});
