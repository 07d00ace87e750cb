/**
 * Pacing of a running copy on the real stack (MariaDB source, loads published to a real Kafka topic):
 * - the max rows/s ceiling holds for the measured rate over thousands of rows (and over every prefix of the run);
 *   no lower bound is asserted (a loaded machine may run below the ceiling);
 * - a pause raised mid-run takes effect within one chunk per range, nothing is published while paused, and resuming
 *   continues from the cursor to the same set of rows a fresh run copies;
 * - the production activity cancelled mid-run (the workflow's pause) returns its acknowledged cursor within one
 *   chunk, and the next slice resumes from it: every row published exactly once.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import type * as mysql from 'mysql2/promise';
import YAML from 'yaml';
import { createBackfillParts } from '../../../src/activities/parts/backfill';
import type { PartClients } from '../../../src/activities/parts/common';
import { createKafka } from '../../../src/infra/kafka';
import { runBackfill, type BackfillRunProgress } from '../../../src/pipeline/backfill/backfill';
import { KafkaLoadSink } from '../../../src/pipeline/backfill/kafka-sink';
import { MemorySink, type LoadSink } from '../../../src/pipeline/backfill/sink';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { CheckpointStore } from '../../../src/pipeline/cdc/checkpoint';
import { BuiltinCdcSource } from '../../../src/pipeline/cdc/source';
import type { CdcEvent } from '../../../src/pipeline/types';
import type { BackfillInput, BackfillProgress } from '../../../src/shared/activity-contract';
import { uniqueName } from '../../support/ids';

jest.setTimeout(60_000);

const db = uniqueName('bf_pace');
const metaDb = `${db}_meta`;
const topic = uniqueName('bf_pace_topic');
const cdcTopic = uniqueName('bf_pace_cdc');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-pace-'));
const ROWS = 6_000;

let pool: mysql.Pool;
let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  pool = createSourcePool({ connectionLimit: 8 });
  kafka = createKafka('bf-pace-test');
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
  await pool.query(`CREATE DATABASE \`${db}\``);
  await pool.query(`CREATE DATABASE \`${metaDb}\``);
  await pool.query(`CREATE TABLE \`${db}\`.t (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)`);
  await pool.query(`INSERT INTO \`${db}\`.t SELECT seq, CONCAT('v', seq) FROM \`${db}\`.seq_1_to_${ROWS}`);
});

afterAll(async () => {
  await admin.deleteTopics({ topics: [topic, cdcTopic] }).catch(() => undefined);
  await admin.disconnect();
  await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await pool.query(`DROP DATABASE IF EXISTS \`${metaDb}\``);
  await pool.end();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Wraps a sink, recording when each acknowledged batch landed and its size. */
function timed(inner: LoadSink): LoadSink & { acks: { atMs: number; rows: number }[] } {
  const acks: { atMs: number; rows: number }[] = [];
  return {
    acks,
    async publish(events: readonly CdcEvent[]) {
      await inner.publish(events);
      acks.push({ atMs: Date.now(), rows: events.length });
    },
  };
}

test('the max rows/s ceiling holds for the measured rate of a real copy to Kafka', async () => {
  const MAX = 2_000;
  const CHUNK = 200;
  const kafkaSink = await KafkaLoadSink.create(kafka, topic, ['id']);
  const sink = timed(kafkaSink);
  try {
    const t0 = Date.now();
    const p = await runBackfill({ pool, sink }, { schema: db, table: 't', maxRowsPerSecond: MAX, initialChunkRows: CHUNK, maxChunkRows: CHUNK, parallelism: 2 });
    const elapsedMs = Date.now() - t0;
    expect(p).toMatchObject({ done: true, rowsCopied: ROWS });
    const measured = (ROWS * 1000) / elapsedMs;
    // The ceiling: over the run, and at every ack no more than one chunk per range ahead of MAX × elapsed.
    expect(measured).toBeLessThanOrEqual(MAX * 1.05);
    let sent = 0;
    for (const a of sink.acks) {
      sent += a.rows;
      expect(sent).toBeLessThanOrEqual((MAX * (a.atMs - t0)) / 1000 + 2 * CHUNK);
    }
    expect(p.rowsPerSecond).toBeLessThanOrEqual(MAX * 1.05);
  } finally {
    await kafkaSink.close();
  }
});

test('a pause raised mid-run holds the copy within one chunk per range; resume continues from the cursor to the same rows', async () => {
  const sink = new MemorySink();
  let paused = false;
  let chunksWhenPaused = -1;
  const seen: BackfillRunProgress[] = [];
  const CHUNK = 300;
  const running = runBackfill(
    {
      pool,
      sink,
      paused: () => paused,
      onProgress: (p) => {
        seen.push(p);
        if (p.chunks === 3 && !paused) {
          paused = true;
          chunksWhenPaused = p.chunks;
        }
      },
    },
    { schema: db, table: 't', parallelism: 2, initialChunkRows: CHUNK, minChunkRows: CHUNK, maxChunkRows: CHUNK },
  );
  for (const deadline = Date.now() + 20_000; chunksWhenPaused < 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
  expect(chunksWhenPaused).toBe(3);
  // Held for 2 s: in that window at most the chunk the other range had in flight when the pause was raised lands.
  await new Promise((r) => setTimeout(r, 2_000));
  expect(seen.length - chunksWhenPaused).toBeLessThanOrEqual(1);
  expect(sink.events.length).toBeLessThanOrEqual((chunksWhenPaused + 1) * CHUNK);
  expect(sink.events.length).toBeLessThan(ROWS);
  paused = false;
  const p = await running;
  expect(p).toMatchObject({ done: true, rowsCopied: ROWS });
  const keys = sink.events.map((e) => String(e.data.id));
  expect(keys).toHaveLength(ROWS); // continued from the cursor: no row twice, none skipped
  const fresh = new MemorySink();
  await runBackfill({ pool, sink: fresh }, { schema: db, table: 't' });
  const byKey = (s: MemorySink): string[] => s.events.map((e) => JSON.stringify(e.data)).sort();
  expect(byKey(sink)).toEqual(byKey(fresh));
});

test('the production activity cancelled mid-run (the workflow pause) stops within one chunk; the next slice resumes from its cursor', async () => {
  const store = new CheckpointStore(pool, metaDb);
  const cdc = new BuiltinCdcSource({ db: pool, store, kafka });
  await cdc.start({ tables: [{ database: db, table: 't' }], topic: cdcTopic, partitions: 3 }); // the task record the part requires
  const mappingFile = path.join(dir, 'mapping.yaml');
  fs.writeFileSync(mappingFile, YAML.stringify({ version: 1, tables: [{ source: `${db}.t`, target: 'unused', partitionKey: { attribute: 'pk', template: 'T#{id}' }, nulls: 'omit' }] }));
  // Only what the backfill part uses (no ETL group: the lag back-off watches CDC lag only here).
  const parts = createBackfillParts({ pool, kafka, cdcStore: store } as unknown as PartClients);
  const runPart = parts.runBackfill!;
  const input: BackfillInput = {
    ctx: { migrationId: `migrate:${db}.t`, source: { database: db, table: 't' }, phase: 'backfill' },
    mappingFile, topic: cdcTopic, cursor: null, parallelism: 1, targetChunkMs: 500, sliceMs: 30_000, rowsCopiedBefore: 0,
    maxRowsPerSecond: 3_000,
    maxLagMs: 0, // no reader runs this task: its CDC lag grows from its creation (lag-backoff.test.ts covers the back-off)
    maxLagMessages: 0,
  };
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 20_000 });
  const beats: BackfillProgress[] = [];
  env.on('heartbeat', (d: unknown) => {
    if (!d) return;
    beats.push(d as BackfillProgress);
    if ((d as BackfillProgress).rowsCopied > 0 && beats.filter((b) => b.rowsCopied > 0).length === 2) env.cancel();
  });
  const first: BackfillProgress = await env.run(runPart, input);
  expect(first).toMatchObject({ done: false, stoppedBy: 'cancelled' });
  const copied = beats.filter((b) => b.rowsCopied > 0).map((b) => b.rowsCopied);
  // Stopped within one chunk: the result is the second acknowledged chunk's progress, or at most the next one's.
  expect(new Set(copied).size).toBeLessThanOrEqual(3);
  expect(first.rowsCopied).toBe(copied[copied.length - 1]);

  const second: BackfillProgress = await new MockActivityEnvironment({ heartbeatTimeoutMs: 20_000 }).run(runPart, { ...input, cursor: first.cursor, rowsCopiedBefore: first.rowsCopied });
  expect(second).toMatchObject({ done: true, stoppedBy: 'done', rowsCopied: ROWS });
  const published = (await admin.fetchTopicOffsets(cdcTopic)).reduce((s, p) => s + Number(p.high), 0);
  expect(published).toBe(ROWS); // every row once, across the cancelled slice and the resumed one
});
