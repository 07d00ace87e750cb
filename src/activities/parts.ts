/**
 * Activity implementations wired from the pipeline and routing modules that expose a workflow-facing API today:
 * the ETL (src/pipeline/consumer/etl-service.ts) and the routing flag store (src/routing). Each adds only what makes
 * it a Temporal activity: heartbeats (with progress as details) and cancellation through the activity's abort signal.
 * Activities not returned here stay unwired (NotImplementedError naming the owner, see ./migration.ts).
 */
import { Context } from '@temporalio/activity';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'mysql2/promise';
import { ControlStore } from '../pipeline/consumer/control';
import { awaitEtlCatchUp, describeEtl, runEtlSlice, setApplyMode } from '../pipeline/consumer/etl-service';
import { FlagStore } from '../routing/flag-store';
import type { ActivityCtx } from '../shared/activity-contract';
import type { ActivityParts } from './migration';

/** Clients the wired parts use; the worker owns and closes them. */
export interface PartsDeps {
  readonly kafka: Kafka;
  readonly dynamo: DynamoDBClient;
  readonly mysql: Pool;
  /** MySQL schema holding the routing control tables (flags, history, instance heartbeats). */
  readonly controlSchema: string;
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
  return {
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
