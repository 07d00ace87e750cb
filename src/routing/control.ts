/**
 * What the workflow's routing activities need beyond the flag store itself: fleet-wide counters, and the drain of
 * background writes behind the fence. No Temporal imports; activities wrap these.
 */
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
 * Behind the fence, before leaving a DynamoDB-primary mode: waits until every live instance runs `fencedVersion`
 * with an empty background queue (FlagBarrierTimeoutError naming the laggards otherwise), then re-applies from
 * DynamoDB to MySQL every key a background write did not deliver. After it MySQL holds every acknowledged write.
 */
export async function drainBackgroundWrites(input: {
  readonly store: FlagStore;
  readonly tableId: string;
  readonly fencedVersion: number;
  readonly timeoutMs: number;
  readonly livenessMs?: number;
  readonly reconcile: () => Promise<ReconcileResult>;
}): Promise<{ pending: number; reconciledKeys: number }> {
  const live = await input.store.awaitBarrier(input.tableId, input.fencedVersion, { timeoutMs: input.timeoutMs, livenessMs: input.livenessMs, requireDrained: true });
  const r = await input.reconcile();
  return { pending: live.reduce((s, i) => s + i.pendingBackground, 0), reconciledKeys: r.reappliedKeys };
}
