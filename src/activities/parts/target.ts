/**
 * ensureTarget, cleanup and abortCleanup: the target table (src/pipeline/target), tombstone cleanup after completion
 * (src/pipeline/apply/cleanup) and removing exactly what an aborted migration created. The source is never touched;
 * a target table is dropped only when this migration created it and the operator asked (`dropTarget`) or it holds
 * no item of the source.
 */
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import type { MigrationActivities } from '../../shared/activity-contract';
import { cleanupTombstones } from '../../pipeline/apply/cleanup';
import { permissionErrorOf } from '../../pipeline/target/permissions';
import { ensureTargetTable, tableIsEmpty } from '../../pipeline/target/table';
import { cdcSourceOf } from './cdc';
import { cancellation, heartbeat, mappingFor, mappingsFor, withHeartbeats, type PartClients } from './common';

/** Builds the target-table parts from the worker's clients. */
export function createTargetParts(c: PartClients): Partial<MigrationActivities> {
  return {
    async ensureTarget(input) {
      const mapping = await mappingFor(c, input.mappingFile, input.ctx);
      const sharing = (await mappingsFor(c, input.mappingFile, input.ctx)).filter((m) => m.targetTable === mapping.targetTable);
      // The ETL control table too, so that a denied CreateTable (which preflight cannot prove on a missing table) stops
      // the migration here, before CDC starts, named as a DynamoPermissionError.
      await c.etlControl.ensureTable().catch((e: unknown) => {
        throw permissionErrorOf(e, 'CreateTable', c.etlControl.table, 'control') ?? e;
      });
      const r = await ensureTargetTable(c.dynamo, sharing, { create: input.create }).catch((e: unknown) => {
        throw permissionErrorOf(e, 'CreateTable', mapping.targetTable, 'target') ?? e;
      });
      return { targetTable: r.table, created: r.created };
    },

    async cleanup(input) {
      const mapping = await mappingFor(c, input.mappingFile, input.ctx);
      const r = await withHeartbeats(() => cleanupTombstones(c.dynamo, [mapping], { signal: cancellation() }));
      return { tombstonesDeleted: r.removed };
    },

    async abortCleanup(input) {
      const removed: string[] = [];
      const kept: string[] = [];
      const { created } = input;
      if (created.cdcId) {
        const s = await cdcSourceOf(c, input.cdc).stop(created.cdcId);
        (s.state === 'stopped' ? removed : kept).push(`CDC task ${created.cdcId} (${s.state})`);
      }
      heartbeat();
      if (created.topic) {
        if (created.createdTopic) {
          const admin = c.kafka.admin();
          await admin.connect();
          try {
            const topics = await admin.listTopics();
            const gone = [created.topic, `${created.topic}.dlq`].filter((t) => topics.includes(t));
            if (gone.length) await admin.deleteTopics({ topics: gone });
            removed.push(...gone.map((t) => `topic ${t}`));
          } finally {
            await admin.disconnect();
          }
        } else kept.push(`topic ${created.topic} (not created by this migration)`);
      }
      if (created.targetTable) {
        const mapping = await mappingFor(c, input.mappingFile, input.ctx);
        const empty = await tableIsEmpty(c.dynamo, created.targetTable, [mapping.sourceId]).catch(() => false);
        if (created.createdTarget && (input.dropTarget || empty)) {
          await c.dynamo.send(new DeleteTableCommand({ TableName: created.targetTable })).catch((e: Error) => {
            if (e.name !== 'ResourceNotFoundException') throw e;
          });
          removed.push(`target table ${created.targetTable}`);
        } else kept.push(`target table ${created.targetTable} (${created.createdTarget ? 'holds items; pass dropTarget to drop it' : 'not created by this migration'})`);
      }
      return { removed, kept };
    },
  };
}
