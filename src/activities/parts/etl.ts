/**
 * ETL activities over src/pipeline/consumer/etl-service: runEtl (one group member for a slice; pause/abort arrive as
 * cancellation and stop it gracefully, committing only durable offsets), describeEtl, awaitEtlCatchUp, setApplyMode.
 * A member consumes as many partitions concurrently as the topic has (a single member then keeps every partition
 * moving); more members (more runEtl activities or `npm run etl` processes) split them.
 */
import type { AwaitEtlCatchUpResult, MigrationActivities } from '../../shared/activity-contract';
import { formatPosition } from '../../pipeline/cdc/checkpoint';
import { currentPosition } from '../../pipeline/cdc/source';
import { awaitEtlCatchUp, describeEtl, runEtlSlice, setApplyMode, type EtlServiceDeps } from '../../pipeline/consumer/etl-service';
import { positionSeq } from '../../pipeline/verify/applied-probe';
import { cdcIdOf } from './cdc';
import { cancellation, heartbeat, mappingFor, withHeartbeats, type PartClients } from './common';

async function partitionCount(c: PartClients, topic: string): Promise<number> {
  const admin = c.kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).length;
  } finally {
    await admin.disconnect();
  }
}

/** Builds the ETL parts from the worker's clients. */
export function createEtlParts(c: PartClients): Partial<MigrationActivities> {
  const deps: EtlServiceDeps = { kafka: c.kafka, client: c.dynamo, control: c.etlControl };
  return {
    async runEtl(input) {
      // Compiled with the source's columns, exactly as verify and the routing layer compile them: without them a
      // column whose conversion depends on its SQL type (BIGINT as N, say) would map differently.
      const mappings = [await mappingFor(c, input.mappingFile, input.ctx)]; // this table's topic carries only its events
      const partitions = Math.max(1, await partitionCount(c, input.topic));
      let last: unknown;
      return withHeartbeats(
        () =>
          runEtlSlice(deps, { mappingFile: input.mappingFile, topic: input.topic, group: input.group, sliceMs: input.sliceMs, maxDlqEvents: input.maxDlqEvents, mappings, partitionsConsumedConcurrently: partitions }, {
            signal: cancellation(),
            heartbeat: (p) => {
              last = { appliedEvents: p.events, dlqEvents: p.deadLettered };
              heartbeat(last);
            },
          }),
        () => last,
      );
    },

    describeEtl(input) {
      return describeEtl(deps, { topic: input.topic, group: input.group });
    },

    async awaitEtlCatchUp(input): Promise<AwaitEtlCatchUpResult> {
      // Kafka admin calls can stall for their whole retry budget when the broker is slow: heartbeat from a timer too.
      let last: { lagEvents: number } = { lagEvents: -1 };
      return withHeartbeats(() => catchUp(input, (lagEvents) => heartbeat((last = { lagEvents }))), () => last);
    },

    setApplyMode(input) {
      return withHeartbeats(() => setApplyMode(deps, { group: input.group, mode: input.mode, timeoutMs: input.timeoutMs }, cancellation()));
    },
  };

  async function catchUp(input: Parameters<MigrationActivities['awaitEtlCatchUp']>[0], beat: (lagEvents: number) => void): Promise<AwaitEtlCatchUpResult> {
    const signal = cancellation();
    if (input.through === 'source-now') {
      // First wait until CDC has published everything the source had committed when the call started.
      const target = positionSeq(formatPosition(await currentPosition(c.pool))) ?? 0n;
      const deadline = Date.now() + input.sliceMs;
      const cdcId = input.ctx ? cdcIdOf(input.ctx.source, input.topic) : undefined;
      for (;;) {
        const rec = cdcId ? await c.cdcStore.get(cdcId) : undefined;
        const at = positionSeq(formatPosition(rec?.position ?? null)) ?? 0n;
        beat(-1);
        if (!rec || at >= target) break;
        if (signal?.aborted) return { caughtUp: false, throughPosition: target.toString(), lagEvents: -1, stoppedBy: 'cancelled' };
        if (Date.now() > deadline) return { caughtUp: false, throughPosition: target.toString(), lagEvents: -1, stoppedBy: 'slice-elapsed' };
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return awaitEtlCatchUp(deps, { topic: input.topic, group: input.group, maxLagEvents: input.maxLagEvents, sliceMs: input.sliceMs }, { signal, heartbeat: beat });
  }
}
