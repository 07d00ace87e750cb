/**
 * Activity implementations wired from the pipeline and routing modules that expose a workflow-facing API today:
 * the ETL (src/pipeline/consumer/etl-service.ts), built-in CDC's task control (src/pipeline/cdc/source.ts: the
 * readers themselves run in `src/workers/cdc.ts` processes) and the routing flag store (src/routing). Each adds only what makes
 * it a Temporal activity: heartbeats (with progress as details) and cancellation through the activity's abort signal.
 * Activities not returned here stay unwired (NotImplementedError naming the owner, see ./migration.ts).
 */
import { Context } from '@temporalio/activity';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'mysql2/promise';
import { CheckpointStore } from '../pipeline/cdc/checkpoint';
import { BuiltinCdcSource } from '../pipeline/cdc/source';
import { ControlStore } from '../pipeline/consumer/control';
import { awaitEtlCatchUp, describeEtl, runEtlSlice, setApplyMode } from '../pipeline/consumer/etl-service';
import { FlagStore } from '../routing/flag-store';
import type { ActivityCtx } from '../shared/activity-contract';
import { NotImplementedError } from '../shared/errors';
import type { ActivityParts } from './migration';

/** Clients the wired parts use; the worker owns and closes them. */
export interface PartsDeps {
  readonly kafka: Kafka;
  readonly dynamo: DynamoDBClient;
  readonly mysql: Pool;
  /** MySQL schema holding the routing control tables (flags, history, instance heartbeats). */
  readonly controlSchema: string;
  /** MySQL schema holding the built-in CDC task table (the one `src/workers/cdc.ts` processes read). */
  readonly cdcMetaSchema: string;
}

/** The routing layer's id of a source table. */
function tableIdOf(ctx: ActivityCtx): string {
  return `${ctx.source.database}.${ctx.source.table}`;
}

function heartbeat(details?: unknown): void {
  Context.current().heartbeat(details);
}

/** ETL and routing-flag activities. */
export function wiredParts(deps: PartsDeps): ActivityParts {
  const etl = { kafka: deps.kafka, client: deps.dynamo, control: new ControlStore(deps.dynamo) };
  const flags = new FlagStore(deps.mysql, deps.controlSchema);
  let schemaReady: Promise<void> | undefined;
  const store = async () => {
    schemaReady ??= flags.ensureSchema();
    await schemaReady;
    return flags;
  };
  const cdc = new BuiltinCdcSource({ db: deps.mysql, store: new CheckpointStore(deps.mysql, deps.cdcMetaSchema), kafka: deps.kafka });
  const builtinOnly = (source: string) => {
    if (source !== 'builtin') throw new NotImplementedError('startCdc', `cdc.source ${source}: the AWS DMS adapter is not wired into the worker yet`);
  };
  return {
    startCdc: async (input) => {
      builtinOnly(input.cdc.source);
      return cdc.start({ cdcId: input.resumeCdcId, tables: [input.ctx.source], topic: input.cdc.topic, partitions: input.cdc.partitions });
    },
    describeCdc: async (input) => {
      builtinOnly(input.cdc.source);
      const { perTable: _perTable, ...d } = await cdc.describe(input.cdcId);
      return d;
    },
    stopCdc: async (input) => {
      builtinOnly(input.cdc.source);
      return cdc.stop(input.cdcId);
    },
    runEtl: (input) =>
      runEtlSlice(etl, input, { signal: Context.current().cancellationSignal, heartbeat: (p) => heartbeat({ events: p.events, deadLettered: p.deadLettered }) }),
    describeEtl: (input) => describeEtl(etl, input),
    awaitEtlCatchUp: (input) => awaitEtlCatchUp(etl, input, { signal: Context.current().cancellationSignal, heartbeat: (lag) => heartbeat({ lagEvents: lag }) }),
    setApplyMode: async (input) => {
      const beat = setInterval(() => heartbeat(), 5_000);
      try {
        return await setApplyMode(etl, input, Context.current().cancellationSignal);
      } finally {
        clearInterval(beat);
      }
    },
    setRoutingFlags: async (input) => {
      const s = await store();
      const f = await s.update(tableIdOf(input.ctx), { readPercent: input.readPercent, writeMode: input.writeMode, shadowReadFraction: input.shadowReadFraction }, { note: input.cause });
      return { version: f.version };
    },
    awaitFlagBarrier: async (input) => {
      const s = await store();
      const started = Date.now();
      const beat = setInterval(() => heartbeat(), 5_000);
      try {
        const live = await s.awaitBarrier(tableIdOf(input.ctx), input.version, { timeoutMs: input.timeoutMs });
        return { version: input.version, instances: live.length, waitedMs: Date.now() - started };
      } finally {
        clearInterval(beat);
      }
    },
  };
}
