/**
 * End-to-end latencies of issue 8's benchmark that no single stage shows:
 *
 *  1. CDC commit → item visible: the real built-in CDC reader (binlog → Kafka) and the real ETL consumer (exclusive
 *     mode on a fresh target, as in the backfill/stream phases before shadow writes) run on a private database, topic
 *     and DynamoDB table; single-row autocommit INSERTs (first pass over the keys) then UPDATEs (second pass) are
 *     committed at a steady rate, each carrying its sequence number in `seq`. A commit is visible when a consistent
 *     GetItem of its key returns `seq` ≥ its own (a later commit of the same key implies it). Latency = end of the
 *     GetItem that saw it − return of the COMMIT, so it includes up to one poll cycle and one GetItem round trip;
 *     the baseline is the same item written by a direct PutItem then read by a GetItem that sees it, at the same rate.
 *  2. Flag propagation: three in-process MigratingTable instances (each with its own FlagWatcher at the default
 *     refresh interval) on one FlagStore; the flags are changed ten times at random moments, and the time from the
 *     update's commit until every instance applies the new version is measured (instances' own `flags.version`,
 *     polled every millisecond), as is the time until `awaitBarrier` (the workflow's gate, default poll) returns.
 *     Baseline: the configured refresh interval, the design bound for the in-process figure.
 * Percentiles from hdr-histogram-js (microseconds).
 */
import { DeleteTableCommand, GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type * as hdr from 'hdr-histogram-js';
import type { Kafka } from 'kafkajs';
import * as mysql from 'mysql2/promise';
import { createDynamoClient } from '../../src/infra/dynamodb';
import { loadStackEnv } from '../../src/infra/env';
import { createKafka } from '../../src/infra/kafka';
import { mysqlConnectionParams } from '../../src/infra/mysql';
import { latencyHistogram } from '../../src/loadgen/metrics';
import { CheckpointStore } from '../../src/pipeline/cdc/checkpoint';
import { BinlogCdcReader } from '../../src/pipeline/cdc/reader';
import { BuiltinCdcSource } from '../../src/pipeline/cdc/source';
import { EtlConsumer } from '../../src/pipeline/consumer/consumer';
import { ControlStore } from '../../src/pipeline/consumer/control';
import { SOURCE_ATTR, VERSION_ATTR } from '../../src/pipeline/item';
import { readColumns, ROW_QUERY_OPTIONS } from '../../src/pipeline/row/codec';
import { ensureTargetTable } from '../../src/pipeline/target/table';
import { compileMapping, type CompiledMapping } from '../../src/pipeline/transform/mapping';
import { FlagStore } from '../../src/routing/flag-store';
import { MigratingTable } from '../../src/routing/migrating-table';
import { p50p99 } from './harness-baselines';
import type { BenchContext, BenchFigure } from './types';

const PARTITIONS = 3;
const RATE = 100; // commits per second
const POLLERS = 4; // GetItems in flight while polling for pending commits
const FLAG_INSTANCES = 3;
const FLAG_INTERVAL_MS = 1000; // MigratingTable's default refresh interval (stated, not assumed: passed explicitly)

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const record = (h: hdr.Histogram, ms: number): void => h.recordValue(Math.max(1, Math.round(ms * 1000)));

/** The `seq` of the item of id `id`, or -1 when absent (consistent read). */
async function seqOf(client: DynamoDBClient, table: string, id: number): Promise<number> {
  const r = await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: `T#${id}` } }, ConsistentRead: true }));
  const a = r.Item?.seq;
  return a ? Number(a.N ?? a.S) : -1;
}

/** Commit → visible through CDC + ETL, and the direct PutItem → GetItem baseline. */
async function commitToVisible(ctx: BenchContext, pool: mysql.Pool, kafka: Kafka, client: DynamoDBClient, db: string, names: { table: string; control: string; topic: string; suffix: string }): Promise<BenchFigure[]> {
  await pool.query(`CREATE TABLE ${db}.t (id BIGINT PRIMARY KEY, seq BIGINT NOT NULL, amount DECIMAL(10,2), note VARCHAR(64))`);
  const columns = await readColumns(pool, db, 't');
  const m: CompiledMapping = compileMapping({ source: `${db}.t`, target: names.table, partitionKey: { attribute: 'pk', template: 'T#{id}' }, nulls: 'omit' }, columns);
  await ensureTargetTable(client, [m], { create: true });
  const store = new CheckpointStore(pool, db);
  const { cdcId } = await new BuiltinCdcSource({ db: pool, store, kafka }).start({ cdcId: `bench-lat-${names.suffix}`, tables: [{ database: db, table: 't' }], topic: names.topic, partitions: PARTITIONS });
  const reader = new BinlogCdcReader({ db: pool, store, kafka }, { cdcId, checkpointIntervalMs: 500 });
  const readerRun = reader.run();
  const etl = new EtlConsumer({ kafka, client, mappings: [m], topic: names.topic, group: `bench_lat_${names.suffix}`, control: new ControlStore(client, names.control), initialMode: 'exclusive', freshTarget: true, partitionsConsumedConcurrently: PARTITIONS, modePollMs: 500 });
  const etlRun = etl.run();
  try {
    // Warm-up: one row through the whole path (binlog connection, group join, first fetch) before timing.
    await pool.query(`INSERT INTO ${db}.t VALUES (0, 0, 1.00, 'warm-up')`);
    const warmDeadline = Date.now() + 30_000;
    while ((await seqOf(client, names.table, 0)) < 0) {
      if (Date.now() > warmDeadline) throw new Error(`latency bench: warm-up row not visible in ${names.table} after 30 s (CDC at ${reader.progress().position}, ETL ${etl.progress().events} events)`);
      await sleep(20);
    }

    const seconds = Math.min(10, Math.max(3, Math.round(10 * ctx.scale)));
    const total = RATE * seconds;
    const keys = Math.ceil(total / 2); // first pass inserts, second pass updates the same keys
    ctx.log(`commit → visible: ${total} single-row commits at ${RATE}/s (${keys} inserts, then updates)`);
    const lat = latencyHistogram();
    const pending = new Map<number, number>(); // seq → COMMIT returned (performance.now())
    let producing = true;
    let timedOut = 0;
    let worst = { ms: 0, seq: 0 };
    const poller = async (w: number): Promise<void> => {
      while (producing || pending.size > 0) {
        const entries = [...pending].filter(([seq]) => seq % POLLERS === w);
        if (entries.length === 0) {
          await sleep(1);
          continue;
        }
        for (const [seq, at] of entries) {
          const seen = await seqOf(client, names.table, 1 + (seq % keys));
          const now = performance.now();
          if (seen >= seq) {
            record(lat, now - at);
            if (now - at > worst.ms) worst = { ms: now - at, seq };
            pending.delete(seq);
          } else if (!producing && now - at > 30_000) {
            timedOut++;
            pending.delete(seq);
          }
        }
      }
    };
    const pollers = Array.from({ length: POLLERS }, (_, w) => poller(w));
    const t0 = performance.now();
    for (let seq = 1; seq <= total; seq++) {
      const wait = t0 + ((seq - 1) * 1000) / RATE - performance.now();
      if (wait > 0) await sleep(wait);
      const id = 1 + (seq % keys);
      if (seq <= keys) await pool.query(`INSERT INTO ${db}.t VALUES (?, ?, 1.00, 'insert')`, [id, seq]);
      else await pool.query(`UPDATE ${db}.t SET seq = ?, note = 'update' WHERE id = ?`, [seq, id]);
      pending.set(seq, performance.now());
    }
    const achieved = total / ((performance.now() - t0) / 1000);
    producing = false;
    await Promise.all(pollers);
    ctx.log(`slowest commit: #${worst.seq} of ${total} (${(worst.seq / RATE).toFixed(1)} s in), ${worst.ms.toFixed(0)} ms`);

    ctx.log('baseline: direct PutItem → GetItem that sees it, same rate');
    const base = latencyHistogram();
    const baseN = Math.min(total, 300);
    const b0 = performance.now();
    for (let i = 0; i < baseN; i++) {
      const wait = b0 + (i * 1000) / RATE - performance.now();
      if (wait > 0) await sleep(wait);
      const id = 1_000_000 + i;
      const seq = 1_000_000 + i;
      const item = { ...m.toItem({ id: String(id), seq: String(seq), amount: '1.00', note: 'direct' }), [VERSION_ATTR]: { N: '1' }, [SOURCE_ATTR]: { S: m.sourceId } };
      const s = performance.now();
      await client.send(new PutItemCommand({ TableName: names.table, Item: item }));
      while ((await seqOf(client, names.table, id)) < seq) await sleep(1);
      record(base, performance.now() - s);
    }

    const l = p50p99(lat);
    const b = p50p99(base);
    const note = `binlog → Kafka → ETL → DynamoDB; ${lat.totalCount}/${total} commits at ${achieved.toFixed(0)}/s (target ${RATE}/s; ${keys} inserts then ${total - keys} updates)${timedOut ? `, ${timedOut} not visible after 30 s` : ''}; slowest ${worst.ms.toFixed(0)} ms, ${(worst.seq / RATE).toFixed(1)} s in; exclusive mode, ${PARTITIONS} partitions; ${POLLERS} pollers, consistent GetItem; baseline ${baseN} PutItem+GetItem at ${RATE}/s`;
    return [
      { name: 'CDC commit → item visible p50', value: l.p50, unit: 'ms', baselineName: 'direct PutItem → GetItem that sees it p50', baseline: b.p50, higherIsBetter: false, note },
      { name: 'CDC commit → item visible p99', value: l.p99, unit: 'ms', baselineName: 'direct PutItem → GetItem that sees it p99', baseline: b.p99, higherIsBetter: false, note },
    ];
  } finally {
    await etl.stop().catch(() => undefined);
    await etlRun.catch(() => undefined);
    reader.stop();
    await readerRun.catch(() => undefined);
  }
}

/** Flag update committed → every instance applied it (own getter), and → awaitBarrier returns. */
async function flagPropagation(ctx: BenchContext, pool: mysql.Pool, client: DynamoDBClient, db: string, dynamoTable: string): Promise<BenchFigure[]> {
  await pool.query(`CREATE TABLE ${db}.f (id BIGINT PRIMARY KEY, name VARCHAR(64))`);
  const columns = await readColumns(pool, db, 'f');
  const mapping = compileMapping({ source: `${db}.f`, target: dynamoTable, partitionKey: { attribute: 'pk', template: 'F#{id}' }, nulls: 'omit' }, columns);
  const flagStore = new FlagStore(pool, db);
  await flagStore.ensureSchema();
  const tables: MigratingTable[] = [];
  try {
    for (let i = 0; i < FLAG_INSTANCES; i++) {
      tables.push(await MigratingTable.open({ pool, dynamo: client, mapping, columns, flagStore, instanceId: `bench-${i}`, intervalMs: FLAG_INTERVAL_MS }));
      await sleep(FLAG_INTERVAL_MS / FLAG_INSTANCES); // spread the instances' refresh phases
    }
    const rounds = 10;
    ctx.log(`flag propagation: ${rounds} updates, ${FLAG_INSTANCES} instances refreshing every ${FLAG_INTERVAL_MS} ms`);
    const applied = latencyHistogram();
    const barrier = latencyHistogram();
    for (let r = 0; r < rounds; r++) {
      await sleep(Math.random() * FLAG_INTERVAL_MS); // update at a random phase of the refresh cycle
      const next = await flagStore.update(mapping.sourceId, { shadowReadFraction: r % 2 ? 0 : 0.01 }, { note: 'bench' });
      const t0 = performance.now();
      const gate = flagStore.awaitBarrier(mapping.sourceId, next.version, { timeoutMs: 10_000 }).then(() => record(barrier, performance.now() - t0));
      while (tables.some((t) => t.flags.version < next.version)) {
        if (performance.now() - t0 > 10_000) throw new Error(`latency bench: flag version ${next.version} not applied by every instance after 10 s`);
        await sleep(1);
      }
      record(applied, performance.now() - t0);
      await gate;
    }
    const a = p50p99(applied);
    const g = p50p99(barrier);
    const note = `${rounds} flag updates at random phases, ${FLAG_INSTANCES} in-process MigratingTable instances (FlagWatcher, refresh interval ${FLAG_INTERVAL_MS} ms); max = slowest of ${rounds}`;
    const baselineName = `configured flag refresh interval (design bound)`;
    return [
      { name: `flag propagation → all ${FLAG_INSTANCES} instances p50`, value: a.p50, unit: 'ms', baselineName, baseline: FLAG_INTERVAL_MS, higherIsBetter: false, note },
      { name: `flag propagation → all ${FLAG_INSTANCES} instances max`, value: applied.maxValue / 1000, unit: 'ms', baselineName, baseline: FLAG_INTERVAL_MS, higherIsBetter: false, note },
      { name: 'flag update → awaitBarrier returns p50', value: g.p50, unit: 'ms', baselineName, baseline: FLAG_INTERVAL_MS, higherIsBetter: false, note: `barrier polls the heartbeat table every 100 ms (its default); max ${(barrier.maxValue / 1000).toFixed(0)} ms` },
    ];
  } finally {
    for (const t of tables) await t.close().catch(() => undefined);
  }
}

export async function run(ctx: BenchContext): Promise<BenchFigure[]> {
  loadStackEnv();
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const db = `bench_lat_${suffix}`;
  const names = { table: `bench_lat_${suffix}`, control: `bench_lat_control_${suffix}`, topic: `bench_lat_${suffix}`, suffix };
  const flagTable = `bench_lat_flags_${suffix}`;
  const p = mysqlConnectionParams();
  const pool = mysql.createPool({ ...ROW_QUERY_OPTIONS, host: p.host, port: p.port, user: p.user, password: p.password, connectionLimit: 6 });
  const kafka = createKafka(`bench-latency-${suffix}`);
  const client = createDynamoClient();
  await pool.query(`CREATE DATABASE ${db}`);
  try {
    const visible = await commitToVisible(ctx, pool, kafka, client, db, names);
    const flags = await flagPropagation(ctx, pool, client, db, flagTable);
    return [...visible, ...flags];
  } finally {
    const admin = kafka.admin();
    await admin.connect().catch(() => undefined);
    const existing = await admin.listTopics().catch(() => [] as string[]);
    const topics = [names.topic, `${names.topic}.dlq`].filter((t) => existing.includes(t));
    if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await Promise.all([names.table, names.control].map((t) => client.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined)));
    client.destroy();
    await pool.query(`DROP DATABASE IF EXISTS ${db}`);
    await pool.end();
  }
}
