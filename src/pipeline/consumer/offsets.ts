/**
 * Group offsets: lag per partition (what describe-ETL reports) and replay (reset the group to an offset or a time).
 * A reset requires the group to have no live member (Kafka refuses otherwise); the replayed events are applied with
 * the same version rule, so the table ends identical. Operators reset through ./replay.ts (which also refuses while
 * a partition lease is live) or rebuild through ../target/rebuild.ts.
 */
import type { Admin } from 'kafkajs';

/** One partition's position and lag for a group. */
export interface PartitionLag {
  readonly partition: number;
  /** Next offset to consume (committed), or the log start when nothing was committed. */
  readonly committed: string;
  readonly end: string;
  readonly lag: number;
}

/** Lag of `group` on `topic`, per partition (end offset − committed offset). */
export async function groupLag(admin: Admin, group: string, topic: string): Promise<PartitionLag[]> {
  const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId: group, topics: [topic] })]);
  const c = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, p.offset]));
  return ends
    .map((e) => {
      const at = c.get(e.partition);
      const from = at === undefined || Number(at) < 0 ? e.low : at;
      return { partition: e.partition, committed: from, end: e.high, lag: Math.max(0, Number(e.high) - Number(from)) };
    })
    .sort((a, b) => a.partition - b.partition);
}

/** Where to replay from: every partition's earliest offset, an offset per partition, or the first offset at a time. */
export type ReplayFrom = { readonly earliest: true } | { readonly offsets: Readonly<Record<number, string>> } | { readonly timestamp: number };

/** Resets the (stopped) group's committed offsets on `topic`; consumers started afterwards reprocess from there. */
export async function resetGroupOffsets(admin: Admin, group: string, topic: string, from: ReplayFrom): Promise<{ partition: number; offset: string }[]> {
  let partitions: { partition: number; offset: string }[];
  if ('earliest' in from) {
    partitions = (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.low }));
  } else if ('offsets' in from) {
    partitions = Object.entries(from.offsets).map(([p, offset]) => ({ partition: Number(p), offset }));
  } else {
    const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, from.timestamp);
    partitions = byTime.map((p) => ({ partition: p.partition, offset: p.offset }));
  }
  await admin.setOffsets({ groupId: group, topic, partitions });
  return partitions;
}
