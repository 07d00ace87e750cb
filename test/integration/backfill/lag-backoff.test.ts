/**
 * The production runBackfill activity (src/activities/parts/backfill.ts) backs off on pipeline lag, on the real stack:
 * with the ETL held back (not started) the backlog of load events on the topic passes `maxLagMessages`, the copy
 * stops within one chunk and its heartbeat says it is waiting on lag; once the ETL starts it drains, the copy
 * continues and finishes, and verification finds the target equal to the source.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Admin, Kafka } from 'kafkajs';
import type * as mysql from 'mysql2/promise';
import YAML from 'yaml';
import { createBackfillParts } from '../../../src/activities/parts/backfill';
import type { PartClients } from '../../../src/activities/parts/common';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { CheckpointStore } from '../../../src/pipeline/cdc/checkpoint';
import { BinlogCdcReader } from '../../../src/pipeline/cdc/reader';
import { BuiltinCdcSource } from '../../../src/pipeline/cdc/source';
import { ControlStore } from '../../../src/pipeline/consumer/control';
import { EtlConsumer } from '../../../src/pipeline/consumer/consumer';
import { groupLag } from '../../../src/pipeline/consumer/offsets';
import { readColumns } from '../../../src/pipeline/row/codec';
import { ensureTargetTable } from '../../../src/pipeline/target/table';
import { compileMapping, type CompiledMapping } from '../../../src/pipeline/transform/mapping';
import { appliedThroughProbe } from '../../../src/pipeline/verify/applied-probe';
import { runVerify } from '../../../src/pipeline/verify/verifier';
import type { BackfillInput, BackfillProgress } from '../../../src/shared/activity-contract';
import { uniqueName } from '../../support/ids';

jest.setTimeout(90_000);

const db = uniqueName('bf_lag');
const metaDb = `${db}_meta`;
const topic = uniqueName('bf_lag_topic');
const group = uniqueName('bf_lag_group');
const target = uniqueName('bf_lag_target');
const controlTable = uniqueName('bf_lag_control');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-lag-'));
const ROWS = 6_000;
const MAX_LAG_MESSAGES = 1_500;

let pool: mysql.Pool;
let client: DynamoDBClient;
let kafka: Kafka;
let admin: Admin;
let mapping: CompiledMapping;
let mappingFile: string;

beforeAll(async () => {
  pool = createSourcePool({ connectionLimit: 8 });
  client = createDynamoClient();
  kafka = createKafka('bf-lag-test');
  admin = kafka.admin();
  await admin.connect();
  await pool.query(`CREATE DATABASE \`${db}\``);
  await pool.query(`CREATE DATABASE \`${metaDb}\``);
  await pool.query(`CREATE TABLE \`${db}\`.items (id INT NOT NULL PRIMARY KEY, name VARCHAR(30) NOT NULL, qty INT NOT NULL)`);
  await pool.query(`INSERT INTO \`${db}\`.items SELECT seq, CONCAT('n', seq), seq % 97 FROM \`${db}\`.seq_1_to_${ROWS}`);
  const entry = { source: `${db}.items`, target, partitionKey: { attribute: 'pk', template: 'IT#{id}' }, nulls: 'omit' as const };
  mapping = compileMapping(entry, await readColumns(pool, db, 'items'));
  mappingFile = path.join(dir, 'mapping.yaml');
  fs.writeFileSync(mappingFile, YAML.stringify({ version: 1, tables: [entry] }));
  await ensureTargetTable(client, [mapping], { create: true });
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
  await admin.disconnect();
  await Promise.all([target, controlTable].map((t) => client.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined)));
  await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await pool.query(`DROP DATABASE IF EXISTS \`${metaDb}\``);
  await pool.end();
  client.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

const until = async (what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

test('a held-back ETL stops the copy within one chunk (heartbeat says why); the ETL starting lets it finish; the table verifies', async () => {
  const store = new CheckpointStore(pool, metaDb);
  const cdc = new BuiltinCdcSource({ db: pool, store, kafka });
  const started = await cdc.start({ tables: [{ database: db, table: 'items' }], topic, partitions: 3 });
  const reader = new BinlogCdcReader({ db: pool, store, kafka }, { cdcId: started.cdcId, leaseTtlMs: 10_000, checkpointIntervalMs: 200 });
  const readerRun = reader.run();
  const control = new ControlStore(client, controlTable);
  await control.ensureTable();
  // Only what the backfill part uses; the rest of PartClients belongs to other parts.
  const parts = createBackfillParts({ pool, kafka, cdcStore: store, etlControl: control } as unknown as PartClients);
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 20_000 });
  const beats: BackfillProgress[] = [];
  env.on('heartbeat', (d: unknown) => {
    if (d) beats.push(d as BackfillProgress);
  });
  const input: BackfillInput = {
    ctx: { migrationId: `migrate:${db}.items`, source: { database: db, table: 'items' }, phase: 'backfill' },
    mappingFile, topic, cursor: null, parallelism: 1, targetChunkMs: 500, sliceMs: 80_000, rowsCopiedBefore: 0,
    group, maxLagMs: 0, maxLagMessages: MAX_LAG_MESSAGES,
  };
  let consumer: EtlConsumer | undefined;
  let consumerRun: Promise<unknown> | undefined;
  try {
    const runBackfill = parts.runBackfill!;
    const running: Promise<BackfillProgress> = env.run(runBackfill, input);
    let result: BackfillProgress | undefined;
    let failure: unknown;
    running.then((r) => (result = r), (e: unknown) => (failure = e));

    // Held back: the backlog (every load so far, nothing consumed) passes the limit and the copy stops.
    await until('the copy to wait on lag', () => {
      if (failure) throw failure;
      if (result) throw new Error(`the copy finished without waiting: ${JSON.stringify(result)}`);
      return beats.some((b) => b.waitingOn !== undefined);
    }, 30_000).catch((e: unknown) => {
      throw new Error(`${String(e)}; heartbeats: ${JSON.stringify(beats.map((b) => [b.rowsCopied, b.throttles, b.waitingOn ?? '']))}`);
    });
    const waiting = beats.find((b) => b.waitingOn !== undefined)!;
    expect(waiting.waitingOn).toMatch(/ETL backlog \d+ events > maxLagMessages 1500/);
    expect(result).toBeUndefined();
    const heldAt = waiting.rowsCopied;
    expect(heldAt).toBeGreaterThan(MAX_LAG_MESSAGES);
    expect(heldAt).toBeLessThan(ROWS);
    // Within one chunk: every chunk but the last one began with the backlog (= rows copied) at or under the limit.
    const chunkEnds = [...new Set(beats.map((b) => b.rowsCopied))].sort((a, b) => a - b);
    expect(chunkEnds.filter((n) => n > MAX_LAG_MESSAGES)).toEqual([heldAt]);
    await new Promise((r) => setTimeout(r, 2_000));
    const backlog = (await groupLag(admin, group, topic)).reduce((s, p) => s + p.lag, 0);
    expect(backlog).toBe(heldAt); // nothing more was published while waiting
    expect(Math.max(...beats.map((b) => b.rowsCopied))).toBe(heldAt);

    // The ETL starts (in exclusive mode, as the workflow runs it during the backfill): the backlog drains, the copy
    // continues and finishes.
    consumer = new EtlConsumer({ kafka, client, mappings: [mapping], topic, group, control, initialMode: 'exclusive', modePollMs: 200 });
    consumerRun = consumer.run();
    const done = await running;
    expect(done).toMatchObject({ done: true, stoppedBy: 'done' });
    expect(done.rowsCopied).toBe(ROWS);
    expect(done.throttles).toBeGreaterThan(0);
    expect(done.waitingOn).toBeUndefined();

    await until('the ETL to drain the topic', async () => (await groupLag(admin, group, topic)).every((p) => p.lag === 0), 30_000);
    const appliedThrough = appliedThroughProbe({ admin, topic, group, cdcPosition: () => reader.progress().position });
    const verified = await runVerify({ pool, client, mapping, appliedThrough }, { schema: db, table: 'items', chunkRows: 2_000, recheckTimeoutMs: 30_000, mode: 'full', mismatchFile: path.join(dir, 'mismatches.jsonl') });
    expect(verified.counts).toMatchObject({ rowsCompared: ROWS, missing: 0, extra: 0, different: 0 });
  } finally {
    env.cancel();
    await consumer?.stop();
    await consumerRun?.catch(() => undefined);
    reader.stop();
    await readerRun.catch(() => undefined);
  }
});
