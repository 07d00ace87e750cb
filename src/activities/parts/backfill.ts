/**
 * The runBackfill activity over src/pipeline/backfill: a KafkaLoadSink on the table's topic, resume from the last
 * heartbeat (backfillOptionsFrom), heartbeat every acknowledged chunk and every 5 s, return the contract's BackfillProgress.
 *
 * Ordering rule (docs/design.md, "Backfill"): CDC must publish from before the first chunk's snapshot. The part reads
 * the CDC task's acknowledged position and passes its seq as `cdcStartSeq`, so a backfill without a started task is
 * refused (BackfillConfigError) and one whose chunk snapshot predates CDC's start fails instead of losing changes.
 *
 * Lag back-off (src/pipeline/backfill/lag-probe.ts): before each chunk the copy waits while the CDC task's lag or the
 * ETL group's lag on the topic exceeds `maxLagMs` / `maxLagMessages` (CONFIG_DEFAULTS when absent, 0 = off). While it
 * waits the timer heartbeat carries `waitingOn` (why), and so does the returned progress when a slice ends waiting.
 *
 * Cursors (src/pipeline/cursor-store.ts): the copy's cursor holds key values, so it is saved in the meta database's
 * cursor table after each acknowledged chunk and only its reference goes into heartbeats and the result; an attempt
 * claims the row (fencing older attempts) and resumes from the stored cursor.
 */
import type { Admin } from 'kafkajs';
import type { BackfillInput, BackfillProgress, MigrationActivities } from '../../shared/activity-contract';
import { CONFIG_DEFAULTS } from '../../shared/migration-config';
import { backfillOptionsFrom } from '../../pipeline/backfill/contract';
import { runBackfill } from '../../pipeline/backfill/backfill';
import { BackfillConfigError } from '../../pipeline/backfill/errors';
import { KafkaLoadSink } from '../../pipeline/backfill/kafka-sink';
import { cdcLagSecondsOf, kafkaEtlBacklog, LAG_LIMIT, PipelineLagProbe } from '../../pipeline/backfill/lag-probe';
import { formatPosition } from '../../pipeline/cdc/checkpoint';
import { positionSeq } from '../../pipeline/verify/applied-probe';
import { CursorPublisher, CursorStore } from '../../pipeline/cursor-store';
import { cdcIdOf } from './cdc';
import { cancellation, heartbeat, lastHeartbeat, mappingFor, withHeartbeats, type PartClients } from './common';

/** Builds the backfill part from the worker's clients. */
export function createBackfillParts(c: PartClients): Partial<MigrationActivities> {
  return {
    async runBackfill(input): Promise<BackfillProgress> {
      const mapping = await mappingFor(c, input.mappingFile, input.ctx);
      const cdcId = cdcIdOf(input.ctx.source, input.topic);
      const task = await c.cdcStore.get(cdcId);
      const seq = positionSeq(formatPosition(task?.position ?? null));
      if (!task || task.state === 'stopped' || task.state === 'failed') {
        throw new BackfillConfigError(`CDC task ${cdcId} is ${task ? task.state : 'missing'}: start CDC before the backfill`, input.ctx.source.database, input.ctx.source.table);
      }
      const sink = await KafkaLoadSink.create(c.kafka, input.topic, mapping.source.primaryKey);
      const admin = c.kafka.admin();
      await admin.connect();
      const lag = lagProbeOf(c, input, cdcId, admin);
      // Heartbeat from a timer too (with the newest progress, or the previous attempt's: a retry must still resume
      // from it), not only per chunk: a chunk slowed by a loaded source or a Kafka hiccup, or a wait for lag, must not
      // outlast the heartbeat timeout and get a live backfill retried.
      const resumed = lastHeartbeat<BackfillProgress>();
      const claim = await new CursorStore(c.pool, c.cdcStore.metaDb).claim(input.ctx.migrationId, 'backfill', resumed?.cursor ?? input.cursor);
      const cursors = new CursorPublisher(claim);
      // The stored cursor may be ahead of the heartbeat / input that named it: count from its own counters.
      const rowsCopied = claim.counters?.rowsCopied;
      const from = { ...input, cursor: claim.cursor, rowsCopiedBefore: rowsCopied ?? input.rowsCopiedBefore };
      let last: BackfillProgress | undefined = resumed;
      const withWait = (p: BackfillProgress): BackfillProgress => {
        const why = lag.latest?.over;
        return why && !p.done ? { ...progressOf(p), waitingOn: why } : progressOf(p);
      };
      try {
        const p = await withHeartbeats(
          () =>
            runBackfill(
              { pool: c.pool, sink, signal: cancellation(), onProgress: (pr) => publish(cursors, pr, (p) => heartbeat((last = p))), ...(lag.enabled ? { lagProbe: lag.probe } : {}) },
              { ...backfillOptionsFrom(from, resumed && { ...resumed, cursor: claim.cursor, rowsCopied: rowsCopied ?? resumed.rowsCopied }), cdcStartSeq: seq?.toString(), ...(lag.enabled ? { maxLagMs: LAG_LIMIT } : {}) },
            ),
          () => last && withWait(last),
        );
        return withWait({ ...p, cursor: await cursors.refOf(p.cursor, { rowsCopied: p.rowsCopied }) });
      } finally {
        await Promise.allSettled([sink.close(), admin.disconnect()]);
      }
    },
  };
}

/**
 * The lag probe of one backfill attempt: the CDC task's lag (growing from its last checkpoint while no live reader
 * holds the task) and the ETL group's backlog on the table's topic.
 */
function lagProbeOf(c: PartClients, input: BackfillInput, cdcId: string, admin: Admin): PipelineLagProbe {
  const limits = { maxLagMs: input.maxLagMs ?? CONFIG_DEFAULTS.backfill.maxLagMs, maxLagMessages: input.maxLagMessages ?? CONFIG_DEFAULTS.backfill.maxLagMessages };
  const group = input.group;
  const applyRate = async (): Promise<number> => (group ? (await c.etlControl.liveMembers(group)).reduce((s, m) => s + m.rate, 0) : 0);
  return new PipelineLagProbe(
    {
      cdcLagSeconds: async () => {
        const [rec, [rows]] = await Promise.all([c.cdcStore.get(cdcId), c.pool.query('SELECT ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) AS now')]);
        return rec ? cdcLagSecondsOf(rec, Number((rows as { now: unknown }[])[0].now)) : null;
      },
      etlBacklog: group ? kafkaEtlBacklog(admin, group, input.topic, applyRate) : async () => ({ events: 0, applyRate: 0 }),
    },
    limits,
  );
}

/** Heartbeats `pr` with its cursor replaced by the reference, once the cursor is saved. */
function publish(cursors: CursorPublisher, pr: BackfillProgress, beat: (p: BackfillProgress) => void): void {
  if (pr.cursor === null) beat(progressOf(pr));
  else cursors.offer(pr.cursor, { rowsCopied: pr.rowsCopied }, (ref) => beat(progressOf({ ...pr, cursor: ref })));
}

function progressOf(p: BackfillProgress): BackfillProgress {
  return { done: p.done, cursor: p.cursor, rowsCopied: p.rowsCopied, rowsTotalEstimate: p.rowsTotalEstimate, rowsPerSecond: p.rowsPerSecond, throttles: p.throttles, stoppedBy: p.stoppedBy };
}
