/**
 * Starts src/workers/etl.ts as a child process (node itself, so signals reach the consumer) and reads its JSON lines;
 * `useEtlProcessBed` builds and removes what the process tests run it against.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin, Producer } from 'kafkajs';
import YAML from 'yaml';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { uniqueName } from '../../support/ids';
import { createTopic, USERS_MAPPING } from './support';

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  /** What the process logged on stderr. */
  readonly log: string[];
  readonly exited: Promise<number | null>;
}

const root = path.join(__dirname, '../../..');

export function startWorker(args: readonly string[], children: ChildProcess[]): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/workers/etl.ts', ...args], { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(line));
      } catch {
        /* not a JSON line */
      }
    }
  });
  const log: string[] = [];
  child.stderr?.on('data', (d: Buffer) => void log.push(d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.once('exit', () => {
    child.stdout?.destroy();
    child.stderr?.destroy();
  });
  return { child, lines, log, exited };
}

/** What the ETL process tests (kill9, zombie) share: a topic, target and control tables, a group and a mapping file. */
export interface EtlProcessBed {
  readonly topic: string;
  readonly table: string;
  readonly controlTable: string;
  readonly group: string;
  /** The source table name the events carry (schema `shop`). */
  readonly src: string;
  admin: Admin;
  producer: Producer;
  client: DynamoDBClient;
  mappingFile: string;
  /** Every process started (killed in afterAll, woken first if stopped). */
  readonly children: ChildProcess[];
  /** src/workers/etl.ts arguments for this bed (exclusive mode, target created), then `tuning`. */
  args(tuning: readonly string[]): string[];
}

/** Registers beforeAll/afterAll that create the bed (unique names, a topic of `partitions`) and remove all of it. */
export function useEtlProcessBed(name: string, partitions: number): EtlProcessBed {
  const bed: EtlProcessBed = {
    topic: uniqueName(`etl_${name}_topic`),
    table: uniqueName(`etl_${name}_target`),
    controlTable: uniqueName(`etl_${name}_control`),
    group: uniqueName(`etl_${name}_group`),
    src: uniqueName('users'),
    admin: undefined as unknown as Admin,
    producer: undefined as unknown as Producer,
    client: undefined as unknown as DynamoDBClient,
    mappingFile: '',
    children: [],
    args: (tuning) => ['--mapping', bed.mappingFile, '--topic', bed.topic, '--group', bed.group, '--control-table', bed.controlTable, '--initial-mode', 'exclusive', '--create-target', ...tuning],
  };
  beforeAll(async () => {
    const kafka = createKafka(`etl-${name}-test`);
    bed.admin = kafka.admin();
    bed.producer = kafka.producer({ allowAutoTopicCreation: false });
    bed.client = createDynamoClient();
    await Promise.all([bed.admin.connect(), bed.producer.connect()]);
    await createTopic(bed.admin, bed.topic, partitions);
    bed.mappingFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), `etl-${name}-`)), 'mapping.yaml');
    fs.writeFileSync(bed.mappingFile, YAML.stringify({ version: 1, tables: [USERS_MAPPING(`shop.${bed.src}`, bed.table)] }));
  });
  afterAll(async () => {
    for (const c of bed.children) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      c.kill('SIGCONT');
      c.kill('SIGKILL');
    }
    await bed.admin.deleteTopics({ topics: [bed.topic, `${bed.topic}.dlq`] }).catch(() => undefined);
    await Promise.all([bed.table, bed.controlTable].map((t) => bed.client.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined)));
    await Promise.all([bed.admin.disconnect(), bed.producer.disconnect()]);
    bed.client.destroy();
  });
  return bed;
}
