/**
 * ETL apply benchmark (issue 4), all in one run on the local stack, each figure beside raw BatchWriteItem ingest of
 * the very same items (same endpoint, same run, 25 per request, 24 requests in flight: the apply's own default per
 * process, so both sides keep the endpoint equally busy; on this dynalite 24 in flight ingested as fast as 8 or faster):
 *  - the real consumer end to end (Kafka fetch + parse + map + versioned apply + commit), exclusive mode on a fresh
 *    target (the mode of the backfill/stream phases), timed from its partition assignment until the last event is
 *    applied; 36k events, three rounds (a new group and a fresh table each), each beside its own raw ingest, the
 *    median by ratio reported;
 *  - the apply stage alone (Applier.apply on parsed events), exclusive, fresh target;
 *  - the apply stage, exclusive after a restart on a populated table (cold version cache: one BatchGetItem per 100 keys);
 *  - the apply stage, shared mode (one conditional PutItem per key).
 * Peak RSS of the process is reported in the notes.
 */
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../../src/infra/dynamodb';
import { loadStackEnv } from '../../src/infra/env';
import { createKafka } from '../../src/infra/kafka';
import { Applier, type ApplyMode } from '../../src/pipeline/apply/apply';
import { ControlStore } from '../../src/pipeline/consumer/control';
import { EtlConsumer } from '../../src/pipeline/consumer/consumer';
import { dataMessage, encodeKey } from '../../src/pipeline/cdc/dms-format';
import { SOURCE_ATTR, VERSION_ATTR, type Item } from '../../src/pipeline/item';
import { ensureTargetTable } from '../../src/pipeline/target/table';
import { compileMapping, type CompiledMapping } from '../../src/pipeline/transform/mapping';
import type { CdcEvent, Row } from '../../src/pipeline/types';
import { changeVersion } from '../../src/pipeline/version';
import { batchWriteIngest, roundsBeside, settleEndpoint } from './harness-baselines';
import type { BenchContext, BenchFigure } from './types';

const PARTITIONS = 6;
/** Rounds of the consumer end-to-end figure (the median by ratio is reported: single rounds swing by ±0.1). */
const E2E_ROUNDS = 3;
/** Requests in flight of the raw baseline: the Applier's default (batchConcurrency). */
const RAW_IN_FLIGHT = 24;
let peakRss = 0;
const sampleRss = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));

function rowOf(i: number): Row {
  return { id: String(1_000_000_000 + i), email: `user${i}@example.com`, total: `${i % 100000}.${String(i % 100).padStart(2, '0')}`, status: ['new', 'paid', 'shipped'][i % 3], prefs: '{"city": "Lisbon", "tags": ["a", "b"]}', created_at: '2026-11-25 08:00:00.123456' };
}

function mappingFor(table: string, suffix: string): CompiledMapping {
  return compileMapping({
    source: `bench.rows_${suffix}`,
    target: table,
    partitionKey: { attribute: 'pk', template: 'ROW#{id}' },
    nulls: 'omit',
    columns: { id: { sqlType: 'bigint' }, total: { sqlType: 'decimal(10,2)' }, prefs: { type: 'json' }, created_at: { type: 'datetime', sqlType: 'datetime(6)' } },
  });
}

function eventsFor(m: CompiledMapping, n: number, seqBase: number): CdcEvent[] {
  return Array.from({ length: n }, (_, i) => ({ operation: 'insert' as const, schema: m.source.schema, table: m.source.table, data: rowOf(i), version: changeVersion(seqBase + i, 0) }));
}

/** The items the apply writes for `events`: what the raw baseline ingests. */
function itemsFor(m: CompiledMapping, events: readonly CdcEvent[]): Item[] {
  return events.map((e) => ({ ...m.toItem(e.data), [VERSION_ATTR]: { N: e.version }, [SOURCE_ATTR]: { S: m.sourceId } }));
}

async function freshTable(client: ReturnType<typeof createDynamoClient>, m: CompiledMapping): Promise<void> {
  await ensureTargetTable(client, [m], { create: true });
}

async function applyRate(client: ReturnType<typeof createDynamoClient>, m: CompiledMapping, events: CdcEvent[], mode: ApplyMode, complete: boolean): Promise<number> {
  const applier = new Applier({ client, mappings: [m], mode });
  const perPartition: CdcEvent[][] = Array.from({ length: PARTITIONS }, () => []);
  events.forEach((e, i) => perPartition[i % PARTITIONS].push(e));
  if (complete) for (let p = 0; p < PARTITIONS; p++) applier.cache(String(p)).markComplete();
  const t0 = performance.now();
  await Promise.all(
    perPartition.map(async (evs, p) => {
      for (let i = 0; i < evs.length; i += 2000) {
        await applier.apply(evs.slice(i, i + 2000), { scope: String(p) });
        sampleRss();
      }
    }),
  );
  return events.length / ((performance.now() - t0) / 1000);
}

export async function run(ctx: BenchContext): Promise<BenchFigure[]> {
  loadStackEnv();
  const client = createDynamoClient();
  const kafka = createKafka('bench-apply');
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const n = Math.max(2_000, Math.round(12_000 * ctx.scale));
  const tables = ['raw', 'e2e', 'fresh', 'shared'].map((t) => `bench_apply_${t}_${suffix}`);
  const [rawT, e2eT, freshT, sharedT] = tables;
  const control = `bench_apply_control_${suffix}`;
  const topic = `bench_apply_${suffix}`;
  const admin = kafka.admin();
  const figures: BenchFigure[] = [];
  try {
    await admin.connect();
    const mRaw = mappingFor(rawT, suffix);
    await freshTable(client, mRaw);
    const events = eventsFor(mRaw, n, 1_000);
    const rawItems = itemsFor(mRaw, events);
    // The endpoint is shared with whatever else runs on the machine: measure the baseline next to each figure
    // (raw ingest of the same items into a fresh table just before and just after) and use the mean of the two. Each
    // part starts on an idle endpoint (harness-baselines.ts settleEndpoint: dynalite drops a table in the background).
    let rawRun = 0;
    const rawTable = async (): Promise<string> => {
      const t = `${rawT}_${rawRun++}`;
      tables.push(t);
      await freshTable(client, mappingFor(t, suffix));
      return t;
    };
    const rawIngest = async (items: Item[]): Promise<number> => {
      const t = await rawTable();
      await settleEndpoint();
      const r = await batchWriteIngest(client, t, items, RAW_IN_FLIGHT);
      await client.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined);
      sampleRss();
      return r;
    };
    const beside = async (measure: () => Promise<number>, items: Item[] = rawItems): Promise<{ value: number; raw: number }> => {
      const before = await rawIngest(items);
      await settleEndpoint();
      const value = await measure();
      const after = await rawIngest(items);
      ctx.log(`raw before ${before.toFixed(0)}/s, measured ${value.toFixed(0)}/s, raw after ${after.toFixed(0)}/s`);
      return { value, raw: (before + after) / 2 };
    };

    // 1. the consumer end to end: E2E_ROUNDS rounds, each a new group on the same topic into a fresh table, each beside
    // its own raw ingest (before and after); the figure is the median round by ratio.
    const e2eN = Math.max(6_000, Math.round(36_000 * ctx.scale));
    const e2eEvents = eventsFor(mRaw, e2eN, 1_000);
    const e2eRawItems = itemsFor(mRaw, e2eEvents);
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const msgs = e2eEvents.map((e) => {
      const key = encodeKey(e.data, ['id']);
      return { key, value: JSON.stringify(dataMessage({ schema: mRaw.source.schema, table: mRaw.source.table, operation: 'insert', data: e.data, key, point: { version: e.version, gtid: `0-1-${e.version}` } })) };
    });
    for (let i = 0; i < msgs.length; i += 1000) await producer.send({ topic, acks: -1, messages: msgs.slice(i, i + 1000) });
    await producer.disconnect();
    const { median: e2e, all: e2eRounds } = await roundsBeside(client, E2E_ROUNDS, e2eRawItems, rawTable, async (round) => {
      ctx.log(`consumer end to end, round ${round + 1}: ${e2eN} events`);
      const t = `${e2eT}_${round}`;
      tables.push(t);
      const mE2e = mappingFor(t, suffix);
      await freshTable(client, mE2e);
      await settleEndpoint();
      const etl = new EtlConsumer({ kafka, client, mappings: [mE2e], topic, group: `bench_apply_${suffix}_${round}`, control: new ControlStore(client, control), initialMode: 'exclusive', freshTarget: true, partitionsConsumedConcurrently: PARTITIONS, modePollMs: 500 });
      const running = etl.run();
      while (etl.progress().partitions.length === 0) await new Promise((res) => setTimeout(res, 2));
      // Timed from the assignment: includes the member's start-up (first fetch, partition leases on the control
      // table), which a real migration pays once; its share is in the note.
      const t0 = performance.now();
      let tFirst = 0;
      while (etl.progress().events < e2eN) {
        if (!tFirst && etl.progress().events > 0) tFirst = performance.now();
        sampleRss();
        await new Promise((res) => setTimeout(res, 5));
      }
      const t1 = performance.now();
      await etl.stop();
      await running;
      return { value: e2eN / ((t1 - t0) / 1000), note: `${((t1 - t0) / 1000).toFixed(2)} s, first batch applied after ${((tFirst || t1) - t0).toFixed(0)} ms` };
    }, ctx.log);
    const roundsNote = e2eRounds.map((r, i) => `round ${i + 1} ${(r.value / r.raw).toFixed(3)}× (${r.note})`).join('; ');
    figures.push({ name: 'ETL apply, consumer end to end (exclusive, fresh target)', value: e2e.value, unit: 'events/s', baselineName: 'raw BatchWriteItem ingest of the same items (24 in flight, as the apply; just before and after)', baseline: e2e.raw, higherIsBetter: true, goalRatio: 0.85, note: `${e2eN} insert events, ${PARTITIONS} partitions, Kafka fetch + parse + map + apply + commit, timed from the partition assignment; median of ${E2E_ROUNDS} rounds by ratio, each on an idle endpoint: ${roundsNote}` });

    // 2. the apply stage alone, fresh target
    const mFresh = mappingFor(freshT, suffix);
    await freshTable(client, mFresh);
    ctx.log('apply stage, exclusive, fresh target');
    const { value: fresh, raw: raw2 } = await beside(() => applyRate(client, mFresh, eventsFor(mFresh, n, 1_000), 'exclusive', true));
    figures.push({ name: 'ETL apply stage (exclusive, fresh target)', value: fresh, unit: 'events/s', baselineName: 'raw BatchWriteItem ingest of the same items (24 in flight, as the apply)', baseline: raw2, higherIsBetter: true, goalRatio: 0.85, note: 'in-process, parsed events, version cache complete' });

    // 3. exclusive after a restart: every key exists, versions unknown (BatchGetItem), newer versions
    ctx.log('apply stage, exclusive, cold cache on a populated table');
    const { value: cold, raw: raw3 } = await beside(() => applyRate(client, mFresh, eventsFor(mFresh, n, 1_000_000), 'exclusive', false));
    figures.push({ name: 'ETL apply stage (exclusive, cold cache after restart)', value: cold, unit: 'events/s', baselineName: 'raw BatchWriteItem ingest of the same items', baseline: raw3, higherIsBetter: true, note: 'every key already stored: one BatchGetItem per 100 keys before the batch writes' });

    // 4. shared mode: conditional single writes
    const mShared = mappingFor(sharedT, suffix);
    await freshTable(client, mShared);
    ctx.log('apply stage, shared (conditional PutItem)');
    const { value: shared, raw: raw4 } = await beside(() => applyRate(client, mShared, eventsFor(mShared, Math.round(n / 4), 1_000), 'shared', false));
    figures.push({ name: 'ETL apply stage (shared: conditional writes)', value: shared, unit: 'events/s', baselineName: 'raw BatchWriteItem ingest of the same items', baseline: raw4, higherIsBetter: true, note: `${Math.round(n / 4)} events, 32 conditional PutItems in flight; peak RSS of the run ${(peakRss / 2 ** 20).toFixed(0)} MB` });
    return figures;
  } finally {
    await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await Promise.all([...tables, control].map((t) => client.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined)));
    client.destroy();
  }
}
