/**
 * The runBackfill activity's input and heartbeat (src/shared/activity-contract.ts) → runBackfill options, so the
 * activity adapter stays a thin shell. Resuming prefers the heartbeat (the newest acknowledged cursor) over the
 * input's cursor (the one the workflow saw at the previous slice end).
 */
import type { BackfillInput, BackfillProgress } from '../../shared/activity-contract';
import type { BackfillOptions } from './backfill';

export function backfillOptionsFrom(input: BackfillInput, heartbeat?: BackfillProgress): BackfillOptions {
  return {
    schema: input.ctx.source.database,
    table: input.ctx.source.table,
    cursor: heartbeat?.cursor ?? input.cursor,
    rowsCopiedBefore: heartbeat?.rowsCopied ?? input.rowsCopiedBefore,
    parallelism: input.parallelism,
    targetChunkMs: input.targetChunkMs,
    maxRowsPerSecond: input.maxRowsPerSecond,
    sliceMs: input.sliceMs,
  };
}
