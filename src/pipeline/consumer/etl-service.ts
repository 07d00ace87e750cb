/**
 * What the migration workflow's ETL activities do, without Temporal: run one consumer for a slice, describe the
 * group, switch its apply mode and wait for the acknowledgement, wait for catch-up. Inputs and results are the plain
 * JSON shapes of src/shared/activity-contract.ts; the activity adapters add heartbeats and cancellation.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import type { AwaitEtlCatchUpResult, EtlDescription, RunEtlResult, SetApplyModeResult } from '../../shared/activity-contract';
import { TransientError } from '../../shared/errors';
import type { ApplyMode } from '../../shared/phases';
import { sleep } from '../apply/throttle';
import { ensureTargetTable } from '../target/table';
import { loadMappingFile, type CompiledMapping } from '../transform/mapping';
import type { ControlStore } from './control';
import { EtlConsumer, type EtlProgress } from './consumer';
import { dlqTopicOf } from './dlq';
import { groupLag } from './offsets';

/** Clients the ETL helpers use; owned by the caller. */
export interface EtlServiceDeps {
  readonly kafka: Kafka;
  readonly client: DynamoDBClient;
  readonly control: ControlStore;
}

/** How long a slice waits for its member to join the group before its `sliceMs` starts anyway (session + rebalance timeouts). */
const JOIN_GRACE_MS = 90_000;

/** Runs one group member for `sliceMs` from its join (or until cancelled / the DLQ threshold), then stops gracefully. */
export async function runEtlSlice(
  deps: EtlServiceDeps,
  input: {
    mappingFile: string; topic: string; group: string; sliceMs: number; maxDlqEvents: number; initialMode?: ApplyMode;
    /** Mappings compiled with the source's columns (as verify and routing compile them); default: the file without. */
    mappings?: readonly CompiledMapping[];
    partitionsConsumedConcurrently?: number;
  },
  opts: { signal?: AbortSignal; heartbeat?: (p: EtlProgress) => void } = {},
): Promise<RunEtlResult> {
  const mappings = input.mappings ?? loadMappingFile(input.mappingFile);
  await deps.control.ensureTable();
  const known = (await deps.control.getGroup(input.group)) !== undefined; // freshness is recorded once, when the group is new
  let fresh = true;
  for (const table of new Set(mappings.map((m) => m.targetTable))) fresh &&= (await ensureTargetTable(deps.client, mappings.filter((m) => m.targetTable === table), { skipEmptinessCheck: known })).emptyForSources;
  const consumer = new EtlConsumer({ ...deps, mappings, topic: input.topic, group: input.group, initialMode: input.initialMode ?? 'exclusive', freshTarget: fresh, dlq: { maxEvents: input.maxDlqEvents }, partitionsConsumedConcurrently: input.partitionsConsumedConcurrently });
  // The slice counts from the member's join. A member stopped while still joining is closed by kafkajs without a
  // LeaveGroup, so it stays in the group until its session times out and holds up the next slice's join just as
  // long: after a worker kill (whose member held the group) slice after slice then ended mid-join and the ETL applied
  // nothing (found by test/faults/app-load-kill.fault.ts). A join is bounded by the session and rebalance timeouts.
  let timer = setTimeout(() => void consumer.stop(), input.sliceMs + JOIN_GRACE_MS);
  let over = false;
  void consumer.joined.then(() => {
    if (over) return;
    clearTimeout(timer);
    timer = setTimeout(() => void consumer.stop(), input.sliceMs);
  });
  try {
    const r = await consumer.run({ signal: opts.signal, onProgress: opts.heartbeat });
    const stoppedBy = r.stoppedBy === 'aborted' ? 'cancelled' : r.stoppedBy === 'dlq-threshold' ? 'dlq-threshold' : 'slice-elapsed';
    if (r.stoppedBy === 'error') throw new TransientError(`ETL consumer failed: ${r.reason}`);
    return { appliedEvents: r.progress.events, dlqEvents: r.progress.deadLettered, stoppedBy, reason: r.reason };
  } finally {
    over = true;
    clearTimeout(timer);
  }
}

/** Lag, dead letters, rate and the mode the live members run. */
export async function describeEtl(deps: EtlServiceDeps, input: { topic: string; group: string }): Promise<EtlDescription> {
  const admin = deps.kafka.admin();
  await admin.connect();
  try {
    const lag = await groupLag(admin, input.group, input.topic);
    const topics = await admin.listTopics();
    const dlq = topics.includes(dlqTopicOf(input.topic)) ? await admin.fetchTopicOffsets(dlqTopicOf(input.topic)) : [];
    const members = await deps.control.liveMembers(input.group);
    const lagEvents = lag.reduce((s, p) => s + p.lag, 0);
    const applyRate = members.reduce((s, m) => s + m.rate, 0);
    const modes = new Set(members.map((m) => `${m.mode}|${m.modeVersion}`));
    return {
      lagEvents,
      lagByPartition: lag.map((p) => ({ partition: p.partition, lag: p.lag })),
      lagSeconds: lagEvents === 0 ? 0 : applyRate > 0 ? Math.ceil(lagEvents / applyRate) : -1,
      dlqCount: dlq.reduce((s, p) => s + Number(p.high) - Number(p.low), 0),
      applyRate,
      throttles: members.reduce((s, m) => s + m.throttles, 0),
      applyMode: modes.size === 1 ? members[0].mode : null,
    };
  } finally {
    await admin.disconnect();
  }
}

/** Durably sets the mode and waits until every live lease holder runs it; TransientError (retry) on timeout. */
export async function setApplyMode(deps: EtlServiceDeps, input: { group: string; mode: ApplyMode; timeoutMs: number }, signal?: AbortSignal): Promise<SetApplyModeResult> {
  await deps.control.ensureTable();
  const version = await deps.control.setMode(input.group, input.mode);
  const r = await deps.control.awaitMode(input.group, version, input.timeoutMs, signal);
  if (r.laggards.length) throw new TransientError(`apply mode ${input.mode} (version ${version}) not yet acknowledged by ${r.laggards.join(', ')}`);
  return { mode: input.mode, version, consumers: r.acknowledged };
}

/** Waits (up to sliceMs) until the group's lag on the topic's end offsets, taken at the start, is ≤ maxLagEvents. */
export async function awaitEtlCatchUp(
  deps: EtlServiceDeps,
  input: { topic: string; group: string; maxLagEvents: number; sliceMs: number },
  opts: { signal?: AbortSignal; heartbeat?: (lagEvents: number) => void } = {},
): Promise<AwaitEtlCatchUpResult> {
  const admin = deps.kafka.admin();
  await admin.connect();
  try {
    const target = new Map((await admin.fetchTopicOffsets(input.topic)).map((p) => [p.partition, Number(p.high)]));
    const deadline = Date.now() + input.sliceMs;
    for (;;) {
      const lag = await groupLag(admin, input.group, input.topic);
      const behind = lag.reduce((s, p) => s + Math.max(0, (target.get(p.partition) ?? 0) - Number(p.committed)), 0);
      opts.heartbeat?.(behind);
      const through = JSON.stringify(Object.fromEntries(target));
      if (behind <= input.maxLagEvents) return { caughtUp: true, throughPosition: through, lagEvents: behind, stoppedBy: 'done' };
      if (opts.signal?.aborted) return { caughtUp: false, throughPosition: through, lagEvents: behind, stoppedBy: 'cancelled' };
      if (Date.now() > deadline) return { caughtUp: false, throughPosition: through, lagEvents: behind, stoppedBy: 'slice-elapsed' };
      await sleep(500, opts.signal).catch(() => undefined);
    }
  } finally {
    await admin.disconnect();
  }
}
