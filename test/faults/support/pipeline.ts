/**
 * The data path of one table on a private stack, for fault tests: a source table, a CDC task read by a CDC worker
 * process (src/workers/cdc.ts, in claim-any mode as a worker hosts it), an ETL worker process (src/workers/etl.ts) applying the topic to DynamoDB, and a
 * writer that keeps changing rows (inserts, updates, deletes) and counts the writes MySQL acknowledged.
 *
 * `converge()` waits until verification (src/pipeline/verify, the same code the workflow runs) finds 0 mismatches
 * between every row of the source and the target, and returns how long that took. A lost write would show as a
 * `missing` or `different` row that never resolves, so "writes lost" = the mismatches left at the deadline.
 * Each round also samples where the pipeline stands (`sample()`: binlog vs CDC checkpoint, topic end vs the ETL
 * group's committed offsets) into `converge.jsonl` in the log directory, and a failure quotes the first and last
 * sample: whether the CDC or the ETL stopped moving, or only moved slowly, can then be read from a failed run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type * as mysql from 'mysql2/promise';
import YAML from 'yaml';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { groupLag } from '../../../src/pipeline/consumer/offsets';
import { CheckpointStore } from '../../../src/pipeline/cdc/checkpoint';
import { BuiltinCdcSource } from '../../../src/pipeline/cdc/source';
import { readColumns } from '../../../src/pipeline/row/codec';
import { compileMapping, type CompiledMapping } from '../../../src/pipeline/transform/mapping';
import { runVerify } from '../../../src/pipeline/verify/verifier';
import type { VerifyCountsFull } from '../../../src/pipeline/verify/report';
import type { PrivateStack } from '../../support/private-stack';

const ROOT = path.join(__dirname, '..', '..', '..');

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly log: string;
}

/** Spawns a worker with node itself (not the tsx wrapper) so a SIGKILL reaches the real process. */
export function spawnWorker(stack: PrivateStack, name: string, args: string[], logDir: string): Proc {
  const log = path.join(logDir, `${name}.log`);
  const out = fs.openSync(log, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env: stack.childEnv(), stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { name, child, exited, log };
}

/** The last JSON line of `proc`'s log whose msg is `msg` (progress lines of the workers), or undefined. */
export function lastLine(proc: Proc, msg: string): Record<string, unknown> | undefined {
  const lines = fs.readFileSync(proc.log, 'utf8').split('\n').filter((l) => l.startsWith(`{"msg":"${msg}"`));
  return lines.length ? (JSON.parse(lines[lines.length - 1]) as Record<string, unknown>) : undefined;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** A writer changing rows 1..keys at about `rate` statements per second; errors (source down) are counted, not thrown. */
export class Writer {
  acked = 0;
  failed = 0;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  constructor(private readonly pool: mysql.Pool, private readonly table: string, private readonly keys = 300, private readonly rate = 60) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      let i = 0;
      while (this.running) {
        i += 1;
        const id = 1 + Math.floor(Math.random() * this.keys);
        const r = Math.random();
        const sql = r < 0.5
          ? `INSERT INTO ${this.table} (id, email, balance, n) VALUES (${id}, 'u${id}_${i}@x.io', ${(i % 1000) / 4}, ${i}) ON DUPLICATE KEY UPDATE email = VALUES(email), balance = VALUES(balance), n = VALUES(n)`
          : r < 0.85 ? `UPDATE ${this.table} SET n = n + 1, balance = balance + 0.25 WHERE id = ${id}` : `DELETE FROM ${this.table} WHERE id = ${id}`;
        try {
          await this.pool.query(sql);
          this.acked += 1;
        } catch {
          this.failed += 1;
          await sleep(200);
        }
        await sleep(1000 / this.rate);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

export interface PipelineFixture {
  readonly db: string;
  readonly table: string;
  readonly targetTable: string;
  readonly topic: string;
  readonly cdcId: string;
  readonly pool: mysql.Pool;
  readonly store: CheckpointStore;
  readonly client: DynamoDBClient;
  readonly mapping: CompiledMapping;
  readonly mappingFile: string;
  readonly logDir: string;
  cdc: Proc;
  etl: Proc;
  startCdc(): Proc;
  startEtl(): Proc;
  /** Waits until a verification run finds 0 mismatches; returns the ms it took and the last counts. */
  converge(timeoutMs?: number): Promise<{ ms: number; counts: VerifyCountsFull }>;
  /** Where the pipeline stands now; a part that cannot be read (service down) is reported as its error. */
  sample(): Promise<PipelineSample>;
  close(): Promise<void>;
}

/** Progress of each stage at one moment: CDC behind the binlog, ETL behind the topic (sums over partitions). */
export interface PipelineSample {
  readonly at: string;
  /** GTID sequence number of the binlog's last transaction, and of the CDC checkpoint (what Kafka acknowledged). */
  readonly binlogSeq?: string;
  readonly cdcSeq?: string;
  readonly cdcState?: string;
  readonly cdcError?: string | null;
  /** Messages on the topic, and how many of them the ETL group has not committed yet. */
  readonly topicEnd?: number;
  readonly etlLag?: number;
  readonly problems?: string[];
}

/** Builds the data path on `stack` (whose env must be applied to process.env: `stack.applyEnv()`). */
export async function pipelineFixture(stack: PrivateStack, name: string, opts: { seedRows?: number } = {}): Promise<PipelineFixture> {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), `fault-${name}-`));
  const db = `${name}_src`;
  const metaDb = `${name}_meta`;
  const table = 'users';
  const targetTable = `${name}_target`;
  const topic = `${name}_cdc`;
  const pool = createSourcePool({ connectionLimit: 6 });
  await pool.query(`CREATE DATABASE IF NOT EXISTS \`${db}\``);
  await pool.query(`CREATE DATABASE IF NOT EXISTS \`${metaDb}\``);
  await pool.query(`CREATE TABLE \`${db}\`.${table} (id BIGINT PRIMARY KEY, email VARCHAR(64) NOT NULL, balance DECIMAL(12,2) NOT NULL, n INT NOT NULL, note MEDIUMTEXT NULL)`);
  if (opts.seedRows) {
    await pool.query(`INSERT INTO \`${db}\`.${table} SELECT seq, CONCAT('s', seq, '@x.io'), seq / 4, 0, NULL FROM \`${db}\`.seq_1_to_${opts.seedRows}`);
  }
  const config = {
    source: `${db}.${table}`,
    target: targetTable,
    partitionKey: { attribute: 'pk', template: 'USER#{id}' },
    sortKey: { attribute: 'sk', template: 'PROFILE' },
    nulls: 'omit' as const,
    columns: { id: { sqlType: 'bigint' }, balance: { sqlType: 'decimal(12,2)' }, n: { sqlType: 'int' } },
  };
  const mappingFile = path.join(logDir, 'mapping.yaml');
  fs.writeFileSync(mappingFile, YAML.stringify({ version: 1, tables: [config] }));
  const mapping = compileMapping(config, await readColumns(pool, db, table));
  const store = new CheckpointStore(pool, metaDb);
  const kafka = createKafka(`fault-${name}`);
  const group = `${name}_etl`;
  const source = new BuiltinCdcSource({ db: pool, store, kafka });
  const { cdcId } = await source.start({ tables: [{ database: db, table }], topic, partitions: 4 });
  const client = createDynamoClient();
  const startCdc = (): Proc => spawnWorker(stack, 'cdc', ['src/workers/cdc.ts', '--meta-db', metaDb, '--lease-ttl-ms', '5000', '--checkpoint-interval-ms', '200'], logDir);
  const startEtl = (): Proc => spawnWorker(stack, 'etl', ['src/workers/etl.ts', '--mapping', mappingFile, '--topic', topic, '--group', group, '--control-table', `${name}_control`, '--initial-mode', 'exclusive', '--create-target', '--lease-ms', '5000', '--lease-margin-ms', '2000', '--session-timeout', '7000'], logDir);
  let keepLogs = false;
  const seq = (gtid: string | undefined): string | undefined => gtid?.split('-')[2];
  const sample = async (): Promise<PipelineSample> => {
    const problems: string[] = [];
    const part = <T>(what: string, p: Promise<T>): Promise<T | undefined> => p.catch((e: unknown) => void problems.push(`${what}: ${(e as Error).message}`));
    const admin = kafka.admin();
    const [binlog, rec, lag] = await Promise.all([
      part('binlog', pool.query('SELECT @@gtid_binlog_pos AS g').then(([r]) => String((r as { g: string }[])[0].g))),
      part('cdc', store.get(cdcId)),
      part('etl', admin.connect().then(() => groupLag(admin, group, topic))),
    ]);
    await admin.disconnect().catch(() => undefined);
    return {
      at: new Date().toISOString(),
      binlogSeq: seq(binlog),
      cdcSeq: seq(rec?.position?.gtid),
      cdcState: rec?.state,
      cdcError: rec?.error,
      topicEnd: lag?.reduce((n, p) => n + Number(p.end), 0),
      etlLag: lag?.reduce((n, p) => n + p.lag, 0),
      ...(problems.length ? { problems } : {}),
    };
  };
  const f: PipelineFixture = {
    db, table, targetTable, topic, cdcId, pool, store, client, mapping, mappingFile, logDir,
    cdc: startCdc(),
    etl: startEtl(),
    startCdc,
    startEtl,
    sample,
    async converge(timeoutMs = 90_000) {
      const t0 = Date.now();
      let counts: VerifyCountsFull | undefined;
      const samples: PipelineSample[] = [];
      for (let round = 0; ; round += 1) {
        // sampled alongside the verification, so the recovery time measured is not lengthened by it
        const sampled = sample().then((now) => {
          samples.push(now);
          fs.appendFileSync(path.join(logDir, 'converge.jsonl'), `${JSON.stringify({ round, ...now })}\n`);
        });
        try {
          const r = await runVerify({ pool, client, mapping, appliedThrough: async () => '999999999999' }, {
            schema: db, table, mode: 'full', strategy: 'lookup', mismatchFile: path.join(logDir, `mismatches-${round}.jsonl`), recheckTimeoutMs: 2_000, settleMs: 200,
          });
          counts = r.counts;
          if (r.done && counts.missing + counts.extra + counts.different === 0) {
            const ms = Date.now() - t0;
            await sampled;
            return { ms, counts };
          }
        } catch {
          // target table not created yet or a service still coming back: try again
        }
        await sampled;
        if (Date.now() - t0 > timeoutMs) {
          keepLogs = true; // a failed run's worker logs are the evidence: close() leaves them
          const stages = `pipeline at the first round ${JSON.stringify(samples[0])}, at the last ${JSON.stringify(samples.at(-1))}`;
          throw new Error(`no convergence after ${timeoutMs} ms: ${JSON.stringify(counts)}; ${stages}; logs in ${logDir}`);
        }
        await sleep(1000);
      }
    },
    async close() {
      for (const p of [f.cdc, f.etl]) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await client.send(new DeleteTableCommand({ TableName: targetTable })).catch(() => undefined);
      client.destroy();
      await pool.end().catch(() => undefined);
      if (!process.env.FAULT_KEEP && !keepLogs) fs.rmSync(logDir, { recursive: true, force: true });
    },
  };
  return f;
}
