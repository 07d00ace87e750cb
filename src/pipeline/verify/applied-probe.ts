/**
 * An "applied through" probe for verification's recheck rule (./recheck.ts), built only from public facts: the CDC
 * reader's acknowledged source position and the ETL group's committed offsets.
 *
 * Invariant: the returned seq S is such that every change with GTID seq ≤ S has been applied to the target. Proof:
 * a candidate (S = the CDC's acknowledged position, E = the topic's end offsets read *after* it) is promoted only
 * once the group's committed offsets reach E on every partition. Every message of a transaction ≤ S was acknowledged
 * by Kafka before S was reported, so it sits below E; the consumer commits an offset only after the writes before
 * it are durable. Loads and repairs published meanwhile only make the wait longer, never unsound.
 */
import type { Admin } from 'kafkajs';

export interface AppliedProbeDeps {
  readonly admin: Admin;
  readonly topic: string;
  readonly group: string;
  /**
   * The CDC's acknowledged position ("d-s-seq[@file:pos]"), null before the first acknowledgement: the reader's
   * `progress().position` in process, or `CdcSource.describe(id).publishedPosition` from anywhere.
   */
  readonly cdcPosition: () => string | null | Promise<string | null>;
}

/** The GTID seq of a CDC position ("d-s-seq[@file:pos]", e.g. StartCdcResult.startPosition), undefined if none. */
export function positionSeq(position: string | null): bigint | undefined {
  const m = position ? /^(\d+)-(\d+)-(\d+)/.exec(position) : null;
  return m ? BigInt(m[3]) : undefined;
}

/** A probe returning the highest seq known to be applied ("0" until the first candidate is confirmed). */
export function appliedThroughProbe(deps: AppliedProbeDeps): () => Promise<string> {
  let applied = 0n;
  let candidate: { seq: bigint; ends: Map<number, bigint> } | undefined;
  const newCandidate = async (): Promise<typeof candidate> => {
    const seq = positionSeq(await deps.cdcPosition());
    if (seq === undefined) return undefined;
    const ends = await deps.admin.fetchTopicOffsets(deps.topic);
    return { seq, ends: new Map(ends.map((e) => [e.partition, BigInt(e.high)])) };
  };
  return async () => {
    if (!candidate) candidate = await newCandidate();
    if (candidate) {
      const [committed] = await deps.admin.fetchOffsets({ groupId: deps.group, topics: [deps.topic] });
      const at = new Map(committed.partitions.map((p) => [p.partition, BigInt(p.offset === '-1' ? '0' : p.offset)]));
      const caughtUp = [...candidate.ends].every(([p, end]) => end === 0n || (at.get(p) ?? 0n) >= end);
      if (caughtUp) {
        if (candidate.seq > applied) applied = candidate.seq;
        candidate = await newCandidate();
      }
    }
    return applied.toString();
  };
}
