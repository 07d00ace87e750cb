/**
 * Rebuild after an ETL bug: delete every item the group's sources wrote to their target tables, then reset the group
 * to the topic's first offsets, so the (fixed) mapping re-creates each item from the source's whole history.
 *
 * Why delete first: every item keeps the version of the event that wrote it, and a write never lands unless its
 * version is higher than the stored one; a replay carries the same versions, so under the fixed mapping it would
 * change nothing. An empty key has no version, so the replay writes it again (docs/design.md "Replay and rebuild").
 *
 * Invariants (each checked before anything is deleted; a refusal is a ReplayRefusedError naming what to do):
 * - Explicit consent: `truncateTarget` must be true.
 * - No ETL process of the group runs and none of its leases is live (../consumer/replay.ts assertGroupStopped).
 * - No source is routed to DynamoDB: every source's flags say readPercent 0 and write mode mysql-only (the app
 *   reads only MySQL, and no direct or shadow write reaches DynamoDB), so no reader sees the table half empty and no
 *   writer races the deletes.
 * - The topic still holds the whole history: every partition starts at offset 0 and retention.ms is -1; unless
 *   `freshBackfill` says a new backfill (loads of every row) will be written to the topic before reads return.
 * - Only items whose `_src` is one of the group's sources are deleted, each delete conditional on that `_src`, so an
 *   item of another source sharing the table is never touched, even if it was written at the same key meanwhile.
 * - Deleting is idempotent: after a crash, run the rebuild again (the reset comes last, so until a rebuild
 *   finished the group's offsets are unchanged).
 * - Durable marker: `rebuild|<group>` is written to the control table (../consumer/control.ts markRebuild) before
 *   the first delete and removed only after the offset reset. While it exists every consumer of the group refuses to
 *   start (RebuildPendingError naming the group and this command), so a crash between the deletes and the reset
 *   cannot leave a half-deleted target consumed from offsets past the deleted items; re-running the rebuild finishes.
 */
import { DeleteItemCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Admin } from 'kafkajs';
import { SOURCE_ATTR, type Item } from '../item';
import type { ControlStore } from '../consumer/control';
import { ReplayRefusedError } from '../consumer/errors';
import { resetGroupOffsets } from '../consumer/offsets';
import { assertGroupStopped } from '../consumer/replay';
import type { CompiledMapping } from '../transform/mapping';

/** The part of the routing flags a rebuild checks (src/routing/flags.ts TableFlags). */
export interface RoutingState {
  readonly readPercent: number;
  readonly writeMode: string;
}

export interface RebuildDeps {
  readonly admin: Admin;
  readonly client: DynamoDBClient;
  readonly control: ControlStore;
  /** The routing flags of a source ("schema.table"), e.g. FlagStore.get; DEFAULT_FLAGS when never set. */
  readonly routing: (sourceId: string) => Promise<RoutingState>;
  readonly log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface RebuildOptions {
  readonly group: string;
  readonly topic: string;
  /** Every mapping the group applies: all their sources' items are deleted, and only those. */
  readonly mappings: readonly CompiledMapping[];
  /** The operator's explicit consent to delete items (`--truncate-target`). */
  readonly truncateTarget: boolean;
  /** A new backfill will be loaded into the topic: skip the full-history check. */
  readonly freshBackfill?: boolean;
  /** Concurrent conditional deletes (default 16). */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  /** TEST ONLY: called after the deletes, before the reset (e.g. to kill the process there). */
  readonly afterDeletes?: () => void;
}

export interface RebuildResult {
  /** Items deleted per target table. */
  readonly deleted: Readonly<Record<string, number>>;
  /** The group's offsets after the reset (every partition's first offset). */
  readonly partitions: { partition: number; offset: string }[];
}

/** Throws ReplayRefusedError unless every precondition of the module invariants holds. Changes nothing. */
export async function checkRebuild(deps: RebuildDeps, o: RebuildOptions): Promise<void> {
  const refuse = (code: ConstructorParameters<typeof ReplayRefusedError>[0], detail: string) => new ReplayRefusedError(code, o.group, o.topic, detail);
  const tables = [...new Set(o.mappings.map((m) => m.targetTable))].join(', ');
  if (!o.truncateTarget) throw refuse('truncate-not-requested', `a rebuild deletes every item of ${o.mappings.map((m) => m.sourceId).join(', ')} from ${tables}; pass --truncate-target to confirm`);
  await assertGroupStopped(deps.admin, deps.control, o.group, o.topic);
  for (const m of o.mappings) {
    const f = await deps.routing(m.sourceId);
    if (f.readPercent > 0 || f.writeMode !== 'mysql-only') {
      throw refuse('routing-uses-dynamo', `routing of ${m.sourceId} has readPercent ${f.readPercent} and write mode ${f.writeMode}; roll it back to readPercent 0 and mysql-only first (cutover rollback), so no reader sees ${m.targetTable} half empty and no writer races the rebuild`);
    }
  }
  if (o.freshBackfill) return;
  const offsets = await deps.admin.fetchTopicOffsets(o.topic);
  const trimmed = offsets.filter((p) => p.low !== '0');
  if (trimmed.length > 0) {
    throw refuse('history-incomplete', `partitions ${trimmed.map((p) => `${p.partition} (starts at ${p.low})`).join(', ')} lost their first events; a replay cannot re-create every item (rebuild with a fresh backfill instead)`);
  }
  const cfg = await deps.admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: o.topic, configNames: ['retention.ms', 'retention.bytes'] }] });
  for (const name of ['retention.ms', 'retention.bytes']) {
    const v = cfg.resources[0]?.configEntries.find((e) => e.configName === name)?.configValue;
    if (v !== undefined && v !== '-1') throw refuse('history-incomplete', `${name}=${v}: the topic does not keep the whole history, so a later rebuild could miss items (set it to -1, or rebuild with a fresh backfill)`);
  }
}

/** Deletes the items of `sources` in `table` (each delete conditional on its `_src`); returns how many went. */
export async function deleteSourceItems(client: DynamoDBClient, table: string, keyAttrs: readonly string[], sources: readonly string[], opts: { concurrency?: number; signal?: AbortSignal } = {}): Promise<number> {
  let deleted = 0;
  let start: Item | undefined;
  const values = Object.fromEntries(sources.map((s, i) => [`:s${i}`, { S: s }]));
  const inList = `#s IN (${sources.map((_, i) => `:s${i}`).join(', ')})`;
  do {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const page = await client.send(
      new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true, FilterExpression: inList, ProjectionExpression: [...keyAttrs.map((_, i) => `#k${i}`), '#s'].join(', '), ExpressionAttributeNames: { '#s': SOURCE_ATTR, ...Object.fromEntries(keyAttrs.map((k, i) => [`#k${i}`, k])) }, ExpressionAttributeValues: values }),
    );
    const items = page.Items ?? [];
    let i = 0;
    await Promise.all(
      Array.from({ length: Math.min(opts.concurrency ?? 16, items.length) }, async () => {
        while (i < items.length) {
          const it = items[i++];
          try {
            await client.send(
              new DeleteItemCommand({ TableName: table, Key: Object.fromEntries(keyAttrs.map((k) => [k, it[k]])), ConditionExpression: '#s = :src', ExpressionAttributeNames: { '#s': SOURCE_ATTR }, ExpressionAttributeValues: { ':src': it[SOURCE_ATTR] } }),
            );
            deleted++;
          } catch (e) {
            if ((e as Error).name !== 'ConditionalCheckFailedException') throw e; // gone or another source's now
          }
        }
      }),
    );
    start = page.LastEvaluatedKey;
  } while (start);
  return deleted;
}

/**
 * Checks every precondition (checkRebuild), marks the rebuild pending, deletes the group's sources' items from their
 * target tables, resets the group to the topic's first offsets, then clears the mark. Consumers of the group started afterwards re-create every item through
 * their mapping. Idempotent: after a failure, run it again.
 */
export async function rebuildTarget(deps: RebuildDeps, o: RebuildOptions): Promise<RebuildResult> {
  await checkRebuild(deps, o);
  const tables = [...new Set(o.mappings.map((m) => m.targetTable))];
  await deps.control.markRebuild(o.group, { topic: o.topic, tables }); // before the first delete: see the module invariants
  const deleted: Record<string, number> = {};
  for (const table of new Set(o.mappings.map((m) => m.targetTable))) {
    const ms = o.mappings.filter((m) => m.targetTable === table);
    const keyAttrs = [ms[0].partitionKey, ...(ms[0].sortKey ? [ms[0].sortKey] : [])];
    deleted[table] = await deleteSourceItems(deps.client, table, keyAttrs, ms.map((m) => m.sourceId), o);
    deps.log?.('rebuild: deleted the sources’ items', { table, deleted: deleted[table], sources: ms.map((m) => m.sourceId) });
  }
  o.afterDeletes?.();
  const partitions = await resetGroupOffsets(deps.admin, o.group, o.topic, { earliest: true });
  await deps.control.clearRebuild(o.group); // only now may consumers of the group start again
  deps.log?.('rebuild: group reset to the first offsets', { group: o.group, topic: o.topic, partitions });
  return { deleted, partitions };
}
