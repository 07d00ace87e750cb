/**
 * Long-running processes started while Kafka is down wait for it instead of exiting: `npm run etl`, `npm run cdc`
 * and `npm run worker`, each started against a PRIVATE stack (test/support/private-stack.ts; the shared stack is
 * never stopped) whose Kafka is stopped, log `waiting for service` warnings naming Kafka, its endpoint and
 * CUTOVER_KAFKA_BROKERS, with growing delays, and stay up; once Kafka is started they start, and the ETL applies
 * the events produced afterwards. (What waiting cannot fix exits at once: environment.test.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import YAML from 'yaml';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { createMysqlPool } from '../../../src/infra/mysql';
import { isLive } from '../../../src/pipeline/item';
import { changeVersion } from '../../../src/pipeline/version';
import { uniqueName } from '../../support/ids';
import { freePort, startPrivateStack, type PrivateStack } from '../../support/private-stack';
import { dms, produce, scanAll, waitFor } from '../consumer/support';

jest.setTimeout(150_000);

const ROOT = path.join(__dirname, '..', '..', '..');
const topic = uniqueName('late_kafka_topic');
const target = uniqueName('late_kafka_target');
let stack: PrivateStack;
let mappingFile: string;
const children: ChildProcess[] = [];

interface Proc {
  readonly child: ChildProcess;
  /** Every JSON line printed on stdout or stderr. */
  readonly lines: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
}

function start(entry: string, args: string[], extra: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: ROOT, env: stack.childEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
      }
    });
  }
  return { child, lines, exited: new Promise((r) => child.once('exit', (code) => r(code))) };
}

const waits = (p: Proc) => p.lines.filter((l) => l.msg === 'waiting for service');

beforeAll(async () => {
  stack = await startPrivateStack('bad-late-kafka-');
  // The topic and the source table exist before the outage (a topic is kept on the broker's disk across a restart).
  await stack.withEnv(async () => {
    const admin = createKafka('late-kafka-setup').admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();
    const pool = createMysqlPool({ connectionLimit: 1 });
    await pool.query('CREATE DATABASE shop');
    await pool.query('CREATE TABLE shop.users (id BIGINT PRIMARY KEY, email VARCHAR(64) NOT NULL)');
    await pool.end();
  });
  mappingFile = path.join(stack.dir, 'users.mapping.yaml');
  fs.writeFileSync(mappingFile, YAML.stringify({ version: 1, tables: [{ source: 'shop.users', target, partitionKey: { attribute: 'pk', template: 'USER#{id}' }, nulls: 'omit' }] }));
  await stack.stop('kafka');
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await stack?.withEnv(async () => {
    const client = createDynamoClient();
    await client.send(new DeleteTableCommand({ TableName: target })).catch(() => undefined);
    client.destroy();
  });
  await stack?.down();
});

test('etl, cdc and worker started with Kafka down wait and log; once Kafka is up they start and the ETL applies events', async () => {
  const etl = start('src/workers/etl.ts', ['--mapping', mappingFile, '--topic', topic, '--group', uniqueName('late_kafka_group'), '--initial-mode', 'exclusive', '--create-target', '--quiet']);
  const cdc = start('src/workers/cdc.ts', ['--quiet']);
  const worker = start('src/workers/main.ts', [], {
    CUTOVER_TASK_QUEUE: uniqueName('late_kafka_tq'),
    CUTOVER_METRICS_PORT: String(await freePort()),
    CUTOVER_TEMPORAL_METRICS_PORT: String(await freePort()),
  });

  // Each keeps retrying with growing delays (0.5 s, 1 s, 2 s, ...) and names Kafka, its endpoint and the setting.
  for (const [name, p] of [['etl', etl], ['cdc', cdc], ['worker', worker]] as const) {
    await waitFor(`${name} to warn twice about Kafka`, () => waits(p).length >= 2, 60_000);
    const [first, second] = waits(p);
    expect(first).toMatchObject({ problem: 'ServiceUnreachableError', service: 'kafka', endpoint: `127.0.0.1:${stack.ports.kafka}`, setting: 'CUTOVER_KAFKA_BROKERS' });
    expect(String(first.detail)).toMatch(/connection refused/);
    expect(Number(second.retryInMs)).toBeGreaterThan(Number(first.retryInMs));
    expect({ name, exitCode: p.child.exitCode }).toEqual({ name, exitCode: null });
    expect(waits(p).every((w) => w.service === 'kafka')).toBe(true); // MySQL, DynamoDB and Temporal answered
  }

  await stack.up(); // starts only what is stopped: Kafka
  await waitFor('cdc started', () => cdc.lines.some((l) => l.msg === 'cdc worker started'), 60_000);
  await waitFor('worker started', () => worker.lines.some((l) => l.msg === 'worker started'), 60_000);

  const events: { key: string; value: string }[] = [];
  for (let id = 1; id <= 50; id++) events.push(dms('shop', 'users', 'insert', { id: String(id), email: `u${id}@x.io` }, changeVersion(1_000 + id, 0)));
  events.push(dms('shop', 'users', 'delete', { id: '7', email: 'u7@x.io' }, changeVersion(2_000, 0)));
  await stack.withEnv(async () => {
    const producer = createKafka('late-kafka-producer').producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await produce(producer, topic, events);
    await producer.disconnect();
    const client = createDynamoClient();
    try {
      await waitFor('the ETL to apply every event', async () => {
        const live = (await scanAll(client, target).catch(() => [])).filter(isLive).map((i) => i.pk.S);
        return live.length === 49 && !live.includes('USER#7');
      }, 60_000);
      const items = new Map((await scanAll(client, target)).map((i) => [i.pk.S, i]));
      expect(items.get('USER#50')?.email).toEqual({ S: 'u50@x.io' });
      expect(isLive(items.get('USER#7'))).toBe(false);
    } finally {
      client.destroy();
    }
  });

  for (const p of [etl, cdc, worker]) p.child.kill('SIGTERM');
  expect(await etl.exited).toBe(0);
  expect(await cdc.exited).toBe(0);
});
