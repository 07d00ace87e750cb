/**
 * Routing activities over src/routing: setRoutingFlags (a new durable flag version), awaitFlagBarrier (every live
 * application instance runs it), readShadowStats (counts of a soak period), drainBackgroundWrites (behind the fence,
 * before leaving a DynamoDB-primary mode: background writes drained, then MySQL reconciled from DynamoDB).
 *
 * Shadow counts: instances heartbeat cumulative counters (routingStats). To answer "since T", every flag change also
 * records the fleet's counters at that moment (a mark in `cutover_routing_stat_marks`, in the flag store's schema);
 * readShadowStats subtracts the newest mark at or before T. Marks are taken when the workflow changes flags, which is
 * where every soak starts, so a soak's counts are never under-counted (a later `since` only widens the window).
 */
import type { MigrationActivities, ShadowStats } from '../../shared/activity-contract';
import { readColumns } from '../../pipeline/row/codec';
import { routingStats, drainBackgroundWrites, type RoutingStats } from '../../routing/control';
import { reconcileFromDynamo } from '../../routing/reconcile';
import { heartbeat, mappingFor, tableId, withHeartbeats, type PartClients } from './common';

const KEYS = ['readsCompared', 'readMismatches', 'shadowWrites', 'shadowWriteErrors', 'backgroundWrites', 'backgroundWriteErrors'] as const;

function shadowOf(s: RoutingStats | ShadowStats): ShadowStats {
  return Object.fromEntries(KEYS.map((k) => [k, s[k]])) as unknown as ShadowStats;
}

/** Builds the routing parts from the worker's clients. */
export function createRoutingParts(c: PartClients): Partial<MigrationActivities> {
  const store = c.flagStore;
  const marks = `\`${store.schema.replace(/`/g, '``')}\`.cutover_routing_stat_marks`;
  let schemaReady: Promise<void> | undefined;
  const ready = (): Promise<void> =>
    (schemaReady ??= (async () => {
      await store.ensureSchema();
      await store.pool.query(`CREATE TABLE IF NOT EXISTS ${marks} (table_id VARCHAR(255) NOT NULL, at DATETIME(6) NOT NULL, stats JSON NOT NULL, PRIMARY KEY (table_id, at))`);
    })().catch((e: unknown) => {
      schemaReady = undefined;
      throw e;
    }));
  const mark = async (id: string): Promise<void> => {
    const s = shadowOf(await routingStats(store, id));
    await store.pool.query(`REPLACE INTO ${marks} (table_id, at, stats) VALUES (?, UTC_TIMESTAMP(6), ?)`, [id, JSON.stringify(s)]);
  };

  return {
    async setRoutingFlags(input) {
      await ready();
      const id = tableId(input.ctx);
      const flags = await store.update(id, { readPercent: input.readPercent, writeMode: input.writeMode, shadowReadFraction: input.shadowReadFraction }, { note: input.cause });
      await mark(id);
      return { version: flags.version };
    },

    async awaitFlagBarrier(input) {
      await ready();
      const started = Date.now();
      const live = await withHeartbeats(() => store.awaitBarrier(tableId(input.ctx), input.version, { timeoutMs: input.timeoutMs }));
      return { version: input.version, instances: live.length, waitedMs: Date.now() - started };
    },

    async readShadowStats(input) {
      await ready();
      const id = tableId(input.ctx);
      const now = shadowOf(await routingStats(store, id));
      const since = new Date(input.since).toISOString().replace('T', ' ').replace('Z', '');
      const [rows] = await store.pool.query(`SELECT stats FROM ${marks} WHERE table_id = ? AND at <= ? ORDER BY at DESC LIMIT 1`, [id, since]);
      const raw = (rows as { stats: unknown }[])[0]?.stats;
      const base = raw === undefined ? undefined : ((typeof raw === 'string' ? JSON.parse(raw) : raw) as ShadowStats);
      // An instance that restarted counts from 0 again: never report a negative count.
      return Object.fromEntries(KEYS.map((k) => [k, Math.max(0, now[k] - (base?.[k] ?? 0))])) as unknown as ShadowStats;
    },

    async drainBackgroundWrites(input) {
      await ready();
      const mapping = await mappingFor(c, input.mappingFile, input.ctx);
      const columns = await readColumns(c.pool, input.ctx.source.database, input.ctx.source.table);
      heartbeat();
      return withHeartbeats(() =>
        drainBackgroundWrites({
          store,
          tableId: tableId(input.ctx),
          timeoutMs: input.timeoutMs,
          reconcile: () => reconcileFromDynamo({ pool: c.pool, dynamo: c.dynamo, mapping, columns, flagStore: store, rebase: true }),
        }),
      );
    },
  };
}
