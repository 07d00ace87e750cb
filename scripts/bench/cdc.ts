/**
 * CDC benchmark: the built-in binlog reader's publish throughput (binlog read + decode + DMS encoding + idempotent
 * acks=all produce + checkpointing) beside raw kafkajs produce of the very same messages (same keys, values, batch
 * size, producer settings), and binlog-commit → Kafka-ack latency at a steady commit rate beside the raw produce
 * latency of one message at the same rate. Percentiles from hdr-histogram-js (microsecond resolution).
 */
import * as hdr from 'hdr-histogram-js';
import type { Kafka } from 'kafkajs';
import * as mysql from 'mysql2/promise';
import { loadStackEnv } from '../../src/infra/env';
import { createKafka } from '../../src/infra/kafka';
import { mysqlConnectionParams } from '../../src/infra/mysql';
import { CheckpointStore } from '../../src/pipeline/cdc/checkpoint';
import { BinlogCdcReader } from '../../src/pipeline/cdc/reader';
import { BuiltinCdcSource, currentPosition } from '../../src/pipeline/cdc/source';
import { ROW_QUERY_OPTIONS } from '../../src/pipeline/row/codec';
import type { BenchContext, BenchFigure } from './types';

const BATCH = 1000;
const PARTITIONS = 6;

async function dropTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const existing = await admin.listTopics();
  await admin.deleteTopics({ topics: topics.filter((t) => existing.includes(t)) }).catch(() => undefined);
  await admin.disconnect();
}

export async function run(ctx: BenchContext): Promise<BenchFigure[]> {
  loadStackEnv();
  const n = Math.max(2_000, Math.round(50_000 * ctx.scale));
  const rate = 200;
  const seconds = Math.max(3, Math.round(15 * ctx.scale));
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const db = `bench_cdc_${suffix}`;
  const p = mysqlConnectionParams();
  const pool = mysql.createPool({ ...ROW_QUERY_OPTIONS, host: p.host, port: p.port, user: p.user, password: p.password, connectionLimit: 4 });
  const kafka = createKafka(`bench-cdc-${suffix}`);
  const topics = [`bench_cdc_${suffix}`, `bench_cdc_raw_${suffix}`, `bench_cdc_lat_${suffix}`, `bench_cdc_rawlat_${suffix}`];
  await pool.query(`CREATE DATABASE ${db}`);
  const store = new CheckpointStore(pool, db);
  const source = new BuiltinCdcSource({ db: pool, store, kafka });
  try {
    await pool.query(`CREATE TABLE ${db}.orders (id BIGINT PRIMARY KEY, email VARCHAR(191), total DECIMAL(12,2), status VARCHAR(16), profile JSON, created_at DATETIME(6))`);

    // --- throughput: n rows committed before the reader starts, then timed until all are acknowledged
    ctx.log(`CDC throughput: ${n} rows in transactions of ${BATCH}`);
    const from = await currentPosition(pool);
    for (let i = 0; i < n; i += BATCH) {
      const rows = Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => [i + j, `user${i + j}@example.com`, ((i + j) % 100000) / 100, 'paid', '{"city":"Lisbon"}', '2026-11-25 08:00:00.123456']);
      await pool.query(`INSERT INTO ${db}.orders VALUES ?`, [rows]);
    }
    const { cdcId } = await source.start({ cdcId: `bench-${suffix}`, tables: [{ database: db, table: 'orders' }], topic: topics[0], partitions: PARTITIONS, start: { kind: 'position', position: { gtid: from.gtid } } });
    const sent: { key: string | null; value: string }[] = [];
    let done: () => void = () => undefined;
    const all = new Promise<void>((r) => (done = r));
    // Steady state: from the first acknowledged batch to the last (connection set-up excluded).
    let firstAck = 0;
    let firstBatch = 0;
    let lastAck = 0;
    const reader = new BinlogCdcReader({ db: pool, store, kafka }, {
      cdcId, maxBatchMessages: BATCH, checkpointIntervalMs: 500,
      onAck: (batch) => {
        if (!firstAck) {
          firstAck = performance.now();
          firstBatch = batch.length;
        }
        sent.push(...batch);
        if (sent.length >= n) {
          lastAck = performance.now();
          done();
        }
      },
    });
    const running = reader.run();
    await all;
    const cdcRate = (n - firstBatch) / ((lastAck - firstAck) / 1000);
    reader.stop();
    await running;

    ctx.log('raw kafkajs produce of the same messages');
    await source.start({ cdcId: `bench-raw-${suffix}`, tables: [{ database: db, table: 'orders' }], topic: topics[1], partitions: PARTITIONS }); // creates the topic alike
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    const r0 = performance.now();
    for (let i = 0; i < sent.length; i += BATCH) await producer.send({ topic: topics[1], acks: -1, messages: sent.slice(i, i + BATCH) });
    const rawRate = sent.length / ((performance.now() - r0) / 1000);

    // --- latency: single-row commits at a steady rate; commit returned → batch containing it acknowledged
    ctx.log(`latency: ${rate} commits/s for ${seconds} s`);
    const lat = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
    const committedAt = new Map<string, number>();
    const ackedFirst = new Map<string, number>();
    const { cdcId: latId } = await source.start({ cdcId: `bench-lat-${suffix}`, tables: [{ database: db, table: 'orders' }], topic: topics[2], partitions: PARTITIONS });
    const latReader = new BinlogCdcReader({ db: pool, store, kafka }, {
      cdcId: latId, maxBatchMessages: BATCH, checkpointIntervalMs: 500,
      onAck: (batch) => {
        const now = performance.now();
        for (const m of batch) {
          const t = committedAt.get(m.key ?? '');
          if (t !== undefined) lat.recordValue(Math.max(1, Math.round((now - t) * 1000)));
          else ackedFirst.set(m.key ?? '', now); // acknowledged before the client saw its COMMIT return
        }
      },
    });
    const latRunning = latReader.run();
    await new Promise((r) => setTimeout(r, 1000));
    const total = rate * seconds;
    const l0 = performance.now();
    for (let i = 0; i < total; i++) {
      const due = l0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const id = 10_000_000 + i;
      await pool.query(`INSERT INTO ${db}.orders VALUES (?, 'l@example.com', 1.00, 'new', '{}', '2026-11-25 08:00:00.000000')`, [id]);
      const key = JSON.stringify([String(id)]);
      const at = performance.now();
      committedAt.set(key, at);
      const acked = ackedFirst.get(key);
      if (acked !== undefined) lat.recordValue(Math.max(1, Math.round((acked - at) * 1000)));
    }
    const deadline = Date.now() + 30_000;
    while (lat.totalCount < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    latReader.stop();
    await latRunning;

    ctx.log('raw produce latency at the same rate');
    await source.start({ cdcId: `bench-rawlat-${suffix}`, tables: [{ database: db, table: 'orders' }], topic: topics[3], partitions: PARTITIONS });
    const rawLat = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
    const sample = sent.slice(0, total);
    const q0 = performance.now();
    for (let i = 0; i < sample.length; i++) {
      const wait = q0 + (i * 1000) / rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const s0 = performance.now();
      await producer.send({ topic: topics[3], acks: -1, messages: [sample[i]] });
      rawLat.recordValue(Math.max(1, Math.round((performance.now() - s0) * 1000)));
    }
    await producer.disconnect();

    const ms = (h: hdr.Histogram, p: number): number => h.getValueAtPercentile(p) / 1000;
    const note = `${n} rows (~250 B JSON messages), ${PARTITIONS} partitions, batches of ${BATCH}, idempotent producer, acks=all`;
    const latNote = `${lat.totalCount}/${total} single-row commits at ${rate}/s; CDC latency includes binlog delivery, decoding and batching`;
    return [
      { name: 'CDC publish throughput (binlog → DMS JSON → Kafka ack)', value: cdcRate, unit: 'events/s', baselineName: 'raw kafkajs produce of the same messages', baseline: rawRate, higherIsBetter: true, note },
      { name: 'CDC binlog-commit → Kafka-ack latency p50', value: ms(lat, 50), unit: 'ms', baselineName: 'raw kafkajs produce latency p50 (1 message)', baseline: ms(rawLat, 50), higherIsBetter: false, note: latNote },
      { name: 'CDC binlog-commit → Kafka-ack latency p99', value: ms(lat, 99), unit: 'ms', baselineName: 'raw kafkajs produce latency p99 (1 message)', baseline: ms(rawLat, 99), higherIsBetter: false, note: latNote },
    ];
  } finally {
    await dropTopics(kafka, topics);
    await pool.query(`DROP DATABASE IF EXISTS ${db}`);
    await pool.end();
  }
}
