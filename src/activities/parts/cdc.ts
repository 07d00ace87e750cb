/**
 * CDC activities: preflight, startCdc, describeCdc, stopCdc, drainCdc, over src/pipeline/cdc (BuiltinCdcSource or
 * DmsCdcSource behind the CdcSource contract) and the ETL group's lag (src/pipeline/consumer).
 *
 * Where the built-in reader runs: NOT in these activities. startCdc only creates (or resumes) the durable task record
 * and returns once some CDC host holds its lease — every worker process hosts a CdcRuntime that claims running tasks
 * from the task table (src/workers/activities.ts), and `npm run cdc` processes do the same. A dead host's task is taken
 * over by another once its lease expires, so nothing assumes a single worker.
 */
import { DatabaseMigrationServiceClient } from '@aws-sdk/client-database-migration-service';
import type { CdcConfig, TableRef } from '../../shared/migration-config';
import type { CdcDescription, MigrationActivities, StartCdcResult } from '../../shared/activity-contract';
import { ConfigError, TransientError } from '../../shared/errors';
import { serviceEnv } from '../../infra/env';
import { waitForServices } from '../../infra/reachability';
import { estimateRows } from '../../pipeline/backfill/backfill';
import { tableSpec } from '../../pipeline/backfill/keyset';
import { formatPosition } from '../../pipeline/cdc/checkpoint';
import { DmsCdcSource } from '../../pipeline/cdc/dms-source';
import { assertSourceReady } from '../../pipeline/cdc/preflight';
import { assertDynamoPermissions, migrationPermissionTargets } from '../../pipeline/target/permissions';
import { BuiltinCdcSource, currentPosition, defaultCdcId, type CdcSource } from '../../pipeline/cdc/source';
import { describeEtl } from '../../pipeline/consumer/etl-service';
import { readColumns } from '../../pipeline/row/codec';
import { cancellation, heartbeat, mappingFor, withHeartbeats, type PartClients } from './common';

/** The CdcSource a table's config names. */
export function cdcSourceOf(c: PartClients, cdc: CdcConfig): CdcSource {
  if (cdc.source === 'builtin') return new BuiltinCdcSource({ db: c.pool, store: c.cdcStore, kafka: c.kafka });
  if (!cdc.dms) throw new ConfigError('cdc.source is dms but cdc.dms (ARNs) is missing', undefined, undefined, 'cdc.dms');
  return new DmsCdcSource(new DatabaseMigrationServiceClient({ region: serviceEnv().awsRegion }), { ...cdc.dms, broker: serviceEnv().kafkaBrokers.join(',') });
}

/** The id startCdc gives a table's built-in task (deterministic, so retries and other activities find it). */
export function cdcIdOf(source: TableRef, topic: string): string {
  return defaultCdcId({ tables: [source], topic });
}

const strip = ({ state, publishedPosition, lagSeconds, counts, error }: CdcDescription): CdcDescription => ({ state, publishedPosition, lagSeconds, counts, ...(error ? { error } : {}) });

/** Builds the CDC parts from the worker's clients. */
export function createCdcParts(c: PartClients): Partial<MigrationActivities> {
  return {
    async preflight(input) {
      const t = input.ctx.source;
      // This worker's credentials and endpoints first: one error naming service, endpoint and setting, nothing read.
      // Missing credentials fail at once; a service not answering is re-probed for up to 10 s (a blip is not a failure).
      await waitForServices(['mysql', 'kafka', 'dynamodb', ...(input.cdc.source === 'dms' ? (['dms'] as const) : [])], { maxWaitMs: 10_000, timeoutMs: 5_000 });
      const checks = await assertSourceReady(c.pool, [t]);
      const mapping = await mappingFor(c, input.mappingFile, input.ctx);
      const spec = tableSpec(t.database, t.table, await readColumns(c.pool, t.database, t.table));
      // DynamoDB: every permission the target and the ETL control table need, proven without changing anything; all
      // missing ones in one DynamoPermissionError (src/pipeline/target/permissions.ts).
      const dynamo = await assertDynamoPermissions(c.dynamo, migrationPermissionTargets(mapping.target, c.etlControl.table));
      return {
        checks: [
          ...checks.map(({ name, ok, detail }) => ({ name, ok, detail })),
          { name: 'mapping', ok: true, detail: `${input.mappingFile} maps ${mapping.sourceId} → ${mapping.targetTable}` },
          ...dynamo.map((d) => ({ name: `dynamodb:${d.action} on table ${d.table}`, ok: d.granted, detail: d.detail })),
        ],
        primaryKey: mapping.source.primaryKey,
        estimatedRows: await estimateRows(c.pool, spec),
        sourcePosition: formatPosition(await currentPosition(c.pool)) ?? '',
        targetTable: mapping.targetTable,
      };
    },

    async startCdc(input): Promise<StartCdcResult> {
      const source = cdcSourceOf(c, input.cdc);
      const cdcId = input.resumeCdcId ?? (input.cdc.source === 'builtin' ? cdcIdOf(input.ctx.source, input.cdc.topic) : undefined);
      const r = await source.start({ cdcId, tables: [input.ctx.source], topic: input.cdc.topic, partitions: input.cdc.partitions });
      if (input.resumeCdcId) await source.resume(r.cdcId);
      // DMS: start() itself waits for the task; the caller's describeCdc follows it from there.
      if (input.cdc.source !== 'builtin') return r;
      // Built-in: wait until a host runs the reader, so every change after startPosition reaches the topic.
      const deadline = Date.now() + c.cdcClaimTimeoutMs;
      for (;;) {
        const d = await source.describe(r.cdcId);
        if (d.state === 'running') return r;
        if (d.state === 'failed') throw new TransientError(`CDC task ${r.cdcId} failed: ${d.error ?? 'no reason recorded'} (resume it after fixing the cause)`);
        if (Date.now() > deadline) throw new TransientError(`no CDC host claimed task ${r.cdcId} within ${c.cdcClaimTimeoutMs} ms: is a worker or \`npm run cdc\` running against this metadata database?`);
        heartbeat();
        await new Promise((res) => setTimeout(res, 250));
      }
    },

    async describeCdc(input) {
      return strip(await cdcSourceOf(c, input.cdc).describe(input.cdcId));
    },

    async stopCdc(input) {
      return cdcSourceOf(c, input.cdc).stop(input.cdcId);
    },

    async drainCdc(input) {
      // describe() calls can stall while a service is slow: heartbeat from a timer too, with the newest result.
      let last: unknown;
      return withHeartbeats(() => drain(input, (r) => heartbeat((last = r))), () => last);
    },
  };

  async function drain(input: Parameters<MigrationActivities['drainCdc']>[0], beat: (r: unknown) => void): ReturnType<MigrationActivities['drainCdc']> {
    const source = cdcSourceOf(c, input.cdc);
    const key = `${input.ctx.source.database}.${input.ctx.source.table}`;
    const signal = cancellation();
    const started = Date.now();
    // The quiet period must fit in one call: the slice is stretched to cover it.
    const deadline = started + Math.max(input.sliceMs, input.quietMs * 2 + 5_000);
    let lastCount = -1;
    let quietSince = started;
    for (;;) {
      const d = await source.describe(input.cdcId);
      const pt = d.perTable[key] ?? { loads: 0, inserts: 0, updates: 0, deletes: 0 };
      const count = pt.inserts + pt.updates + pt.deletes;
      if (count !== lastCount) {
        if (lastCount !== -1) quietSince = Date.now();
        lastCount = count;
      }
      const etl = await describeEtl({ kafka: c.kafka, client: c.dynamo, control: c.etlControl }, { topic: input.cdc.topic, group: input.group });
      const quietForMs = Date.now() - quietSince;
      const result = { drained: quietForMs >= input.quietMs && etl.lagEvents === 0 && d.lagSeconds <= 1, quietForMs, etlLagEvents: etl.lagEvents, lastEventPosition: d.publishedPosition };
      beat(result);
      if (result.drained) return { ...result, stoppedBy: 'done' as const };
      if (signal?.aborted) return { ...result, stoppedBy: 'cancelled' as const };
      if (Date.now() > deadline) return { ...result, stoppedBy: 'slice-elapsed' as const };
      await new Promise((res) => setTimeout(res, 500));
    }
  }
}
