/**
 * verify and repair over src/pipeline/verify. Verification's recheck rule uses appliedThroughProbe: the CDC task's
 * acknowledged position (CdcSource.describe().publishedPosition) confirmed by the ETL group's committed offsets.
 * The workflow names the topic and group in VerifyInput / RepairInput; the group is used once it has committed offsets
 * on the topic. Inputs without them (workflows started before the fields existed) make the part find them: the
 * table's running built-in CDC task (its topic) and the consumer group(s) with offsets committed on that topic, by
 * listing every group of the cluster (slow on a shared cluster). Without exactly one of each, no probe is used
 * (recheck then waits its settle time, which is slower but still sound).
 * Reports go to `reportDir` (shared by every worker): repair reads the mismatch list next to the report.
 * The resume cursor (the last verified key) is kept in the meta database's cursor table (src/pipeline/cursor-store.ts);
 * heartbeats and results carry only its reference.
 */
import * as fs from 'node:fs';
import type { Admin } from 'kafkajs';
import type { ActivityCtx, MigrationActivities, VerifyCounts, VerifyProgress } from '../../shared/activity-contract';
import { TASK_TABLE } from '../../pipeline/cdc/checkpoint';
import { KafkaLoadSink } from '../../pipeline/backfill/kafka-sink';
import { BuiltinCdcSource } from '../../pipeline/cdc/source';
import { appliedThroughProbe } from '../../pipeline/verify/applied-probe';
import { mismatchFileOf, newReportPath, verifyOptionsFrom, verifyProgressOf } from '../../pipeline/verify/contract';
import { repairMismatches } from '../../pipeline/verify/repair';
import { readMismatches } from '../../pipeline/verify/report';
import { runVerify } from '../../pipeline/verify/verifier';
import { CursorPublisher, CursorStore, type CursorCounters } from '../../pipeline/cursor-store';
import { cancellation, heartbeat, lastHeartbeat, mappingFor, tableId, type PartClients } from './common';

/** The topic of the table's live built-in CDC task, if exactly one exists. */
async function cdcTaskOf(c: PartClients, ctx: ActivityCtx): Promise<{ cdcId: string; topic: string } | undefined> {
  const [rows] = await c.pool.query(`SELECT cdc_id, config FROM \`${c.cdcMetaDb}\`.\`${TASK_TABLE}\` WHERE desired = 'running'`).catch(() => [[]]);
  const found = (rows as { cdc_id: string; config: string }[])
    .map((r) => ({ cdcId: r.cdc_id, config: JSON.parse(r.config) as { topic: string; tables: { database: string; table: string }[] } }))
    .filter((r) => r.config.tables.some((t) => `${t.database}.${t.table}` === tableId(ctx)));
  return found.length === 1 ? { cdcId: found[0].cdcId, topic: found[0].config.topic } : undefined;
}

async function committedOn(admin: Admin, group: string, topic: string): Promise<boolean> {
  const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return offsets?.partitions.some((p) => p.offset !== '-1') ?? false;
}

/** `known` when it committed offsets on `topic`; without `known`, the one group of the cluster that did, if one did. */
export async function groupOf(admin: Admin, topic: string, known?: string): Promise<string | undefined> {
  if (known !== undefined) return (await committedOn(admin, known, topic)) ? known : undefined;
  const { groups } = await admin.listGroups();
  const found: string[] = [];
  for (const g of groups) if (await committedOn(admin, g.groupId, topic)) found.push(g.groupId);
  return found.length === 1 ? found[0] : undefined;
}

/** The applied-through probe for the table (see the file comment), with the admin client to disconnect after. */
async function probeFor(c: PartClients, ctx: ActivityCtx, knownTopic?: string, knownGroup?: string): Promise<{ probe?: () => Promise<string>; close(): Promise<void> }> {
  const task = await cdcTaskOf(c, ctx);
  const topic = knownTopic ?? task?.topic;
  if (!task || !topic) return { close: async () => undefined };
  const admin = c.kafka.admin();
  await admin.connect();
  const group = await groupOf(admin, topic, knownGroup);
  if (!group) {
    await admin.disconnect();
    return { close: async () => undefined };
  }
  const source = new BuiltinCdcSource({ db: c.pool, store: c.cdcStore, kafka: c.kafka });
  const probe = appliedThroughProbe({ admin, topic, group, cdcPosition: async () => (await source.describe(task.cdcId)).publishedPosition });
  return { probe, close: () => admin.disconnect() };
}

/** Builds verify and repair from the worker's clients. */
export function createVerifyParts(c: PartClients): Partial<MigrationActivities> {
  return {
    async verify(input): Promise<VerifyProgress> {
      const mapping = await mappingFor(c, input.mappingFile, input.ctx);
      const resumed = lastHeartbeat<VerifyProgress>();
      const claim = await new CursorStore(c.pool, c.cdcStore.metaDb).claim(input.ctx.migrationId, 'verify', resumed?.cursor ?? input.cursor);
      const cursors = new CursorPublisher(claim);
      // The stored cursor may be ahead of the heartbeat / input that named it: count from its own counters.
      const counts = claim.counters as VerifyCounts | null;
      const hb = resumed && { ...resumed, ...counts, cursor: claim.cursor };
      fs.mkdirSync(c.reportDir, { recursive: true });
      const reportPath = hb?.reportPath ?? input.reportPath ?? newReportPath(c.reportDir, input.ctx.migrationId);
      const { probe, close } = await probeFor(c, input.ctx, input.topic, input.group);
      // Progress comes per scan chunk/page, which on a loaded machine can take longer than the heartbeat timeout: keep
      // heartbeating the last details from a timer too (so a retry still resumes from them), or such an attempt is
      // timed out and restarted (found by test/faults/worker-kill.fault.ts on 40 000 rows with the old scan).
      let last: VerifyProgress | undefined = resumed;
      const keepAlive = setInterval(() => heartbeat(last), 5_000);
      try {
        const p = await runVerify(
          { pool: c.pool, client: c.dynamo, mapping, appliedThrough: probe, signal: cancellation(), onProgress: (pr) => publish(cursors, verifyProgressOf(pr, reportPath), (v) => heartbeat((last = v))) },
          verifyOptionsFrom({ ...input, cursor: claim.cursor, before: counts ?? input.before }, reportPath, hb),
        );
        const result = verifyProgressOf(p, reportPath);
        return { ...result, cursor: await cursors.refOf(result.cursor, countsOf(result)) };
      } finally {
        clearInterval(keepAlive);
        await close();
      }
    },

    async repair(input) {
      const mapping = await mappingFor(c, input.mappingFile, input.ctx);
      const mismatches = readMismatches(mismatchFileOf(input.reportPath));
      if (mismatches.length === 0) return { keysRequeued: 0 };
      const sink = await KafkaLoadSink.create(c.kafka, input.topic, mapping.source.primaryKey);
      const { probe, close } = await probeFor(c, input.ctx, input.topic, input.group);
      try {
        heartbeat();
        const r = await repairMismatches({ pool: c.pool, client: c.dynamo, mapping, appliedThrough: probe, sink }, { schema: input.ctx.source.database, table: input.ctx.source.table, mismatches });
        return { keysRequeued: r.keysRequeued };
      } finally {
        await close();
        await sink.close();
      }
    },
  };
}

/** Heartbeats `v` with its cursor replaced by the reference, once the cursor is saved. */
function publish(cursors: CursorPublisher, v: VerifyProgress, beat: (v: VerifyProgress) => void): void {
  if (v.cursor === null) beat(v);
  else cursors.offer(v.cursor, countsOf(v), (ref) => beat({ ...v, cursor: ref }));
}

function countsOf(v: VerifyCounts): CursorCounters {
  return { rowsCompared: v.rowsCompared, missing: v.missing, extra: v.extra, different: v.different };
}
