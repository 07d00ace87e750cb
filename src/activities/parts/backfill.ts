/**
 * The runBackfill activity over src/pipeline/backfill: a KafkaLoadSink on the table's topic, resume from the last
 * heartbeat (backfillOptionsFrom), heartbeat every acknowledged chunk and every 5 s, return the contract's BackfillProgress.
 *
 * Ordering rule (docs/design.md, "Backfill"): CDC must publish from before the first chunk's snapshot. The part reads
 * the CDC task's acknowledged position and passes its seq as `cdcStartSeq`, so a backfill without a started task is
 * refused (BackfillConfigError) and one whose chunk snapshot predates CDC's start fails instead of losing changes.
 */
import type { BackfillProgress, MigrationActivities } from '../../shared/activity-contract';
import { backfillOptionsFrom } from '../../pipeline/backfill/contract';
import { runBackfill } from '../../pipeline/backfill/backfill';
import { BackfillConfigError } from '../../pipeline/backfill/errors';
import { KafkaLoadSink } from '../../pipeline/backfill/kafka-sink';
import { formatPosition } from '../../pipeline/cdc/checkpoint';
import { positionSeq } from '../../pipeline/verify/applied-probe';
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
      // Heartbeat from a timer too (with the newest progress, or the previous attempt's: a retry must still resume
      // from it), not only per chunk: a chunk slowed by a loaded source or a Kafka hiccup must not outlast the
      // heartbeat timeout and get a live backfill retried.
      const resumed = lastHeartbeat<BackfillProgress>();
      let last: BackfillProgress | undefined = resumed;
      try {
        const p = await withHeartbeats(
          () =>
            runBackfill(
              { pool: c.pool, sink, signal: cancellation(), onProgress: (pr) => heartbeat((last = progressOf(pr))) },
              { ...backfillOptionsFrom(input, resumed), cdcStartSeq: seq?.toString() },
            ),
          () => last,
        );
        return progressOf(p);
      } finally {
        await sink.close();
      }
    },
  };
}

function progressOf(p: BackfillProgress): BackfillProgress {
  return { done: p.done, cursor: p.cursor, rowsCopied: p.rowsCopied, rowsTotalEstimate: p.rowsTotalEstimate, rowsPerSecond: p.rowsPerSecond, throttles: p.throttles, stoppedBy: p.stoppedBy };
}
