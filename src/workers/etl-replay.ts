/**
 * The operator resets of `npm run etl` (`--replay-from`, `--rebuild`): run once at start-up, before this process
 * joins the group, with real clients built here. Each refuses (ReplayRefusedError, nothing changed) while the group
 * has a member or a live lease; `--rebuild` also checks consent, routing flags and the topic's history
 * (src/pipeline/target/rebuild.ts).
 */
import { createKafka } from '../infra/kafka';
import { createMysqlPool } from '../infra/mysql';
import { ConfigError } from '../shared/errors';
import type { ControlStore } from '../pipeline/consumer/control';
import { parseReplayFrom, replayGroup } from '../pipeline/consumer/replay';
import { redriveDlq, type RedriveFilter, type RedriveResult } from '../pipeline/consumer/redrive';
import type { DeadLetterReason } from '../pipeline/apply/errors';
import type { ReplayFrom } from '../pipeline/consumer/offsets';
import { rebuildTarget, type RoutingState } from '../pipeline/target/rebuild';
import type { CompiledMapping } from '../pipeline/transform/mapping';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DEFAULT_FLAGS } from '../routing/flags';
import { FlagStore } from '../routing/flag-store';

/** The reset options of the ETL command line. */
export interface ResetFlags {
  readonly replayFrom?: string;
  readonly rebuild?: boolean;
  readonly truncateTarget?: boolean;
  readonly freshBackfill?: boolean;
  readonly redriveDlq?: boolean;
  readonly redriveFrom?: string;
  readonly redriveReasons?: string;
  readonly redriveSourceOffsets?: string;
}

const REASONS: readonly DeadLetterReason[] = ['unparseable', 'unmapped-table', 'transform', 'item-too-large', 'validation', 'control'];

function partitionOffsets(text: string, flag: string): { partition: number; offset: string }[] {
  const t = text.trim();
  if (!/^\d+:\d+(,\d+:\d+)*$/.test(t)) throw new ConfigError(`expected partition:offset[,partition:offset…], got "${text}"`, undefined, undefined, flag);
  const out = t.split(',').map((part) => {
    const [p, o] = part.split(':');
    return { partition: Number(p), offset: String(BigInt(o)) };
  });
  const seen = new Set<string>();
  for (const x of out) {
    if (seen.has(`${x.partition}:${flag === '--redrive-from' ? '' : x.offset}`)) throw new ConfigError(`partition ${x.partition} is given twice in "${text}"`, undefined, undefined, flag);
    seen.add(`${x.partition}:${flag === '--redrive-from' ? '' : x.offset}`);
  }
  return out;
}

/**
 * Parses the redrive options (`--redrive-dlq` with `--redrive-from earliest|p:o,…`, `--redrive-reasons r,…`,
 * `--redrive-source-offsets p:o,…`); undefined without `--redrive-dlq`. Bad text is a ConfigError naming the option.
 */
export function redriveRequest(f: ResetFlags): RedriveFilter | undefined {
  if (!f.redriveDlq) {
    const stray = f.redriveFrom !== undefined ? '--redrive-from' : f.redriveReasons !== undefined ? '--redrive-reasons' : f.redriveSourceOffsets !== undefined ? '--redrive-source-offsets' : undefined;
    if (stray) throw new ConfigError('only meaningful with --redrive-dlq', undefined, undefined, stray);
    return undefined;
  }
  if (f.rebuild || f.replayFrom !== undefined) throw new ConfigError('a redrive runs on its own; do not combine it with --rebuild or --replay-from', undefined, undefined, '--redrive-dlq');
  let from: RedriveFilter['from'];
  if (f.redriveFrom !== undefined) {
    from = f.redriveFrom.trim() === 'earliest' ? { earliest: true } : { offsets: Object.fromEntries(partitionOffsets(f.redriveFrom, '--redrive-from').map((p) => [p.partition, p.offset])) };
  }
  let reasons: DeadLetterReason[] | undefined;
  if (f.redriveReasons !== undefined) {
    reasons = f.redriveReasons.split(',').map((r) => r.trim()) as DeadLetterReason[];
    const bad = reasons.filter((r) => !REASONS.includes(r));
    if (bad.length || !reasons.length) throw new ConfigError(`unknown reason(s) ${bad.join(', ')}; known: ${REASONS.join(', ')}`, undefined, undefined, '--redrive-reasons');
  }
  const sourceOffsets = f.redriveSourceOffsets !== undefined ? partitionOffsets(f.redriveSourceOffsets, '--redrive-source-offsets') : undefined;
  return { from, reasons, sourceOffsets };
}

/** Redrives the group's DLQ (src/pipeline/consumer/redrive.ts); prints one JSON line per letter and a summary. */
export async function performRedrive(filter: RedriveFilter, d: { client: DynamoDBClient; control: ControlStore; mappings: readonly CompiledMapping[]; group: string; topic: string; dlqTopic?: string; signal?: AbortSignal }): Promise<RedriveResult> {
  const kafka = createKafka('cutover-etl-redrive');
  const r = await redriveDlq(
    { kafka, client: d.client, control: d.control, log: (msg, fields) => console.log(JSON.stringify({ msg, ...fields })) },
    { group: d.group, topic: d.topic, dlqTopic: d.dlqTopic, mappings: d.mappings, filter, signal: d.signal },
  );
  console.log(JSON.stringify({ msg: 'redrive done', dlqTopic: r.dlqTopic, redriveGroup: r.redriveGroup, ...r.counts, committed: r.committed, notCommitted: r.notCommitted }));
  return r;
}

/** The requested reset, validated without any I/O (bad combinations are ConfigErrors naming the option). */
export type ResetRequest = { readonly kind: 'none' } | { readonly kind: 'replay'; readonly from: ReplayFrom } | { readonly kind: 'rebuild'; readonly truncateTarget: boolean; readonly freshBackfill: boolean };

/** Parses the reset options; fails fast on a bad `--replay-from` or a combination that means nothing. */
export function resetRequest(f: ResetFlags): ResetRequest {
  if (f.rebuild && f.replayFrom !== undefined) throw new ConfigError('--rebuild always replays from the first offsets; do not combine it with --replay-from', undefined, undefined, '--rebuild');
  if (!f.rebuild && (f.truncateTarget || f.freshBackfill)) throw new ConfigError('only meaningful with --rebuild', undefined, undefined, f.truncateTarget ? '--truncate-target' : '--fresh-backfill');
  if (f.rebuild) return { kind: 'rebuild', truncateTarget: f.truncateTarget === true, freshBackfill: f.freshBackfill === true };
  if (f.replayFrom !== undefined) return { kind: 'replay', from: parseReplayFrom(f.replayFrom) };
  return { kind: 'none' };
}

/** The routing flags of a source, read from the routing schema (CUTOVER_ROUTING_SCHEMA); none stored = all MySQL. */
async function routingOf(store: FlagStore, sourceId: string): Promise<RoutingState> {
  try {
    return await store.get(sourceId);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ER_NO_SUCH_TABLE' || code === 'ER_BAD_DB_ERROR') return DEFAULT_FLAGS; // routing never set up
    throw e;
  }
}

/** Performs the requested reset (see the module comment); prints one JSON line saying what it did. */
export async function performReset(req: ResetRequest, d: { client: DynamoDBClient; control: ControlStore; mappings: readonly CompiledMapping[]; group: string; topic: string; signal?: AbortSignal }): Promise<void> {
  if (req.kind === 'none') return;
  const admin = createKafka('cutover-etl-reset').admin();
  const pool = createMysqlPool({ connectionLimit: 1 });
  const log = (msg: string, fields?: Record<string, unknown>) => console.error(JSON.stringify({ msg, ...fields }));
  try {
    await admin.connect();
    if (req.kind === 'replay') {
      const r = await replayGroup({ admin, control: d.control }, d.group, d.topic, req.from);
      log('replay: group offsets reset', { ...r });
    } else {
      const flags = new FlagStore(pool, process.env.CUTOVER_ROUTING_SCHEMA ?? 'cutover_control');
      const r = await rebuildTarget(
        { admin, client: d.client, control: d.control, routing: (id) => routingOf(flags, id), log },
        {
          group: d.group, topic: d.topic, mappings: d.mappings, truncateTarget: req.truncateTarget, freshBackfill: req.freshBackfill, signal: d.signal,
          // test hook (test/integration/consumer/rebuild-marker.test.ts): die between the deletes and the reset
          afterDeletes: process.env.CUTOVER_TEST_KILL_AFTER_REBUILD_DELETES === '1' ? () => process.kill(process.pid, 'SIGKILL') : undefined,
        },
      );
      log('rebuild: ready to replay', { deleted: r.deleted });
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
}
