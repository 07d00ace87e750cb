/**
 * The standalone ETL process: `tsx src/workers/etl.ts --mapping FILE --topic T --group G [options]`. One member of
 * the ETL consumer group; start as many as the topic has partitions to spread the work. SIGTERM/SIGINT stop
 * gracefully (in-flight batches finish and commit, leases are released); after a kill -9 nothing is lost either:
 * uncommitted events are re-delivered to the partition's next owner once the lease expires.
 *
 * Progress is printed as one JSON line per second (counts, mode, lag per partition); the exit line says why it
 * stopped (`stopped`, `dlq-threshold` with the reason, `error`).
 *
 * Start-up: what can never work fails at once with exit code 1 and one `etl exiting` line naming the file, setting
 * or topic (a bad mapping file, missing AWS credentials, a MySQL user refused, a topic that does not exist). A
 * service that does not answer yet (Kafka, DynamoDB, MySQL down or not resolving) is waited for: a `waiting for
 * service` warning per attempt naming the service, endpoint and setting, retried with capped backoff until it
 * answers (CUTOVER_STARTUP_WAIT_MS bounds the wait; default unbounded), as a long-running service should; the
 * same when Kafka drops between that wait and the consumer's connect.
 *
 * Replay and rebuild (./etl-replay.ts): `--replay-from earliest|<ISO time>|<p:o,…>` resets the group before this
 * process joins it; `--rebuild --truncate-target` first deletes the mapping's sources' items from the target, then
 * replays from the first offsets. Both refuse, naming the group, while any ETL process of the group still runs.
 * `--redrive-dlq` re-applies the dead letters with this (fixed) mapping, prints one line per letter and a summary,
 * and exits (0; 2 when some failed again and were re-dead-lettered); it too refuses while the group runs.
 */
import { Command } from 'commander';
import { createDynamoClient } from '../infra/dynamodb';
import { loadStackEnv, serviceEnv } from '../infra/env';
import { createKafka } from '../infra/kafka';
import { problemFields, startupWaitMs, waitForServices } from '../infra/reachability';
import { ConfigError, type CutoverError } from '../shared/errors';
import { ControlStore, DEFAULT_CONTROL_TABLE, DEFAULT_LEASE } from '../pipeline/consumer/control';
import { EtlConsumer, isKafkaUnavailable, type EtlProgress, type EtlRunResult } from '../pipeline/consumer/consumer';
import { ensureTargetTable } from '../pipeline/target/table';
import { createMysqlPool } from '../infra/mysql';
import { readColumns, type ColumnInfo } from '../pipeline/row/codec';
import { loadMappingFile } from '../pipeline/transform/mapping';
import { performRedrive, performReset, redriveRequest, resetRequest, type ResetFlags } from './etl-replay';

async function main(): Promise<void> {
  loadStackEnv();
  const num = (v: string) => Number(v);
  const o = new Command('cutover-etl')
    .requiredOption('--mapping <file>', 'mapping file (YAML or JSON)')
    .requiredOption('--topic <topic>', 'CDC topic')
    .requiredOption('--group <group>', 'consumer group id')
    .option('--dlq-topic <topic>', 'dead-letter topic (default <topic>.dlq)')
    .option('--control-table <name>', 'DynamoDB control table', process.env.CUTOVER_ETL_CONTROL_TABLE ?? DEFAULT_CONTROL_TABLE)
    .option('--initial-mode <mode>', 'apply mode of a new group: exclusive | shared', 'shared')
    .option('--create-target', 'create missing target tables from the mapping')
    .option('--max-write-rate <n>', 'items per second this process never exceeds', num)
    .option('--concurrency <n>', 'partitions applied concurrently (default: every partition of the topic)', num)
    .option('--session-timeout <ms>', 'Kafka group session timeout (a dead member is noticed after this)', num, 30_000)
    .option('--max-events-per-apply <n>', 'events per apply-and-commit step', num, 5000)
    .option('--lease-ms <n>', 'partition lease duration', num, DEFAULT_LEASE.durationMs)
    .option('--lease-margin-ms <n>', 'blind writes stop this long before the lease expires', num, DEFAULT_LEASE.marginMs)
    .option('--max-dlq <n>', 'stop after this many dead letters', num)
    .option('--max-dlq-rate <f>', 'stop when this fraction of recent events is dead-lettered', num, 0.5)
    .option('--quiet', 'no progress lines')
    .option('--replay-from <from>', 'before joining: reset the stopped group to earliest | an ISO timestamp | partition:offset,…')
    .option('--rebuild', 'before joining: delete every item of the mapping\'s sources from the target, then replay from the first offsets')
    .option('--truncate-target', 'consent to the deletes of --rebuild')
    .option('--fresh-backfill', 'with --rebuild: a new backfill will reload the topic (skips the full-history check)')
    .option('--redrive-dlq', 're-apply the dead letters of <topic>.dlq with this mapping, report each, then exit (the group must be stopped)')
    .option('--redrive-from <from>', 'with --redrive-dlq: earliest | dlqPartition:offset,… (default: where the last redrive stopped)')
    .option('--redrive-reasons <list>', 'with --redrive-dlq: only these reasons (e.g. item-too-large,transform)')
    .option('--redrive-source-offsets <list>', 'with --redrive-dlq: only the letters of these source positions partition:offset,…')
    .parse(process.argv)
    .opts<ResetFlags & { mapping: string; topic: string; group: string; dlqTopic?: string; controlTable: string; initialMode: 'exclusive' | 'shared'; createTarget?: boolean; maxWriteRate?: number; concurrency?: number; maxEventsPerApply: number; sessionTimeout: number; leaseMs: number; leaseMarginMs: number; maxDlq?: number; maxDlqRate: number; quiet?: boolean }>();

  loadMappingFile(o.mapping); // a bad mapping fails now, whether or not the services are up
  const reset = resetRequest(o); // so does a bad --replay-from
  const redrive = redriveRequest(o);
  const ac = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => ac.abort(new Error(sig)));
  const onWait = (p: CutoverError, retryInMs: number, attempt: number): void =>
    console.error(JSON.stringify({ level: 'warn', msg: 'waiting for service', ...problemFields(p), attempt, retryInMs }));
  await waitForServices(['mysql', 'dynamodb', 'kafka'], { maxWaitMs: startupWaitMs(), signal: ac.signal, onWait });
  if (ac.signal.aborted) process.exit(0);
  const topicPartitions = await assertTopicExists(o.topic);

  const client = createDynamoClient();
  // Compile with the source's column types, exactly as verify, routing and the runEtl activity do (without them a
  // BIGINT would map to S instead of N, and every such item would differ from what verification expects).
  const columns = new Map<string, ColumnInfo[]>();
  const pool = createMysqlPool({ connectionLimit: 1 });
  try {
    for (const m of loadMappingFile(o.mapping)) {
      const cols = await readColumns(pool, m.source.schema, m.source.table);
      if (cols.length > 0) columns.set(m.sourceId, cols); // a source this host cannot see compiles from the file alone
    }
  } finally {
    await pool.end();
  }
  const mappings = loadMappingFile(o.mapping, (id) => columns.get(id));
  const control = new ControlStore(client, o.controlTable, { ...DEFAULT_LEASE, durationMs: o.leaseMs, marginMs: o.leaseMarginMs });
  await control.ensureTable();
  if (redrive) {
    const r = await performRedrive(redrive, { client, control, mappings, group: o.group, topic: o.topic, dlqTopic: o.dlqTopic, signal: ac.signal });
    client.destroy();
    process.exit(r.counts.failed > 0 ? 2 : 0); // 2: some events failed again (they are back in the DLQ)
  }
  await performReset(reset, { client, control, mappings, group: o.group, topic: o.topic, signal: ac.signal });
  const known = (await control.getGroup(o.group)) !== undefined; // freshness is recorded once, when the group is new
  let fresh = true;
  for (const table of new Set(mappings.map((m) => m.targetTable))) {
    const r = await ensureTargetTable(client, mappings.filter((m) => m.targetTable === table), { create: o.createTarget, skipEmptinessCheck: known });
    fresh &&= r.emptyForSources;
  }
  const makeConsumer = (): EtlConsumer => new EtlConsumer({
    kafka: createKafka(`cutover-etl-${process.pid}`),
    client,
    mappings,
    topic: o.topic,
    group: o.group,
    dlqTopic: o.dlqTopic,
    control,
    initialMode: o.initialMode,
    freshTarget: fresh,
    maxWriteRate: o.maxWriteRate,
    partitionsConsumedConcurrently: o.concurrency ?? topicPartitions,
    maxEventsPerApply: o.maxEventsPerApply,
    sessionTimeout: o.sessionTimeout,
    heartbeatInterval: Math.min(3_000, Math.floor(o.sessionTimeout / 3)),
    dlq: { maxEvents: o.maxDlq, maxRate: o.maxDlqRate },
    log: (msg) => console.error(JSON.stringify({ msg, member: consumer.member })),
  });
  let consumer = makeConsumer();
  let last: EtlProgress | undefined;
  const tick = setInterval(() => {
    last = consumer.progress();
    if (!o.quiet) console.log(JSON.stringify({ msg: 'progress', ...last }));
  }, 1000);
  let result: EtlRunResult;
  for (;;) {
    try {
      result = await consumer.run({ signal: ac.signal });
      break;
    } catch (err) {
      // Kafka went away between the reachability wait and the consumer's connect: wait again, as at start.
      if (!isKafkaUnavailable(err) || ac.signal.aborted) throw err;
      await consumer.stop().catch(() => undefined);
      await waitForServices(['kafka'], { maxWaitMs: startupWaitMs(), signal: ac.signal, onWait });
      if (ac.signal.aborted) process.exit(0);
      consumer = makeConsumer();
    }
  }
  clearInterval(tick);
  console.log(JSON.stringify({ msg: 'stopped', stoppedBy: result.stoppedBy, reason: result.reason, ...result.progress }));
  client.destroy();
  process.exit(result.stoppedBy === 'error' ? 1 : 0);
}

/**
 * A topic that does not exist can never be consumed (auto-creation is off): fail now, naming it. Returns its partition
 * count (a member consumes every partition it is assigned at once unless --concurrency says otherwise, as the runEtl
 * activity does).
 */
async function assertTopicExists(topic: string): Promise<number> {
  const admin = createKafka('cutover-etl-check', { retry: { retries: 2 } }).admin();
  try {
    await admin.connect();
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) throw new ConfigError(`topic ${topic} does not exist on ${serviceEnv().kafkaBrokers.join(',')} (create it, or start the migration's CDC first)`, undefined, undefined, '--topic');
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    return Math.max(1, meta.topics[0]?.partitions.length ?? 1);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  const e = err as Error;
  console.error(JSON.stringify({ msg: 'etl exiting', error: e.name, detail: e.message }));
  process.exit(1);
});
