/**
 * The target DynamoDB table: created from the mapping when asked, otherwise checked against it.
 *
 * Invariants: a table holding items is never deleted or recreated unless `dropNonEmpty` is passed explicitly; an
 * existing table whose key schema, key types or GSIs differ from the mapping is an error naming the difference
 * (TargetTableError), never silently used.
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  ScanCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
  type AttributeDefinition,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { SOURCE_ATTR } from '../item';
import { TargetTableError } from '../apply/errors';
import type { CompiledMapping, TargetTable } from '../transform/mapping';

/** What ensureTargetTable may do: create, recreate an empty mismatching table, or (explicitly) drop a full one. */
export interface EnsureTargetOptions {
  /** Create the table when it does not exist (otherwise a missing table is an error). */
  readonly create?: boolean;
  /** Recreate a mismatching table if it is empty. */
  readonly recreateIfEmpty?: boolean;
  /** Also recreate a mismatching table that holds items. Destroys data: only by explicit operator request. */
  readonly dropNonEmpty?: boolean;
  /** Do not scan for the sources' items (emptyForSources is then false unless the table was just created). */
  readonly skipEmptinessCheck?: boolean;
}

/** Whether the table was created and whether it holds any item of the sources. */
export interface EnsureTargetResult {
  readonly table: string;
  readonly created: boolean;
  /** True when the table holds no item of the mappings' sources (a fresh start; see VersionCache.complete). */
  readonly emptyForSources: boolean;
}

/** The CreateTable input a target requires. */
export function createTableInput(t: TargetTable): CreateTableCommandInput {
  const defs = new Map<string, string>([[t.partitionKey.name, t.partitionKey.type]]);
  if (t.sortKey) defs.set(t.sortKey.name, t.sortKey.type);
  for (const g of t.gsis) {
    defs.set(g.partitionKey.name, g.partitionKey.type);
    if (g.sortKey) defs.set(g.sortKey.name, g.sortKey.type);
  }
  const provisioned = t.billingMode === 'PROVISIONED';
  const throughput = (r?: number, w?: number) => (provisioned ? { ProvisionedThroughput: { ReadCapacityUnits: r ?? 5, WriteCapacityUnits: w ?? 5 } } : {});
  return {
    TableName: t.table,
    BillingMode: t.billingMode,
    AttributeDefinitions: [...defs].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType }) as AttributeDefinition),
    KeySchema: [{ AttributeName: t.partitionKey.name, KeyType: 'HASH' }, ...(t.sortKey ? [{ AttributeName: t.sortKey.name, KeyType: 'RANGE' as const }] : [])],
    ...throughput(t.readCapacity, t.writeCapacity),
    GlobalSecondaryIndexes: t.gsis.length
      ? t.gsis.map((g) => ({
          IndexName: g.name,
          KeySchema: [{ AttributeName: g.partitionKey.name, KeyType: 'HASH' as const }, ...(g.sortKey ? [{ AttributeName: g.sortKey.name, KeyType: 'RANGE' as const }] : [])],
          Projection: typeof g.projection === 'string' ? { ProjectionType: g.projection } : { ProjectionType: 'INCLUDE', NonKeyAttributes: [...g.projection.include] },
          ...throughput(g.readCapacity, g.writeCapacity),
        }))
      : undefined,
  };
}

/** Differences between an existing table and what the mapping requires (empty when it matches). */
export function tableDifferences(t: TargetTable, d: TableDescription): string[] {
  const diffs: string[] = [];
  const type = (name: string) => d.AttributeDefinitions?.find((a) => a.AttributeName === name)?.AttributeType;
  const key = (ks: { AttributeName?: string; KeyType?: string }[] | undefined, kind: string) => ks?.find((k) => k.KeyType === kind)?.AttributeName;
  if (key(d.KeySchema, 'HASH') !== t.partitionKey.name) diffs.push(`partition key is ${key(d.KeySchema, 'HASH')}, mapping wants ${t.partitionKey.name}`);
  else if (type(t.partitionKey.name) !== t.partitionKey.type) diffs.push(`partition key type is ${type(t.partitionKey.name)}, mapping wants ${t.partitionKey.type}`);
  if (key(d.KeySchema, 'RANGE') !== t.sortKey?.name) diffs.push(`sort key is ${key(d.KeySchema, 'RANGE') ?? 'none'}, mapping wants ${t.sortKey?.name ?? 'none'}`);
  else if (t.sortKey && type(t.sortKey.name) !== t.sortKey.type) diffs.push(`sort key type is ${type(t.sortKey.name)}, mapping wants ${t.sortKey.type}`);
  for (const g of t.gsis) {
    const e = d.GlobalSecondaryIndexes?.find((x) => x.IndexName === g.name);
    if (!e) diffs.push(`GSI ${g.name} is missing`);
    else if (key(e.KeySchema, 'HASH') !== g.partitionKey.name || key(e.KeySchema, 'RANGE') !== g.sortKey?.name) diffs.push(`GSI ${g.name} has another key schema`);
  }
  const billing = d.BillingModeSummary?.BillingMode;
  if (billing && billing !== t.billingMode) diffs.push(`billing mode is ${billing}, mapping wants ${t.billingMode}`);
  return diffs;
}

async function describe(client: DynamoDBClient, table: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: table }))).Table;
  } catch (e) {
    if ((e as Error).name === 'ResourceNotFoundException') return undefined;
    throw e;
  }
}

/** True when `table` holds no item at all (`sources` undefined) or no item whose _src is one of `sources`. */
export async function tableIsEmpty(client: DynamoDBClient, table: string, sources?: readonly string[]): Promise<boolean> {
  let start: Record<string, never> | undefined;
  do {
    const r = await client.send(
      new ScanCommand({
        TableName: table,
        ExclusiveStartKey: start,
        Limit: sources ? 1000 : 1,
        ...(sources
          ? {
              FilterExpression: `#s IN (${sources.map((_, i) => `:s${i}`).join(', ')})`,
              ExpressionAttributeNames: { '#s': SOURCE_ATTR },
              ExpressionAttributeValues: Object.fromEntries(sources.map((s, i) => [`:s${i}`, { S: s }])),
            }
          : {}),
      }),
    );
    if ((r.Count ?? 0) > 0) return false;
    if (!sources) return true;
    start = r.LastEvaluatedKey as typeof start;
  } while (start);
  return true;
}

/** Creates or checks the target table of `mappings` (which must share one target; see validateSharedTargets). */
export async function ensureTargetTable(client: DynamoDBClient, mappings: readonly CompiledMapping[], opts: EnsureTargetOptions = {}): Promise<EnsureTargetResult> {
  const t = mappings[0].target;
  const sources = mappings.map((m) => m.sourceId);
  let d = await describe(client, t.table);
  let created = false;
  if (d) {
    const diffs = tableDifferences(t, d);
    if (diffs.length) {
      const empty = await tableIsEmpty(client, t.table);
      if (!(opts.dropNonEmpty || (empty && opts.recreateIfEmpty))) {
        throw new TargetTableError(`does not match the mapping (${diffs.join('; ')})${empty ? '; pass recreateIfEmpty to recreate it' : '; it holds items and is never dropped without dropNonEmpty'}`, t.table);
      }
      await client.send(new DeleteTableCommand({ TableName: t.table }));
      await waitUntilTableNotExists({ client, maxWaitTime: 120 }, { TableName: t.table });
      d = undefined;
    }
  }
  if (!d) {
    if (!opts.create && !opts.recreateIfEmpty && !opts.dropNonEmpty) throw new TargetTableError('does not exist (pass create to create it from the mapping)', t.table);
    try {
      await client.send(new CreateTableCommand(createTableInput(t)));
      created = true;
    } catch (e) {
      if ((e as Error).name !== 'ResourceInUseException') throw e; // another worker created it meanwhile
    }
    await waitUntilTableExists({ client, maxWaitTime: 120 }, { TableName: t.table });
    const again = await describe(client, t.table);
    const diffs = again ? tableDifferences(t, again) : ['missing after create'];
    if (diffs.length) throw new TargetTableError(`was created concurrently with another schema (${diffs.join('; ')})`, t.table);
  }
  return { table: t.table, created, emptyForSources: created || (!opts.skipEmptinessCheck && (await tableIsEmpty(client, t.table, sources))) };
}
