/**
 * Backfill benchmark, all in one run on the local stack:
 *  - end to end: snapshot chunk reads → DMS `load` records on the topic (acks=all) → the real ETL consumer applying
 *    them to DynamoDB (exclusive mode, fresh target: the mode the migration runs the backfill in), timed from the
 *    first read until every load is applied, beside raw BatchWriteItem ingest of the very same items just before and
 *    just after (goal ≥ 0.85); three rounds, the median by ratio reported, each part on an idle endpoint
 *    (harness-baselines.ts `roundsBeside`, `settleEndpoint`);
 *  - publish only (reads + encode + acks=all), beside the same raw ingest.
 * Memory at 100k and 1M rows is its own area (./backfill-memory.ts), so it can run alone.
 */
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../../src/infra/dynamodb';
import { loadStackEnv } from '../../src/infra/env';
import { createKafka, withAdmin } from '../../src/infra/kafka';
import { runBackfill } from '../../src/pipeline/backfill/backfill';
import { KafkaLoadSink } from '../../src/pipeline/backfill/kafka-sink';
import { keyOfRow, tableSpec, type KeyValues } from '../../src/pipeline/backfill/keyset';
import { createSourcePool } from '../../src/pipeline/backfill/source-pool';
import { ControlStore } from '../../src/pipeline/consumer/control';
import { EtlConsumer } from '../../src/pipeline/consumer/consumer';
import { readColumns } from '../../src/pipeline/row/codec';
import { ensureTargetTable } from '../../src/pipeline/target/table';
import { compileMapping } from '../../src/pipeline/transform/mapping';
import { loadVersion } from '../../src/pipeline/version';
import { readChunk } from '../../src/pipeline/verify/source';
import type { Item } from '../../src/pipeline/item';
import { roundsBeside, scratchTable, settleEndpoint } from './harness-baselines';
import type { BenchContext, BenchFigure } from './types';

const PARTITIONS = 6;
/** Rounds of the end-to-end figure (the median by ratio is reported). */
const ROUNDS = 3;

export async function run(ctx: BenchContext): Promise<BenchFigure[]> {
  loadStackEnv();
  // 60k rows: long enough that the pipeline's fill time (first chunk read, published, fetched) is a small part of the run.
  const e2eRows = Math.max(5_000, Math.round(60_000 * ctx.scale));
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const db = `bench_backfill_${suffix}`;
  const pool = createSourcePool({ connectionLimit: 8 });
  const client = createDynamoClient();
  const kafka = createKafka(`bench-backfill-${suffix}`);
  const topics = [`bench_bf_${suffix}`, `bench_bf_pub_${suffix}`];
  const target = `bench_bf_${suffix}`;
  const control = `bench_bf_ctl_${suffix}`;
  const extraTables: string[] = [];
  try {
    await pool.query(`CREATE DATABASE ${db}`);
    await pool.query(`CREATE TABLE ${db}.orders (id BIGINT PRIMARY KEY, email VARCHAR(191), total DECIMAL(12,2), status VARCHAR(16), created_at DATETIME(6))`);
    ctx.log(`seeding ${e2eRows} rows`);
    for (let i = 0; i < e2eRows; i += 100_000) {
      await pool.query(`INSERT INTO ${db}.orders SELECT seq, CONCAT('user', seq, '@example.com'), seq / 100, ELT(1 + seq % 3, 'new', 'paid', 'shipped'), '2026-11-25 08:00:00.123456' FROM ${db}.seq_${i + 1}_to_${Math.min(e2eRows, i + 100_000)}`);
    }
    await pool.query(`CREATE TABLE ${db}.e2e LIKE ${db}.orders`);
    await pool.query(`INSERT INTO ${db}.e2e SELECT * FROM ${db}.orders WHERE id <= ${e2eRows}`);
    await pool.query(`ANALYZE TABLE ${db}.orders, ${db}.e2e`);
    await withAdmin(kafka, (admin) => admin.createTopics({ waitForLeaders: true, topics: [{ topic: topics[1], numPartitions: PARTITIONS }] }));
    const columns = await readColumns(pool, db, 'e2e');
    const mapping = compileMapping({ source: `${db}.e2e`, target, partitionKey: { attribute: 'pk', template: 'ORDER#{id}' }, nulls: 'omit' }, columns);

    // Baseline: raw BatchWriteItem of the very same items, just before and just after each round.
    const spec = tableSpec(db, 'e2e', columns);
    const items: Item[] = [];
    const conn = await pool.getConnection();
    let after: KeyValues | null = null;
    for (;;) {
      const { pos, rows } = await readChunk(conn, spec, { after, through: null }, 10_000);
      for (const r of rows) items.push({ ...mapping.toItem(r), _v: { N: loadVersion(pos.seq) }, _src: { S: mapping.sourceId } });
      if (rows.length < 10_000) break;
      after = keyOfRow(spec, rows[rows.length - 1]);
    }
    conn.release();
    const rawTable = async (label: string): Promise<string> => {
      const t = `${target}_${label}`;
      extraTables.push(t); // roundsBeside drops it after its ingest; the finally block again if a round failed
      await scratchTable(client, t);
      return t;
    };

    // End to end through Kafka and the real ETL consumer, ROUNDS times: each round a new topic, group and target
    // table, the same source rows. One ETL member consumes all 6 partitions concurrently (a migration scales out
    // with more members).
    let throttleNote = '';
    const { median, all } = await roundsBeside(client, ROUNDS, items, rawTable, async (round) => {
      const topic = `${topics[0]}_${round}`;
      topics.push(topic);
      await withAdmin(kafka, (admin) => admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] }));
      const t = `${target}_${round}`;
      extraTables.push(t);
      const m = compileMapping({ source: `${db}.e2e`, target: t, partitionKey: { attribute: 'pk', template: 'ORDER#{id}' }, nulls: 'omit' }, columns);
      await ensureTargetTable(client, [m], { create: true });
      const etl = new EtlConsumer({ kafka, client, mappings: [m], topic, group: `bench_bf_${suffix}_${round}`, control: new ControlStore(client, control), initialMode: 'exclusive', freshTarget: true, modePollMs: 500, partitionsConsumedConcurrently: PARTITIONS });
      let ended: string | undefined;
      const etlRun = etl.run().then((r) => void (ended = `${r.stoppedBy} ${r.reason ?? ''}`));
      // Timed from the first read, once the member holds its assignment (a join still running under load is not the copy).
      await Promise.race([etl.joined, new Promise((r) => setTimeout(r, 60_000))]);
      await settleEndpoint();
      ctx.log(`end to end, round ${round + 1}: backfill of ${e2eRows} rows through the topic and the ETL`);
      const sink = await KafkaLoadSink.create(kafka, topic, ['id']);
      const t0 = performance.now();
      await runBackfill({ pool, sink }, { schema: db, table: 'e2e', parallelism: 2 });
      const published = performance.now();
      while (etl.progress().events < e2eRows) {
        if (ended !== undefined) throw new Error(`the ETL consumer stopped before applying every load: ${ended}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const seconds = (performance.now() - t0) / 1000;
      const throttles = etl.progress().throttles;
      throttleNote += throttles ? ` (round ${round + 1}: ${throttles} throttle signals)` : '';
      await sink.close();
      await etl.stop();
      await etlRun;
      return { value: e2eRows / seconds, note: `published after ${((published - t0) / 1000).toFixed(1)} s, applied after ${seconds.toFixed(1)} s` };
    }, ctx.log);
    const rawRate = median.raw;
    const roundsNote = all.map((r, i) => `round ${i + 1} ${(r.value / r.raw).toFixed(3)}× (${Math.round(r.value)} beside ${Math.round(r.raw)} rows/s; ${r.note})`).join('; ');

    ctx.log('publish only');
    const pubSink = await KafkaLoadSink.create(kafka, topics[1], ['id']);
    const t1 = performance.now();
    await runBackfill({ pool, sink: pubSink }, { schema: db, table: 'e2e', parallelism: 2 });
    const pubSeconds = (performance.now() - t1) / 1000;
    await pubSink.close();


    return [
      {
        name: 'backfill end to end (reads → topic → ETL apply)',
        value: median.value,
        unit: 'rows/s',
        baselineName: 'raw BatchWriteItem ingest of the same items (24 in flight, just before and after)',
        baseline: median.raw,
        higherIsBetter: true,
        goalRatio: 0.85,
        note: `${e2eRows} rows, median of ${ROUNDS} rounds by ratio, each timed from the first read until every load was applied, on an idle endpoint: ${roundsNote}${throttleNote || '; 0 throttle signals'}`,
      },
      {
        name: 'backfill publish only (reads → topic, acks=all)',
        value: e2eRows / pubSeconds,
        unit: 'rows/s',
        baselineName: 'raw BatchWriteItem ingest of the same items',
        baseline: rawRate,
        higherIsBetter: true,
        note: `${e2eRows} rows`,
      },
    ];
  } finally {
    await withAdmin(kafka, async (admin) => {
      const existing = await admin.listTopics();
      await admin.deleteTopics({ topics: existing.filter((t) => topics.some((x) => t === x || t === `${x}.dlq`)) }).catch(() => undefined);
    }).catch(() => undefined);
    for (const t of [target, control, ...extraTables]) await client.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined);
    await pool.query(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
    await pool.end();
    client.destroy();
  }
}
