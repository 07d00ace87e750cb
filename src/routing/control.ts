/**
 * What the workflow's routing activities need beyond the flag store itself: fleet-wide counters, and the drain of
 * background writes behind the fence. No Temporal imports; activities wrap these.
 */
import { UnsafeTransitionError } from './errors';
import type { FlagStore } from './flag-store';
import type { ReconcileResult } from './reconcile';

/** Counters summed over every instance's last heartbeat (cumulative since each instance started). */
export interface RoutingStats {
  readonly instances: number;
  readonly liveInstances: number;
  readonly readsCompared: number;
  readonly readMismatches: number;
  readonly shadowWrites: number;
  readonly shadowWriteErrors: number;
  readonly backgroundWrites: number;
  readonly backgroundWriteErrors: number;
  readonly pendingBackground: number;
  readonly fenceTimeouts: number;
}

const SUMMED = ['readsCompared', 'readMismatches', 'shadowWrites', 'shadowWriteErrors', 'backgroundWrites', 'backgroundWriteErrors', 'fenceTimeouts'] as const;

/**
 * Sums the heartbeated counters of every instance that ever served `tableId` (dead ones included: their failures
 * still count). Gates compare two reads of this to get the counts of a soak period.
 */
export async function routingStats(store: FlagStore, tableId: string, livenessMs?: number): Promise<RoutingStats> {
  const all = await store.instances(tableId, livenessMs);
  const sum = Object.fromEntries(SUMMED.map((k) => [k, all.reduce((s, i) => s + (Number(i.stats[k]) || 0), 0)])) as Record<(typeof SUMMED)[number], number>;
  return {
    instances: all.length,
    liveInstances: all.filter((i) => i.live).length,
    pendingBackground: all.filter((i) => i.live).reduce((s, i) => s + i.pendingBackground, 0),
    ...sum,
  };
}

/**
 * Behind the fence, before leaving a DynamoDB-primary mode for mysql-primary (the DrainBackgroundWrites activity):
 * checks the table is fenced, waits until every live instance runs that flag version with an empty background
 * queue (FlagBarrierTimeoutError naming the laggards otherwise), then runs `reconcile` — pass
 * `reconcileFromDynamo({ ..., rebase: true })`: it re-applies from DynamoDB to MySQL every key a background write did
 * not deliver (including keys written while in dynamo-only) and moves those items back to the binlog's version band,
 * without which no later MySQL-primary change could reach them. After it MySQL holds every acknowledged write.
 * Idempotent: safe to retry, and harmless if the fence is then released back to dynamo-primary.
 */
export async function drainBackgroundWrites(input: {
  readonly store: FlagStore;
  readonly tableId: string;
  readonly timeoutMs: number;
  readonly livenessMs?: number;
  readonly reconcile: () => Promise<ReconcileResult>;
}): Promise<{ pending: number; reconciledKeys: number }> {
  const flags = await input.store.get(input.tableId);
  if (flags.writeMode !== 'fenced') throw new UnsafeTransitionError(`background writes are drained only behind the fence; write mode is ${flags.writeMode}`, input.tableId);
  const live = await input.store.awaitBarrier(input.tableId, flags.version, { timeoutMs: input.timeoutMs, livenessMs: input.livenessMs, requireDrained: true });
  const r = await input.reconcile();
  return { pending: live.reduce((s, i) => s + i.pendingBackground, 0), reconciledKeys: r.reappliedKeys };
}
