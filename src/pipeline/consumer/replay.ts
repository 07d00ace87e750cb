/**
 * Operator replay: parse where to replay from, prove the group is stopped, then reset its committed offsets
 * (./offsets.ts). The next consumers of the group reprocess from there with the same version rule, so a replay of
 * events already applied changes no item (docs/design.md "Replay and rebuild").
 *
 * Invariants:
 * - Nothing is reset while the Kafka group has a member (describeGroups state other than Empty/Dead) or while any of
 *   the group's partition leases (./control.ts) is live: a live lease means a process that may still write blind
 *   with a version cache that a reset would make wrong. The refusal names the group (ReplayRefusedError).
 * - Explicit offsets are checked against each partition's [low, high] before anything is written; partitions not
 *   named keep their committed offset.
 * - A timestamp resolves per partition to the first offset whose message time is ≥ it (the end offset when none is),
 *   so every event written at or after that time is reprocessed.
 */
import type { Admin } from 'kafkajs';
import { ConfigError } from '../../shared/errors';
import type { ControlStore } from './control';
import { ReplayRefusedError } from './errors';
import { resetGroupOffsets, type ReplayFrom } from './offsets';

const FLAG = '--replay-from';

/**
 * Parses `earliest`, an ISO-8601 timestamp with a date and a time zone (e.g. 2026-11-25T12:00:00Z), or
 * `partition:offset[,partition:offset…]`. Anything else is a ConfigError naming the option and the text.
 */
export function parseReplayFrom(text: string): ReplayFrom {
  const t = text.trim();
  if (t === 'earliest') return { earliest: true };
  if (/^\d+:\d+(,\d+:\d+)*$/.test(t)) {
    const offsets: Record<number, string> = {};
    for (const part of t.split(',')) {
      const [p, o] = part.split(':');
      if (Number(p) in offsets) throw new ConfigError(`partition ${p} is given twice in "${text}"`, undefined, undefined, FLAG);
      offsets[Number(p)] = String(BigInt(o));
    }
    return { offsets };
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return { timestamp: ms };
  }
  throw new ConfigError(`expected earliest, an ISO timestamp with a time zone (2026-11-25T12:00:00Z) or partition:offset,… — got "${text}"`, undefined, undefined, FLAG);
}

/** Throws ReplayRefusedError unless the group has no Kafka member and no live partition lease. */
export async function assertGroupStopped(admin: Admin, control: ControlStore, group: string, topic: string): Promise<void> {
  const { groups } = await admin.describeGroups([group]);
  const g = groups.find((x) => x.groupId === group);
  if (g && !(g.state === 'Empty' || g.state === 'Dead') && g.members.length > 0) {
    const who = g.members.map((m) => `${m.clientId}@${m.clientHost}`).join(', ');
    throw new ReplayRefusedError('group-active', group, topic, `the consumer group is ${g.state} with ${g.members.length} member(s) (${who}); stop every ETL process of group ${group} first`);
  }
  const leases = (await control.liveLeases(group)).filter((l) => l.topic === topic);
  if (leases.length > 0) {
    const held = leases.map((l) => `partition ${l.partition} by ${l.owner}`).join(', ');
    throw new ReplayRefusedError('lease-held', group, topic, `partition leases of group ${group} are still live (${held}); stop that process, or wait ${control.lease.durationMs + control.lease.skewMs} ms for a killed one's lease to expire`);
  }
}

/** Explicit offsets must name existing partitions and lie within their [low, high]. */
async function checkOffsets(admin: Admin, group: string, topic: string, offsets: Readonly<Record<number, string>>): Promise<void> {
  const bounds = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p]));
  for (const [p, o] of Object.entries(offsets)) {
    const b = bounds.get(Number(p));
    if (!b) throw new ReplayRefusedError('bad-offset', group, topic, `partition ${p} does not exist (the topic has ${bounds.size})`);
    if (BigInt(o) < BigInt(b.low) || BigInt(o) > BigInt(b.high)) throw new ReplayRefusedError('bad-offset', group, topic, `offset ${o} of partition ${p} is outside [${b.low}, ${b.high}]`);
  }
}

/** What a replay reset: the group's new committed offset per partition. */
export interface ReplayResult {
  readonly group: string;
  readonly topic: string;
  readonly partitions: { partition: number; offset: string }[];
}

/**
 * Resets the stopped `group` on `topic` to `from` (see the module invariants); consumers started afterwards
 * reprocess from there. Throws ReplayRefusedError (nothing changed) when the group is not stopped or an offset is bad.
 */
export async function replayGroup(deps: { admin: Admin; control: ControlStore }, group: string, topic: string, from: ReplayFrom): Promise<ReplayResult> {
  await assertGroupStopped(deps.admin, deps.control, group, topic);
  if ('offsets' in from) await checkOffsets(deps.admin, group, topic, from.offsets);
  const partitions = await resetGroupOffsets(deps.admin, group, topic, from);
  return { group, topic, partitions };
}
