/**
 * Backfill/verify cursors stay out of workflow history (issue 9): the cursor table (src/pipeline/cursor-store.ts) on
 * real MariaDB fences an older attempt and resumes from a reference; and the real table-migration workflow on the
 * Temporal dev server, running the REAL runBackfill activity over string primary keys carrying a marker, copies the
 * whole table across several 1 s slices (each slice a new activity resuming from the previous slice's reference),
 * while its history, payloads decoded, never contains the marker. Every other activity is the workflow tests' fake.
 */
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
const topic = uniqueName('curhist_topic');
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
  await pool.query(`CREATE TABLE \`${db}\`.people (email VARCHAR(80) NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)`);
  await pool.query(`INSERT INTO \`${db}\`.people SELECT CONCAT('MARKER-', ?, '-', LPAD(seq, 6, '0'), '@example.com'), CONCAT('v', seq) FROM \`${db}\`.seq_1_to_${ROWS}`, [marker]);
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
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
  const ref1 = await a.save('{"k":"MARKER-1"}');
  expect(ref1).not.toContain('MARKER');
  const b = await store.claim(owner, 'backfill', ref1); // a retry on another worker
  expect(b.cursor).toBe('{"k":"MARKER-1"}');
  await expect(a.save('{"k":"MARKER-0"}')).rejects.toBeInstanceOf(CursorFencedError); // the zombie cannot move it back
  const ref2 = await b.save('{"k":"MARKER-2"}');
  expect(parseCursorRef(ref2)!.generation).toBeGreaterThan(parseCursorRef(ref1)!.generation);
  expect((await store.claim(owner, 'backfill', ref1)).cursor).toBe('{"k":"MARKER-2"}'); // the row is ahead: newest wins
  expect((await store.claim(owner, 'verify', null)).cursor).toBeNull(); // stages are separate rows
  await pool.query(`UPDATE \`${metaDb}\`.\`${CURSOR_TABLE}\` SET generation = 0 WHERE owner = ? AND stage = 'backfill'`, [owner]);
  await expect(store.claim(owner, 'backfill', ref2)).rejects.toBeInstanceOf(CursorStoreError);
  expect((await store.claim(owner, 'backfill', null)).cursor).toBeNull(); // an operator's rewind starts fresh
});

test('a sliced real backfill over marker keys completes and leaves no key value in the workflow history', async () => {
  const store = new CheckpointStore(pool, metaDb);
  await new BuiltinCdcSource({ db: pool, store, kafka }).start({ tables: [{ database: db, table: 'people' }], topic, partitions: 3 });
  const mappingFile = path.join(dir, 'mapping.yaml');
  fs.writeFileSync(mappingFile, YAML.stringify({ version: 1, tables: [{ source: `${db}.people`, target: 'unused', partitionKey: { attribute: 'pk', template: 'P#{email}' }, nulls: 'omit' }] }));
  const fake = new FakeActivities({ rowsTotal: ROWS });
  const real = createBackfillParts({ pool, kafka, cdcStore: store } as unknown as PartClients);
  const taskQueue = uniqueName('cur-hist-q');
  const connection = await createWorkerConnection();
  const worker = await Worker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities: { ...fake.activities(), runBackfill: real.runBackfill! }, maxHeartbeatThrottleInterval: '1 second' });
  const config = testConfig('people', {
    source: { database: db, table: 'people' },
    mappingFile,
    cdc: { source: 'builtin', topic, partitions: 3 },
    backfill: { parallelism: 2, targetChunkMs: 200, maxRowsPerSecond: 1_500, maxLagMs: 0, maxLagMessages: 0 },
    sliceMs: 1_000,
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
    expect(slices).toBeGreaterThan(1); // resumed at least once from a reference
    const decode = (k: string, v: unknown): unknown =>
      k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v;
    const text = JSON.stringify(history, decode);
    expect(text).toContain('cursor-ref:v1:backfill:');
    expect(text).not.toContain(marker);
    // The key values went to the cursor table instead, and every row was published.
    const [rows] = await pool.query(`SELECT cursor_text FROM \`${metaDb}\`.\`${CURSOR_TABLE}\` WHERE stage = 'backfill'`);
    expect((rows as { cursor_text: string }[]).some((r) => r.cursor_text.includes(marker))).toBe(true);
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.reduce((n, p) => n + Number(p.high), 0)).toBeGreaterThanOrEqual(ROWS);
  } finally {
    await client.workflow.getHandle(workflowId).terminate('cleanup').catch(() => undefined);
    await connection.close();
  }
});
