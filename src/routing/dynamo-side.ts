/**
 * The DynamoDB half of a migrating table: consistent reads that hide tombstones and other sources' items, the
 * version-guarded shadow write of the MySQL-primary mode, and the optimistic-concurrency write of the DynamoDB-primary
 * modes.
 *
 * Invariants:
 *  - No write here lowers an item's _v: `putIfNewer` is conditional on `_v < :v` (or no _v), `putIfVersion` on the
 *    exact _v read (or absence) and always writes a higher version.
 *  - Every item written carries _v and _src; a delete writes a tombstone (_del = true) so that no later copy with a
 *    lower version can resurrect the row.
 */
import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { isLive, itemVersion, SOURCE_ATTR, TOMBSTONE_ATTR, VERSION_ATTR, type Item } from '../pipeline/item';
import type { RoutingMapping } from './mapping';

/** A consistent read of one item: the raw item (tombstones included) for version checks. */
export interface ItemRead {
  readonly raw: Item | undefined;
  readonly live: Item | undefined;
  readonly version: string | undefined;
}

export class DynamoSide {
  constructor(
    readonly client: DynamoDBClient,
    readonly mapping: RoutingMapping,
  ) {}

  /** Strongly consistent read of the item for `keyItem`; an item of another source table counts as absent. */
  async read(keyItem: Item): Promise<ItemRead> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.mapping.targetTable, Key: keyItem, ConsistentRead: true }));
    const raw = out.Item && out.Item[SOURCE_ATTR]?.S === this.mapping.sourceId ? out.Item : undefined;
    return { raw, live: isLive(raw) ? raw : undefined, version: itemVersion(raw) };
  }

  /** Every live item of this source in the partition `pkValue`, in sort-key order (consistent, all pages). */
  async queryPartition(pkValue: AttributeValue): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.mapping.targetTable,
          KeyConditionExpression: '#pk = :pk',
          FilterExpression: '#src = :src AND (attribute_not_exists(#del) OR #del = :f)',
          ExpressionAttributeNames: { '#pk': this.mapping.partitionKey, '#src': SOURCE_ATTR, '#del': TOMBSTONE_ATTR },
          ExpressionAttributeValues: { ':pk': pkValue, ':src': { S: this.mapping.sourceId }, ':f': { BOOL: false } },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** The full item to write for `userItem` (or a tombstone for `keyItem` when userItem is undefined) at `version`. */
  stamp(keyItem: Item, userItem: Item | undefined, version: string): Item {
    const base = userItem ? { ...userItem } : { ...keyItem, [TOMBSTONE_ATTR]: { BOOL: true } };
    return { ...base, [VERSION_ATTR]: { N: version }, [SOURCE_ATTR]: { S: this.mapping.sourceId } };
  }

  /** Writes `item` unless the stored item already has a version ≥ its _v. Returns whether it was written. */
  async putIfNewer(item: Item): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.mapping.targetTable,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#v) OR #v < :v',
          ExpressionAttributeNames: { '#v': VERSION_ATTR },
          ExpressionAttributeValues: { ':v': item[VERSION_ATTR] },
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  /**
   * The one-round-trip DynamoDB-first write: `item` (stamped with a fresh direct version) lands only if the stored
   * version is lower and, for `insert`, no live item exists, for `delete`, a live item exists. Returns false when the
   * condition failed for any reason; the caller then takes the read-based path, which tells the reasons apart.
   */
  async putFast(item: Item, kind: 'put' | 'insert' | 'delete'): Promise<boolean> {
    const cond = {
      put: 'attribute_not_exists(#v) OR #v < :v',
      insert: 'attribute_not_exists(#v) OR (#v < :v AND #del = :t)',
      delete: '#v < :v AND (attribute_not_exists(#del) OR #del <> :t)',
    }[kind];
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.mapping.targetTable,
          Item: item,
          ConditionExpression: cond,
          ExpressionAttributeNames: kind === 'put' ? { '#v': VERSION_ATTR } : { '#v': VERSION_ATTR, '#del': TOMBSTONE_ATTR },
          ExpressionAttributeValues: kind === 'put' ? { ':v': item[VERSION_ATTR] } : { ':v': item[VERSION_ATTR], ':t': { BOOL: true } },
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  /**
   * Writes `item` only if the stored item's version is still `expected` (undefined: no item, or an item without a
   * version). Returns false when someone else wrote first (the caller re-reads and retries).
   */
  async putIfVersion(item: Item, expected: string | undefined): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.mapping.targetTable,
          Item: item,
          ConditionExpression: expected === undefined ? 'attribute_not_exists(#v)' : '#v = :cur',
          ExpressionAttributeNames: { '#v': VERSION_ATTR },
          ExpressionAttributeValues: expected === undefined ? undefined : { ':cur': { N: expected } },
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }
}
