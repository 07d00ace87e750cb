/**
 * What cutover asks of an AWS DMS task, generated from its config: table mappings (one selection rule and one
 * map-record-to-record object mapping keyed by primary key per table), task settings (before-images of every
 * column, DDL handling, parallel apply) and the Kafka target endpoint settings that make DMS write the format
 * ./parser.ts reads (JSON, transaction details → stream-position, partition value, control details, alter
 * operations, NULL and empty columns).
 *
 * Invariants: the output is deterministic (same input → same JSON text), so "create or reuse" can compare it, and
 * every field name is the one documented in the AWS DMS User Guide ("Using Apache Kafka as a target", "Table
 * mapping", "Task settings").
 */
import type { KafkaSettings } from '@aws-sdk/client-database-migration-service';

export interface DmsTableRef {
  readonly database: string;
  readonly table: string;
}

/** The TableMappings JSON for the tables. */
export function tableMappings(tables: readonly DmsTableRef[]): string {
  const rules: unknown[] = [];
  tables.forEach((t, i) => {
    const locator = { 'schema-name': t.database, 'table-name': t.table };
    rules.push({ 'rule-type': 'selection', 'rule-id': String(i + 1), 'rule-name': `include-${i + 1}`, 'object-locator': locator, 'rule-action': 'include' });
  });
  tables.forEach((t, i) => {
    const locator = { 'schema-name': t.database, 'table-name': t.table };
    rules.push({
      'rule-type': 'object-mapping', 'rule-id': String(1000 + i + 1), 'rule-name': `map-${i + 1}`, 'rule-action': 'map-record-to-record',
      'object-locator': locator, 'mapping-parameters': { 'partition-key-type': 'primary-key' },
    });
  });
  return JSON.stringify({ rules });
}

/** The ReplicationTaskSettings JSON. */
export function taskSettings(): string {
  return JSON.stringify({
    TargetMetadata: { ParallelApplyThreads: 8, ParallelApplyBufferSize: 100, ParallelApplyQueuesPerThread: 16, ParallelLoadThreads: 8 },
    FullLoadSettings: { TargetTablePrepMode: 'DO_NOTHING' },
    BeforeImageSettings: { EnableBeforeImage: true, FieldName: 'before-image', ColumnFilter: 'all' },
    ChangeProcessingDdlHandlingPolicy: { HandleSourceTableDropped: true, HandleSourceTableTruncated: true, HandleSourceTableAltered: true },
    Logging: { EnableLogging: true },
  });
}

/** The KafkaSettings the target endpoint must have. */
export function kafkaEndpointSettings(broker: string, topic: string): KafkaSettings {
  return {
    Broker: broker,
    Topic: topic,
    MessageFormat: 'json',
    IncludeTransactionDetails: true,
    IncludePartitionValue: true,
    PartitionIncludeSchemaTable: true,
    IncludeTableAlterOperations: true,
    IncludeControlDetails: true,
    IncludeNullAndEmpty: true,
  };
}

/** True when `actual` has every setting of `wanted` with the same value. */
export function kafkaSettingsMatch(actual: KafkaSettings | undefined, wanted: KafkaSettings): boolean {
  if (!actual) return false;
  return (Object.keys(wanted) as (keyof KafkaSettings)[]).every((k) => String(actual[k]).toLowerCase() === String(wanted[k]).toLowerCase());
}

/**
 * A valid DMS task identifier derived from `seed`: letters, digits and single hyphens, starting with a letter,
 * at most 255 characters, stable for the same seed.
 */
export function taskIdentifier(seed: string): string {
  let h = 2166136261;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  const base = seed.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 200);
  return `cutover-${base}-${h.toString(36)}`.replace(/-+/g, '-');
}
