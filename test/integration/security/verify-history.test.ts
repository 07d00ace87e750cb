/**
 * No row data in workflow history, for verification (issue 5): the real table-migration workflow on the Temporal dev
 * server runs the REAL backfill, ETL catch-up, verify and repair activities (through createMigrationActivities, the
 * worker's failure boundary) over a table whose primary keys and columns all carry a marker string; the built-in CDC
 * reader and an ETL consumer run in-process. Before the first verification, one item is tampered with (an attribute
 * set to a marker value), one deleted, and an extra item with a marker key is added, so verification finds three
 * mismatches (report, JSONL mismatch list, recheck), repair re-enqueues them through the topic, and the second
 * verification passes. The first verify attempt is killed after it heartbeated a cursor (it stops and fails the way a
 * lost worker does); the retry resumes from that heartbeat's reference and counts every row exactly once. The
 * verification after the repair is paused by an operator mid-scan (its activity cancelled) and resumed by the workflow
 * in `resume` mode from the cancelled slice's reference. The whole history (payloads, failures, search attributes,
 * memo) and every heartbeat detail the verify attempts sent contain no marker, while the report and the mismatch list
 * (files, outside Temporal) do.
 */
import { asyncLocalStorage, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { DeleteItemCommand, DeleteTableCommand, PutItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin, Kafka } from 'kafkajs';
import type * as mysql from 'mysql2/promise';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import YAML from 'yaml';
import { createMigrationActivities } from '../../../src/activities/migration';
import { createBackfillParts } from '../../../src/activities/parts/backfill';
import type { PartClients } from '../../../src/activities/parts/common';
import { createEtlParts } from '../../../src/activities/parts/etl';
import { createVerifyParts } from '../../../src/activities/parts/verify';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { createLogger } from '../../../src/infra/logger';
import { createTemporalClient, createWorkerConnection } from '../../../src/infra/temporal';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { CheckpointStore } from '../../../src/pipeline/cdc/checkpoint';
import { BinlogCdcReader } from '../../../src/pipeline/cdc/reader';
import { BuiltinCdcSource } from '../../../src/pipeline/cdc/source';
import { EtlConsumer } from '../../../src/pipeline/consumer/consumer';
import { ControlStore } from '../../../src/pipeline/consumer/control';
import { loadVersion } from '../../../src/pipeline/version';
import { readColumns } from '../../../src/pipeline/row/codec';
import { ensureTargetTable } from '../../../src/pipeline/target/table';
import { compileMapping, type CompiledMapping } from '../../../src/pipeline/transform/mapping';
import { mismatchFileOf } from '../../../src/pipeline/verify/contract';
import type { MigrationActivities, VerifyProgress } from '../../../src/shared/activity-contract';
import { pauseSignal, resumeSignal, statusQuery } from '../../../src/shared/messages';
import { workflowBundle } from '../../../src/workers/bundle';
import { tableMigrationWorkflow } from '../../../src/workflows';
import { uniqueName } from '../../support/ids';
import { FakeActivities } from '../../workflows/support/fake-activities';
import { testConfig } from '../../workflows/support/harness';

jest.setTimeout(90_000); // ~25 s alone; the margin is for a loaded shared machine

const db = uniqueName('vfyhist').toLowerCase();
const metaDb = `${db}_meta`;
const topic = uniqueName('vfyhist_topic');
const group = uniqueName('vfyhist_group');
const target = uniqueName('vfyhist_target');
const controlTable = uniqueName('vfyhist_control');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfy-hist-'));
const marker = uniqueName('VFYMARK');
const ROWS = 6_000;
const emailOf = (n: number): string => `${marker}-${String(n).padStart(6, '0')}@example.com`;

let pool: mysql.Pool;
let dynamo: DynamoDBClient;
let kafka: Kafka;
let admin: Admin;
let client: Client;
let mapping: CompiledMapping;

beforeAll(async () => {
  pool = createSourcePool({ connectionLimit: 12 });
  dynamo = createDynamoClient();
  kafka = createKafka('vfy-hist-test');
  admin = kafka.admin();
  await admin.connect();
  client = await createTemporalClient();
  await pool.query(`CREATE DATABASE \`${db}\``);
  await pool.query(`CREATE DATABASE \`${metaDb}\``);
  await pool.query(`CREATE TABLE \`${db}\`.people (email VARCHAR(96) NOT NULL PRIMARY KEY, note VARCHAR(96) NOT NULL, n INT NOT NULL)`);
  await pool.query(`CREATE TABLE \`${db}\`.side (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6) NOT NULL)`);
  await pool.query(`INSERT INTO \`${db}\`.people SELECT CONCAT(?, '-', LPAD(seq, 6, '0'), '@example.com'), CONCAT(?, '-note-', seq), seq FROM \`${db}\`.seq_1_to_${ROWS}`, [marker, marker]);
  const entry = { source: `${db}.people`, target, partitionKey: { attribute: 'pk', template: 'P#{email}' }, nulls: 'omit' as const };
  fs.writeFileSync(path.join(dir, 'mapping.yaml'), YAML.stringify({ version: 1, tables: [entry] }));
  mapping = compileMapping(entry, await readColumns(pool, db, 'people'));
  await ensureTargetTable(dynamo, [mapping], { create: true });
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
  await admin.deleteGroups([group]).catch(() => undefined);
  await admin.disconnect();
  await client.connection.close();
  await Promise.all([target, controlTable].map((t) => dynamo.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined)));
  await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await pool.query(`DROP DATABASE IF EXISTS \`${metaDb}\``);
  await pool.end();
  dynamo.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Tampers with one item (a marker value), deletes another, adds an extra one under a marker key; then any commit. */
async function corruptTarget(): Promise<void> {
  const key = (n: number) => ({ pk: { S: `P#${emailOf(n)}` } });
  await dynamo.send(new UpdateItemCommand({ TableName: target, Key: key(1_234), UpdateExpression: 'SET note = :v', ExpressionAttributeValues: { ':v': { S: `${marker}-tampered` } } }));
  await dynamo.send(new DeleteItemCommand({ TableName: target, Key: key(4_321) }));
  await dynamo.send(new PutItemCommand({ TableName: target, Item: { ...mapping.toItem({ email: `${marker}-ghost@example.com`, note: `${marker}-ghost`, n: '0' }), _v: { N: loadVersion(1) }, _src: { S: mapping.sourceId } } }));
  await pool.query(`INSERT INTO \`${db}\`.side (at) VALUES (NOW(6))`); // a newer snapshot for repair's loads
}

test('verification with mismatches, a killed attempt, a pause and a repair leaves no row value in the workflow history', async () => {
  const store = new CheckpointStore(pool, metaDb);
  const cdc = new BuiltinCdcSource({ db: pool, store, kafka });
  const started = await cdc.start({ tables: [{ database: db, table: 'people' }], topic, partitions: 3 });
  const reader = new BinlogCdcReader({ db: pool, store, kafka }, { cdcId: started.cdcId, leaseTtlMs: 10_000, checkpointIntervalMs: 200 });
  const readerRun = reader.run();
  const control = new ControlStore(dynamo, controlTable);
  const consumer = new EtlConsumer({ kafka, client: dynamo, mappings: [mapping], topic, group, control, initialMode: 'shared', modePollMs: 200 });
  const consumerRun = consumer.run();

  const clients = { pool, dynamo, kafka, cdcStore: store, cdcMetaDb: metaDb, etlControl: control, reportDir: dir, cdcClaimTimeoutMs: 10_000 } as unknown as PartClients;
  const parts = { ...createBackfillParts(clients), ...createEtlParts(clients), ...createVerifyParts(clients) };
  const beats: string[] = []; // every heartbeat detail the verify attempts sent, as JSON
  const workflowId = uniqueName('migrate-vfy-hist');
  let verifyCalls = 0;
  let killed: VerifyProgress | undefined;
  let resumedFrom: VerifyProgress | undefined;
  let pausedAt: VerifyProgress | undefined;
  let paused = false;
  let repaired = false;
  const verify: MigrationActivities['verify'] = async (input) => {
    const ctx = Context.current();
    const call = ++verifyCalls;
    if (ctx.info.attempt > 1) resumedFrom = ctx.info.heartbeatDetails as VerifyProgress;
    if (call === 1) await corruptTarget();
    // Call 1 (the first verification, attempt 1) is killed after its first cursor; the first call after the repair is
    // paused by an operator there, and the workflow resumes it later in `resume` mode.
    const pauseHere = repaired && !paused;
    const ac = new AbortController();
    const proxy = Object.create(ctx, {
      cancellationSignal: { value: AbortSignal.any([ctx.cancellationSignal, ac.signal]) },
      heartbeat: {
        value: (d?: VerifyProgress) => {
          ctx.heartbeat(d);
          beats.push(JSON.stringify(d ?? null));
          if ((call === 1 || pauseHere) && d?.cursor?.startsWith('cursor-ref:v1:verify:') && d.rowsCompared > 0 && !ac.signal.aborted) ac.abort();
        },
      },
    }) as Context;
    if (pauseHere) {
      paused = true;
      // Stop the scan at the cursor where the pause is sent, then return only once the pause's cancellation arrived:
      // what a real cancel does, without racing a slice that may finish before the cancellation reaches the worker.
      ac.signal.addEventListener('abort', () => void client.workflow.getHandle(workflowId).signal(pauseSignal, { by: 'test' }));
      const p = await asyncLocalStorage.run(proxy, () => parts.verify!(input));
      while (!ctx.cancellationSignal.aborted) {
        ctx.heartbeat(p);
        await new Promise((r) => setTimeout(r, 200));
      }
      pausedAt = p;
      void client.workflow.getHandle(workflowId).signal(resumeSignal, { by: 'test' });
      return p;
    }
    const p = await asyncLocalStorage.run(proxy, () => parts.verify!(input));
    if (call === 1) {
      killed = p;
      throw ApplicationFailure.retryable('worker lost (test)', 'WorkerLost'); // as if the worker died after its last heartbeat
    }
    return p;
  };
  const repair: MigrationActivities['repair'] = async (input) => {
    const r = await parts.repair!(input);
    repaired = true;
    return r;
  };
  const logger = createLogger('vfy-hist', new Writable({ write: (_c, _e, cb) => cb() }));
  const real = createMigrationActivities({ parts: { runBackfill: parts.runBackfill, awaitEtlCatchUp: parts.awaitEtlCatchUp, verify, repair }, logger });
  const fake = new FakeActivities({ rowsTotal: ROWS });
  const activities = { ...fake.activities(), runBackfill: real.runBackfill, awaitEtlCatchUp: real.awaitEtlCatchUp, verify: real.verify, repair: real.repair };
  const taskQueue = uniqueName('vfy-hist-q');
  const connection = await createWorkerConnection();
  const worker = await Worker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities, maxHeartbeatThrottleInterval: '500 milliseconds' });
  const config = testConfig('people', {
    source: { database: db, table: 'people' },
    mappingFile: path.join(dir, 'mapping.yaml'),
    cdc: { source: 'builtin', topic, partitions: 3 },
    etl: { group, runner: 'external', consumers: 1 },
    backfill: { parallelism: 2, targetChunkMs: 200, maxRowsPerSecond: 20_000, maxLagMs: 0, maxLagMessages: 0 },
    verify: { mode: 'full', repairAttempts: 1 },
    sliceMs: 1_500,
  });
  try {
    const history = await worker.runUntil(async () => {
      const handle = await client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId, args: [{ config }] });
      const deadline = Date.now() + 70_000;
      for (;;) {
        const s = await handle.query(statusQuery);
        if (s.verification?.passed) break;
        if (s.awaiting) throw new Error(`the migration waits on ${s.awaiting.gate}: ${s.awaiting.reason}`);
        if (Date.now() > deadline) throw new Error(`verification did not pass: ${JSON.stringify({ phase: s.phase, verification: s.verification })}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      await handle.terminate('test done');
      return handle.fetchHistory();
    });
    const events = history.events ?? [];
    const decode = (k: string, v: unknown): unknown =>
      k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v;
    const text = JSON.stringify(history, decode);

    // The paths ran: a killed attempt resumed from its heartbeated reference, a pause, mismatches, a repair, a pass.
    expect(killed).toMatchObject({ stoppedBy: 'cancelled', done: false });
    expect(resumedFrom?.cursor).toMatch(/^cursor-ref:v1:verify:\d+$/);
    expect(resumedFrom!.rowsCompared).toBeGreaterThan(0);
    expect(pausedAt).toMatchObject({ stoppedBy: 'cancelled', done: false });
    const modes = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'verify').map((e) => (JSON.parse(Buffer.from(e.activityTaskScheduledEventAttributes!.input!.payloads![0].data!).toString('utf8')) as { mode: string }).mode);
    // Two verifications (before and after the repair), each starting `full`; the last one resumed after the pause. A
    // verification that outlives its 1.5 s slice goes on in more `resume` slices (seen on a loaded machine).
    expect(modes[0]).toBe('full');
    expect(modes.filter((m) => m === 'full')).toHaveLength(2);
    expect(modes.slice(modes.lastIndexOf('full') + 1)).toContain('resume');
    expect(events.some((e) => e.activityTaskStartedEventAttributes?.lastFailure?.applicationFailureInfo?.type === 'WorkerLost')).toBe(true);
    expect(events.some((e) => e.activityTaskCanceledEventAttributes || e.activityTaskCancelRequestedEventAttributes)).toBe(true);
    const results = events
      .filter((e) => e.activityTaskCompletedEventAttributes)
      .map((e) => JSON.parse(Buffer.from(e.activityTaskCompletedEventAttributes!.result!.payloads![0].data!).toString('utf8')) as Partial<VerifyProgress> & { keysRequeued?: number });
    const finals = results.filter((r) => r.reportPath !== undefined && r.done);
    expect(finals.map(({ rowsCompared, missing, extra, different }) => ({ rowsCompared, missing, extra, different }))).toEqual([
      { rowsCompared: ROWS, missing: 1, extra: 1, different: 1 },
      { rowsCompared: ROWS, missing: 0, extra: 0, different: 0 },
    ]);
    expect(results.some((r) => r.keysRequeued === 3)).toBe(true);
    expect(text).toContain('cursor-ref:v1:verify:');
    expect(text).toContain(`${db}.people`);

    // The marker is everywhere the row data legitimately goes (the report, the mismatch list), so its absence below means something.
    const report = fs.readFileSync(finals[0].reportPath!, 'utf8');
    expect(report).toContain(`${marker}-tampered`);
    expect(fs.readFileSync(mismatchFileOf(finals[0].reportPath!), 'utf8').trim().split('\n')).toHaveLength(3);
    expect(beats.length).toBeGreaterThan(3);
    expect(beats.filter((b) => b.includes(marker))).toEqual([]);
    expect(text).not.toContain(marker);
  } finally {
    await client.workflow.getHandle(workflowId).terminate('cleanup').catch(() => undefined);
    await connection.close();
    await consumer.stop();
    await consumerRun.catch(() => undefined);
    reader.stop();
    await readerRun.catch(() => undefined);
  }
});
