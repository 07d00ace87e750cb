/**
 * Backfill/verify cursors stay out of workflow history (issue 9): the cursor table (src/pipeline/cursor-store.ts) on
 * real MariaDB fences an older attempt and resumes from a reference; and the real table-migration workflow on the
 * Temporal dev server, running the REAL runBackfill activity over string primary keys carrying a marker, copies the
 * whole table across several 1 s slices (each slice a new activity resuming from the previous slice's reference),
 * while its history, payloads decoded, never contains the marker. Every other activity is the workflow tests' fake.
 * A second run fails the first backfill attempt while its copy keeps running (a zombie): the retry resumes from the
 * stored cursor, the zombie's later saves are fenced, the copy counts every row exactly, and the failure in history
 * holds no marker either.
 */
import { asyncLocalStorage, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { Admin, Kafka } from 'kafkajs';
import type * as mysql from 'mysql2/promise';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { createBackfillParts } from '../../../src/activities/parts/backfill';
import type { PartClients } from '../../../src/activities/parts/common';
import type { MigrationActivities } from '../../../src/shared/activity-contract';
import { createKafka } from '../../../src/infra/kafka';
import { createTemporalClient, createWorkerConnection } from '../../../src/infra/temporal';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { CheckpointStore } from '../../../src/pipeline/cdc/checkpoint';
import { BuiltinCdcSource } from '../../../src/pipeline/cdc/source';
import { CURSOR_TABLE, CursorFencedError, CursorStore, CursorStoreError, parseCursorRef } from '../../../src/pipeline/cursor-store';
import { statusQuery } from '../../../src/shared/messages';
import { workflowBundle } from '../../../src/workers/bundle';
import { tableMigrationWorkflow } from '../../../src/workflows';
import { uniqueName } from '../../support/ids';
import { FakeActivities } from '../../workflows/support/fake-activities';
import { testConfig } from '../../workflows/support/harness';

jest.setTimeout(60_000);

const db = uniqueName('curhist').toLowerCase();
const metaDb = `${db}_meta`;
const topics: string[] = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cur-hist-'));
const marker = uniqueName('CURMARK');
const ROWS = 5_000;

let pool: mysql.Pool;
let kafka: Kafka;
let admin: Admin;
let client: Client;

beforeAll(async () => {
  pool = createSourcePool({ connectionLimit: 6 });
  kafka = createKafka('cur-hist-test');
  admin = kafka.admin();
  await admin.connect();
  client = await createTemporalClient();
  await pool.query(`CREATE DATABASE \`${db}\``);
  await pool.query(`CREATE DATABASE \`${metaDb}\``);
});

afterAll(async () => {
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
  await client.connection.close();
  await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await pool.query(`DROP DATABASE IF EXISTS \`${metaDb}\``);
  await pool.end();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the cursor table fences an older attempt, resumes from a reference, resets on null, refuses a row behind its reference', async () => {
  const store = new CursorStore(pool, metaDb);
  const owner = uniqueName('owner');
  const a = await store.claim(owner, 'backfill', null);
  expect(a.cursor).toBeNull();
  const ref1 = await a.save('{"k":"MARKER-1"}', { rowsCopied: 1 });
  expect(ref1).not.toContain('MARKER');
  const b = await store.claim(owner, 'backfill', ref1); // a retry on another worker
  expect(b).toMatchObject({ cursor: '{"k":"MARKER-1"}', counters: { rowsCopied: 1 } });
  await expect(a.save('{"k":"MARKER-0"}', { rowsCopied: 0 })).rejects.toBeInstanceOf(CursorFencedError); // the zombie cannot move it back
  const ref2 = await b.save('{"k":"MARKER-2"}', { rowsCopied: 2 });
  expect(parseCursorRef(ref2)!.generation).toBeGreaterThan(parseCursorRef(ref1)!.generation);
  expect(await store.claim(owner, 'backfill', ref1)).toMatchObject({ cursor: '{"k":"MARKER-2"}', counters: { rowsCopied: 2 } }); // the row is ahead: newest wins
  expect((await store.claim(owner, 'verify', null)).cursor).toBeNull(); // stages are separate rows
  await pool.query(`UPDATE \`${metaDb}\`.\`${CURSOR_TABLE}\` SET generation = 0 WHERE owner = ? AND stage = 'backfill'`, [owner]);
  await expect(store.claim(owner, 'backfill', ref2)).rejects.toBeInstanceOf(CursorStoreError);
  expect(await store.claim(owner, 'backfill', null)).toMatchObject({ cursor: null, counters: null }); // an operator's rewind starts fresh
});

async function runMigration(table: string, wrap: (real: MigrationActivities['runBackfill']) => MigrationActivities['runBackfill'], sliceMs: number): Promise<string> {
  await pool.query(`CREATE TABLE \`${db}\`.${table} (email VARCHAR(80) NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)`);
  await pool.query(`INSERT INTO \`${db}\`.${table} SELECT CONCAT('MARKER-', ?, '-', LPAD(seq, 6, '0'), '@example.com'), CONCAT('v', seq) FROM \`${db}\`.seq_1_to_${ROWS}`, [marker]);
  const topic = uniqueName(`curhist_${table}`);
  topics.push(topic);
  const store = new CheckpointStore(pool, metaDb);
  await new BuiltinCdcSource({ db: pool, store, kafka }).start({ tables: [{ database: db, table }], topic, partitions: 3 });
  const mappingFile = path.join(dir, `mapping-${table}.yaml`);
  fs.writeFileSync(mappingFile, YAML.stringify({ version: 1, tables: [{ source: `${db}.${table}`, target: 'unused', partitionKey: { attribute: 'pk', template: 'P#{email}' }, nulls: 'omit' }] }));
  const fake = new FakeActivities({ rowsTotal: ROWS });
  const real = createBackfillParts({ pool, kafka, cdcStore: store } as unknown as PartClients);
  const taskQueue = uniqueName('cur-hist-q');
  const connection = await createWorkerConnection();
  const worker = await Worker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities: { ...fake.activities(), runBackfill: wrap(real.runBackfill!) }, maxHeartbeatThrottleInterval: '1 second' });
  const config = testConfig(table, {
    source: { database: db, table },
    mappingFile,
    cdc: { source: 'builtin', topic, partitions: 3 },
    backfill: { parallelism: 2, targetChunkMs: 200, maxRowsPerSecond: 1_500, maxLagMs: 0, maxLagMessages: 0 },
    sliceMs,
  });
  const workflowId = uniqueName('migrate-cur-hist');
  try {
    const history = await worker.runUntil(async () => {
      const handle = await client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId, args: [{ config }] });
      const deadline = Date.now() + 40_000;
      for (;;) {
        const s = await handle.query(statusQuery);
        if (s.backfillDone) {
          expect(s.rowsCopied).toBe(ROWS);
          break;
        }
        if (Date.now() > deadline) throw new Error(`backfill did not finish: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await handle.terminate('test done');
      return handle.fetchHistory();
    });
    const slices = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runBackfill').length;
    const attempts = Math.max(...(history.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0));
    expect(slices + attempts - 1).toBeGreaterThan(1); // resumed at least once: a later slice or a retry
    const decode = (k: string, v: unknown): unknown =>
      k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v;
    const text = JSON.stringify(history, decode);
    expect(text).toContain('cursor-ref:v1:backfill:');
    expect(text).not.toContain(marker);
    // The key values went to the cursor table instead, and every row was published.
    const [rows] = await pool.query(`SELECT cursor_text FROM \`${metaDb}\`.\`${CURSOR_TABLE}\` WHERE stage = 'backfill' AND cursor_text LIKE ?`, [`%${db}.${table}%`]);
    expect((rows as { cursor_text: string }[]).some((r) => r.cursor_text.includes(marker))).toBe(true);
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.reduce((n, p) => n + Number(p.high), 0)).toBeGreaterThanOrEqual(ROWS);
    return text;
  } finally {
    await client.workflow.getHandle(workflowId).terminate('cleanup').catch(() => undefined);
    await connection.close();
  }
}

test('a sliced real backfill over marker keys completes and leaves no key value in the workflow history', async () => {
  await runMigration('people', (real) => real, 1_000);
});

test('a failed attempt whose copy keeps running (a zombie) is fenced; the retry resumes from the stored cursor and counts exactly', async () => {
  const zombies: Promise<unknown>[] = [];
  const text = await runMigration(
    'zombies',
    (real) => async (input) => {
      if (Context.current().info.attempt > 1 || zombies.length > 0) return real(input);
      // The copy runs detached from this attempt's context (no heartbeat, no cancellation), slowly and for a long slice,
      // so it keeps copying and saving after the attempt failed and after the retry claimed the cursor.
      const detached = asyncLocalStorage.exit(() => real({ ...input, maxRowsPerSecond: 400, sliceMs: 8_000 }));
      zombies.push(detached.then((r) => r, (e: unknown) => e));
      await new Promise((r) => setTimeout(r, 1_500));
      throw ApplicationFailure.retryable(`worker lost (test)`, 'WorkerLost');
    },
    2_000,
  );
  expect(text).toContain('worker lost (test)'); // attempt 1's failure, recorded with the retry
  const outcome = await Promise.all(zombies);
  // The zombie ended its slice after the retry claimed the cursor: its save was refused.
  expect(outcome[0]).toBeInstanceOf(CursorFencedError);
});
