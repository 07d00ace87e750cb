/**
 * Backfill memory benchmark (issue 5's "peak memory at 100k and at 1M rows, goal: flat"): heap + buffers growth while
 * the real backfill copies a table to a Kafka topic (publish only: reads, encode, acks=all), at 1,000,000 rows beside
 * 100,000 rows. Retained memory after a full GC at every chunk end is the figure; the sampled peak (chunks in flight
 * and uncollected garbage) is in the note. Its own area so it can run alone: `npm run bench -- backfill-memory`.
 * Sizes: 100k / 1M at scale ≥ 1 (about 1–2 minutes on the 2-core machine, seeding included), 2.5k / 25k below.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { loadStackEnv } from '../../src/infra/env';
import { createKafka, withAdmin } from '../../src/infra/kafka';
import { runBackfill } from '../../src/pipeline/backfill/backfill';
import { KafkaLoadSink } from '../../src/pipeline/backfill/kafka-sink';
import { createSourcePool } from '../../src/pipeline/backfill/source-pool';
import type { BenchContext, BenchFigure } from './types';

const PARTITIONS = 6;

/** A forced full GC (V8's gc exposed at run time), so sampled peaks are live data, not uncollected garbage. */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;


/**
 * Memory growth (MB) of heap + array buffers while `fn` runs: `peak` sampled every 20 ms (includes garbage not yet
 * collected and the chunks in flight), `retained` sampled right after a full GC at the end of every chunk (what the
 * copy keeps alive: flat when nothing accumulates).
 *
 * The GC runs twice: V8 frees dead ArrayBuffers' backing stores on a concurrent sweeper, so right after one gc()
 * `arrayBuffers` still counts the Kafka request and MySQL packet buffers of chunks already published (spikes of
 * 5–17 MB at random chunk ends). The maximum over chunk ends then grew with the number of chunks — that was the
 * "growth" with the row count (11.5 → 17–21 MB at 25k → 250k); the next GC completes the sweep.
 */
async function memoryGrowth(fn: (afterChunk: () => void) => Promise<unknown>): Promise<{ peak: number; retained: number; seconds: number }> {
  const used = (): number => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  gc();
  gc();
  const base = used();
  let peak = base;
  let retained = base;
  const t = setInterval(() => (peak = Math.max(peak, used())), 20);
  const t0 = performance.now();
  try {
    await fn(() => {
      gc();
      gc(); // completes the concurrent sweep of dead ArrayBuffers (see above)
      retained = Math.max(retained, used());
    });
  } finally {
    clearInterval(t);
  }
  const mb = (x: number): number => Math.max(0.1, Math.round(((x - base) / 2 ** 20) * 10) / 10);
  return { peak: mb(peak), retained: mb(retained), seconds: (performance.now() - t0) / 1000 };
}

export async function run(ctx: BenchContext): Promise<BenchFigure[]> {
  loadStackEnv();
  const [small, large] = ctx.scale >= 1 ? [100_000, 1_000_000] : [2_500, 25_000];
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const db = `bench_bfmem_${suffix}`;
  const topic = `bench_bf_mem_${suffix}`;
  const pool = createSourcePool({ connectionLimit: 4 });
  const kafka = createKafka(`bench-backfill-memory-${suffix}`);
  try {
    await pool.query(`CREATE DATABASE ${db}`);
    const t0 = performance.now();
    for (const [table, rows] of [['small', small], ['large', large]] as const) {
      await pool.query(`CREATE TABLE ${db}.${table} (id BIGINT PRIMARY KEY, email VARCHAR(191), total DECIMAL(12,2), status VARCHAR(16), created_at DATETIME(6))`);
      for (let i = 0; i < rows; i += 100_000) {
        await pool.query(`INSERT INTO ${db}.${table} SELECT seq, CONCAT('user', seq, '@example.com'), seq / 100, ELT(1 + seq % 3, 'new', 'paid', 'shipped'), '2026-11-25 08:00:00.123456' FROM ${db}.seq_${i + 1}_to_${Math.min(rows, i + 100_000)}`);
      }
    }
    await pool.query(`ANALYZE TABLE ${db}.small, ${db}.large`);
    ctx.log(`seeded ${small} + ${large} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await withAdmin(kafka, (admin) => admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] }));
    const sink = await KafkaLoadSink.create(kafka, topic, ['id']);
    try {
      ctx.log(`retained and peak memory at ${small} and ${large} rows (publish only)`);
      const s = await memoryGrowth((afterChunk) => runBackfill({ pool, sink, onProgress: afterChunk }, { schema: db, table: 'small', parallelism: 2 }));
      const l = await memoryGrowth((afterChunk) => runBackfill({ pool, sink, onProgress: afterChunk }, { schema: db, table: 'large', parallelism: 2 }));
      ctx.log(`${small} rows: retained ${s.retained} MB, peak ${s.peak} MB in ${s.seconds.toFixed(1)} s; ${large} rows: retained ${l.retained} MB, peak ${l.peak} MB in ${l.seconds.toFixed(1)} s`);
      return [
        {
          name: `backfill retained memory, ${large.toLocaleString('en-US')} rows`,
          value: l.retained,
          unit: 'MB',
          baselineName: `same at ${small.toLocaleString('en-US')} rows`,
          baseline: s.retained,
          higherIsBetter: false,
          note:
            `goal: flat. Heap + buffers after a GC at every chunk end (publish only); sampled peak incl. chunks in flight and garbage: ${l.peak} MB vs ${s.peak} MB; ` +
            `bounded by max chunk rows × parallelism; ${large} rows published at ${Math.round(large / l.seconds)} rows/s (GC twice per chunk included)`,
        },
      ];
    } finally {
      await sink.close();
    }
  } finally {
    await withAdmin(kafka, (admin) => admin.deleteTopics({ topics: [topic] })).catch(() => undefined);
    await pool.query(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
    await pool.end();
  }
}
