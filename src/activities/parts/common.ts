/**
 * What every activity part is built from (the worker's clients, built once in src/workers/activities.ts) and the few
 * Temporal helpers the parts share: heartbeat, heartbeat details to resume from, the cancellation signal, and the
 * table's compiled mapping. No business logic: each part translates a contract call into one pipeline/routing call.
 */
import { Context } from '@temporalio/activity';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import type * as mysql from 'mysql2/promise';
import type { ActivityCtx } from '../../shared/activity-contract';
import { ConfigError } from '../../shared/errors';
import type { CheckpointStore } from '../../pipeline/cdc/checkpoint';
import type { ControlStore } from '../../pipeline/consumer/control';
import { readColumns } from '../../pipeline/row/codec';
import { loadMappingFile, type CompiledMapping } from '../../pipeline/transform/mapping';
import type { FlagStore } from '../../routing/flag-store';

/** The clients and settings every part shares; the worker owns and closes them. */
export interface PartClients {
  /** Source pool created with ROW_QUERY_OPTIONS (exact types, JSON as text), no default database. */
  readonly pool: mysql.Pool;
  readonly dynamo: DynamoDBClient;
  readonly kafka: Kafka;
  /** The durable CDC task table (in `cdcMetaDb`). */
  readonly cdcStore: CheckpointStore;
  readonly cdcMetaDb: string;
  /** The ETL group's control table (apply mode, leases, member reports). */
  readonly etlControl: ControlStore;
  /** Routing flags, history and instance heartbeats (the schema the application's MigratingTable uses). */
  readonly flagStore: FlagStore;
  /** Where verification reports and their mismatch lists are written; must be readable by every worker. */
  readonly reportDir: string;
  /** How long startCdc waits for some CDC host (a worker or `npm run cdc`) to hold a new task's lease. */
  readonly cdcClaimTimeoutMs: number;
}

/** True inside a Temporal activity (parts are also callable directly, e.g. from scripts). */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** Heartbeats `details` (a progress object of the contract) when running as an activity. */
export function heartbeat(details?: unknown): void {
  activityContext()?.heartbeat(details);
}

/** The details of the last heartbeat of a previous attempt, to resume from. */
export function lastHeartbeat<T>(): T | undefined {
  return activityContext()?.info.heartbeatDetails as T | undefined;
}

/** Aborted when the workflow cancels this activity (noticed at the next heartbeat). */
export function cancellation(): AbortSignal | undefined {
  return activityContext()?.cancellationSignal;
}

/** Heartbeats every `ms` while `work` runs (for waits that have no progress callback). */
export async function withHeartbeats<T>(work: () => Promise<T>, details: () => unknown = () => undefined, ms = 5_000): Promise<T> {
  const t = setInterval(() => heartbeat(details()), ms);
  try {
    heartbeat(details());
    return await work();
  } finally {
    clearInterval(t);
  }
}

/** "schema.table": the routing table id and every item's _src. */
export function tableId(ctx: ActivityCtx): string {
  return `${ctx.source.database}.${ctx.source.table}`;
}

/** Every mapping of `file`, compiled with the source columns of `ctx`'s table. */
export async function mappingsFor(c: PartClients, file: string, ctx: ActivityCtx): Promise<CompiledMapping[]> {
  const columns = await readColumns(c.pool, ctx.source.database, ctx.source.table);
  return loadMappingFile(file, (id) => (id === tableId(ctx) ? columns : undefined));
}

/** The mapping of `ctx`'s table in `file`; ConfigError naming the file and table when it has none. */
export async function mappingFor(c: PartClients, file: string, ctx: ActivityCtx): Promise<CompiledMapping> {
  const m = (await mappingsFor(c, file, ctx)).find((x) => x.sourceId === tableId(ctx));
  if (!m) throw new ConfigError('the mapping file has no entry for this table', file, tableId(ctx), 'tables[].source');
  return m;
}
