/**
 * The ETL group's control state, in a small DynamoDB table (one per deployment, default `cutover_etl_control`):
 *
 *   group|<group>                     mode ('exclusive'|'shared'), modeVersion (increasing), everShared, fresh
 *   member|<group>|<member>           the mode version a live consumer process runs, and when it said so
 *   lease|<group>|<topic>|<partition> owner, epoch (increasing per takeover), expiresAt (ms, writer's clock), released
 *   rebuild|<group>                   topic, tables, since: a `--rebuild --truncate-target` began deleting and has not
 *                                     yet reset the group's offsets (../target/rebuild.ts)
 *
 * Invariants:
 * - A partition's lease has at most one unexpired, unreleased owner; a takeover needs the previous lease released or
 *   expired by more than `skewMs`, and bumps the epoch (conditional on the epoch read).
 * - `guardOf(lease)` passes only until `duration − margin` after the renewal request was SENT (monotonic clock), so
 *   the last blind write a holder issues precedes its expiry by `margin`; see docs/design.md "Apply" for what this
 *   assumes (clock skew ≤ skewMs, a request lands within margin).
 * - While `rebuild|<group>` exists no consumer of the group starts: `initGroup`, the first call of every consumer's
 *   start, throws RebuildPendingError (naming the group and the command that finishes the rebuild). The marker is
 *   written before the rebuild's first delete and removed only after its offset reset.
 * - `awaitMode(v)` returns only when every unexpired, unreleased lease belongs to a member that acknowledged mode
 *   version ≥ v; a consumer acknowledges only after its last batch in the previous mode is durable, and reads the
 *   mode after acquiring a lease, so no write in the old mode can follow awaitMode's return.
 */
import {
  BatchGetItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
  waitUntilTableExists,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { performance } from 'node:perf_hooks';
import type { ApplyMode } from '../../shared/phases';
import { LeaseLostError } from '../apply/errors';
import { RebuildPendingError } from './errors';
import { sleep } from '../apply/throttle';

/** The control table's default name (one per deployment; every group keys its items by name). */
export const DEFAULT_CONTROL_TABLE = 'cutover_etl_control';

/** A group's durable settings. */
export interface GroupState {
  readonly mode: ApplyMode;
  readonly modeVersion: number;
  /** The group ever ran in shared mode (others may have written its keys). */
  readonly everShared: boolean;
  /** The target held no item of the group's sources when the group was initialised. */
  readonly fresh: boolean;
}

/** A held partition lease; `validUntil` bounds blind writes. */
export interface Lease {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly owner: string;
  readonly epoch: number;
  /** Monotonic time (performance.now) until which blind writes may be issued. */
  validUntil: number;
}

/** Lease timing: duration, the blind-write margin before expiry, and the assumed clock skew. */
export interface LeaseOptions {
  readonly durationMs: number;
  /** Blind writes stop this long before the lease expires. */
  readonly marginMs: number;
  /** Assumed bound on clock difference between consumer hosts. */
  readonly skewMs: number;
}

/** 30 s leases, blind writes stop 10 s before expiry, 2 s clock skew assumed. */
export const DEFAULT_LEASE: LeaseOptions = { durationMs: 30_000, marginMs: 10_000, skewMs: 2_000 };

const S = (s: string): AttributeValue => ({ S: s });
const groupStateOf = (i: Record<string, AttributeValue>): GroupState => ({ mode: i.mode.S as ApplyMode, modeVersion: Number(i.modeVersion.N), everShared: i.everShared?.BOOL === true, fresh: i.fresh?.BOOL === true });
const N = (n: number): AttributeValue => ({ N: String(n) });

/** Reads and writes the control table; see the module invariants. */
export class ControlStore {
  constructor(
    private readonly client: DynamoDBClient,
    readonly table: string = DEFAULT_CONTROL_TABLE,
    readonly lease: LeaseOptions = DEFAULT_LEASE,
  ) {}

  /** Creates the control table if it does not exist. */
  async ensureTable(): Promise<void> {
    // Described first, so an existing table needs no dynamodb:CreateTable (least privilege; preflight probes it so).
    try {
      const d = await this.client.send(new DescribeTableCommand({ TableName: this.table }));
      if (d.Table?.TableStatus === 'ACTIVE') return;
    } catch (e) {
      if ((e as Error).name !== 'ResourceNotFoundException') throw e;
      try {
        await this.client.send(new CreateTableCommand({ TableName: this.table, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }));
      } catch (e2) {
        if ((e2 as Error).name !== 'ResourceInUseException') throw e2;
      }
    }
    await waitUntilTableExists({ client: this.client, maxWaitTime: 60 }, { TableName: this.table });
  }

  /**
   * Records the group once (later calls keep the first record): its initial mode and whether the target was fresh.
   * Every consumer calls it first when it starts: throws RebuildPendingError while a rebuild of the group is unfinished.
   */
  async initGroup(group: string, init: { mode: ApplyMode; fresh: boolean }): Promise<GroupState> {
    // One consistent read of the group and its rebuild marker (as many round trips as before the marker existed).
    const keys = [{ pk: S(`group|${group}`) }, { pk: S(`rebuild|${group}`) }];
    const r = await this.client.send(new BatchGetItemCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }));
    if (Object.keys(r.UnprocessedKeys ?? {}).length) return this.initGroupSlowly(group, init);
    const items = r.Responses?.[this.table] ?? [];
    const marker = items.find((i) => i.pk.S === `rebuild|${group}`);
    if (marker) throw new RebuildPendingError(group, marker.topic?.S ?? '?', marker.since?.S ?? '?');
    const existing = items.find((i) => i.pk.S === `group|${group}`);
    if (existing) return groupStateOf(existing);
    const item = { pk: S(`group|${group}`), mode: S(init.mode), modeVersion: N(1), everShared: { BOOL: init.mode === 'shared' }, fresh: { BOOL: init.fresh } };
    try {
      await this.client.send(new PutItemCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
      return groupStateOf(item);
    } catch (e) {
      if ((e as Error).name !== 'ConditionalCheckFailedException') throw e;
      return (await this.getGroup(group)) as GroupState; // another member recorded it first
    }
  }

  /** initGroup with single reads (when the batch read was throttled). */
  private async initGroupSlowly(group: string, init: { mode: ApplyMode; fresh: boolean }): Promise<GroupState> {
    const pending = await this.rebuildPending(group);
    if (pending) throw new RebuildPendingError(group, pending.topic, pending.since);
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: { pk: S(`group|${group}`), mode: S(init.mode), modeVersion: N(1), everShared: { BOOL: init.mode === 'shared' }, fresh: { BOOL: init.fresh } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (e) {
      if ((e as Error).name !== 'ConditionalCheckFailedException') throw e;
    }
    return (await this.getGroup(group)) as GroupState;
  }

  /**
   * Durably records that a rebuild of `group` is under way (before its first delete). A re-run keeps the first
   * `since`. Until clearRebuild, no consumer of the group starts (initGroup).
   */
  async markRebuild(group: string, m: { topic: string; tables: readonly string[] }): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: { pk: S(`rebuild|${group}`) },
        UpdateExpression: 'SET topic = :t, tables = :tb, since = if_not_exists(since, :s)',
        ExpressionAttributeValues: { ':t': S(m.topic), ':tb': { L: m.tables.map(S) }, ':s': S(new Date().toISOString()) },
      }),
    );
  }

  /** The unfinished rebuild of `group` (topic, target tables, when it began), or undefined. */
  async rebuildPending(group: string): Promise<{ topic: string; tables: string[]; since: string } | undefined> {
    const r = await this.client.send(new GetItemCommand({ TableName: this.table, Key: { pk: S(`rebuild|${group}`) }, ConsistentRead: true }));
    if (!r.Item) return undefined;
    return { topic: r.Item.topic?.S ?? '?', tables: (r.Item.tables?.L ?? []).map((t) => t.S ?? ''), since: r.Item.since?.S ?? '?' };
  }

  /** Removes the rebuild marker (only after the rebuild's offset reset); consumers of the group may start again. */
  async clearRebuild(group: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: { pk: S(`rebuild|${group}`) } }));
  }

  /** The group's state, or undefined before initGroup. */
  async getGroup(group: string): Promise<GroupState | undefined> {
    const r = await this.client.send(new GetItemCommand({ TableName: this.table, Key: { pk: S(`group|${group}`) }, ConsistentRead: true }));
    return r.Item ? groupStateOf(r.Item) : undefined;
  }

  /** Durably sets the group's mode; returns the new mode version (consumers pick it up at their next batch). */
  async setMode(group: string, mode: ApplyMode): Promise<number> {
    const r = await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: { pk: S(`group|${group}`) },
        UpdateExpression: `SET #m = :m, #mv = if_not_exists(#mv, :z) + :one${mode === 'shared' ? ', everShared = :t' : ''}, fresh = if_not_exists(fresh, :f)`,
        ExpressionAttributeNames: { '#m': 'mode', '#mv': 'modeVersion' },
        ExpressionAttributeValues: { ':m': S(mode), ':z': N(0), ':one': N(1), ':f': { BOOL: false }, ...(mode === 'shared' ? { ':t': { BOOL: true } } : {}) },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return Number(r.Attributes?.modeVersion?.N);
  }

  /** A consumer process says which mode version it now runs (after its last batch in the previous mode). */
  async ackMode(group: string, member: string, mode: ApplyMode, modeVersion: number): Promise<void> {
    await this.client.send(new PutItemCommand({ TableName: this.table, Item: { pk: S(`member|${group}|${member}`), mode: S(mode), modeVersion: N(modeVersion), at: N(Date.now()) } }));
  }

  /** A member's periodic report (same item as its acknowledgement; modeVersion is always the mode it runs). */
  async reportMember(group: string, member: string, r: { mode: ApplyMode; modeVersion: number; events: number; throttles: number; rate: number }): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: { pk: S(`member|${group}|${member}`), mode: S(r.mode), modeVersion: N(r.modeVersion), at: N(Date.now()), events: N(r.events), throttles: N(r.throttles), rate: N(Math.round(r.rate)) },
      }),
    );
  }

  /** Members that reported within `withinMs`. */
  async liveMembers(group: string, withinMs = 15_000): Promise<{ member: string; mode: ApplyMode; modeVersion: number; events: number; throttles: number; rate: number }[]> {
    const now = Date.now();
    return (await this.scan(`member|${group}|`))
      .filter((m) => Number(m.at.N) > now - withinMs)
      .map((m) => ({ member: m.pk.S?.split('|')[2] ?? '', mode: m.mode.S as ApplyMode, modeVersion: Number(m.modeVersion.N), events: Number(m.events?.N ?? 0), throttles: Number(m.throttles?.N ?? 0), rate: Number(m.rate?.N ?? 0) }));
  }

  private async scan(prefix: string): Promise<Record<string, AttributeValue>[]> {
    const out: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const r = await this.client.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, ExclusiveStartKey: start, FilterExpression: 'begins_with(pk, :p)', ExpressionAttributeValues: { ':p': S(prefix) } }));
      out.push(...(r.Items ?? []));
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** Live leases of the group: not released and not expired (with skew). */
  async liveLeases(group: string): Promise<{ partition: number; topic: string; owner: string; epoch: number }[]> {
    const now = Date.now();
    return (await this.scan(`lease|${group}|`))
      .filter((i) => i.released?.BOOL !== true && Number(i.expiresAt.N) + this.lease.skewMs > now)
      .map((i) => ({ topic: i.topic.S as string, partition: Number(i.partition.N), owner: i.owner.S as string, epoch: Number(i.epoch.N) }));
  }

  /**
   * Waits until every live lease holder runs mode version ≥ `version`. Returns the laggards (holders that did not
   * acknowledge in time) and how many live members (reported within 15 s) run it.
   */
  async awaitMode(group: string, version: number, timeoutMs: number, signal?: AbortSignal): Promise<{ acknowledged: number; laggards: string[] }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leases = await this.liveLeases(group);
      const items = await this.scan(`member|${group}|`);
      const members = new Map(items.map((m) => [m.pk.S?.split('|')[2] ?? '', Number(m.modeVersion.N)]));
      const owners = [...new Set(leases.map((l) => l.owner))];
      const laggards = owners.filter((o) => (members.get(o) ?? 0) < version);
      const acknowledged = items.filter((m) => Number(m.modeVersion.N) >= version && Number(m.at.N) > Date.now() - 15_000).length;
      if (!laggards.length || Date.now() > deadline) return { acknowledged, laggards };
      await sleep(200, signal);
    }
  }

  /**
   * Takes the partition's lease for `owner`, waiting (calling `whileWaiting`, e.g. a Kafka heartbeat) while another
   * live owner holds it. `firstEver` is true when no one ever held it before.
   */
  async acquire(group: string, topic: string, partition: number, owner: string, whileWaiting: () => Promise<void>, signal?: AbortSignal): Promise<{ lease: Lease; firstEver: boolean }> {
    const pk = S(`lease|${group}|${topic}|${partition}`);
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const sent = performance.now();
      const now = Date.now();
      const cur = (await this.client.send(new GetItemCommand({ TableName: this.table, Key: { pk }, ConsistentRead: true }))).Item;
      const epoch = cur ? Number(cur.epoch.N) : 0;
      const free = !cur || cur.released?.BOOL === true || cur.owner.S === owner || Number(cur.expiresAt.N) + this.lease.skewMs < now;
      if (free) {
        try {
          await this.client.send(
            new PutItemCommand({
              TableName: this.table,
              Item: { pk, topic: S(topic), partition: N(partition), owner: S(owner), epoch: N(epoch + 1), expiresAt: N(now + this.lease.durationMs), released: { BOOL: false } },
              ConditionExpression: cur ? '#e = :e' : 'attribute_not_exists(pk)',
              ...(cur ? { ExpressionAttributeNames: { '#e': 'epoch' }, ExpressionAttributeValues: { ':e': N(epoch) } } : {}),
            }),
          );
          return { lease: { group, topic, partition, owner, epoch: epoch + 1, validUntil: sent + this.lease.durationMs - this.lease.marginMs }, firstEver: !cur };
        } catch (e) {
          if ((e as Error).name !== 'ConditionalCheckFailedException') throw e;
          continue; // someone else moved first: read again
        }
      }
      await whileWaiting();
      await sleep(Math.min(1_000, Math.max(100, Number(cur?.expiresAt.N ?? 0) + this.lease.skewMs - now)), signal);
    }
  }

  /** Extends a held lease; throws LeaseLostError when it was taken over meanwhile. */
  async renew(lease: Lease): Promise<void> {
    const sent = performance.now();
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: S(`lease|${lease.group}|${lease.topic}|${lease.partition}`) },
          UpdateExpression: 'SET expiresAt = :x',
          ConditionExpression: '#o = :o AND #e = :e AND released = :f',
          ExpressionAttributeNames: { '#o': 'owner', '#e': 'epoch' },
          ExpressionAttributeValues: { ':x': N(Date.now() + this.lease.durationMs), ':o': S(lease.owner), ':e': N(lease.epoch), ':f': { BOOL: false } },
        }),
      );
      lease.validUntil = sent + this.lease.durationMs - this.lease.marginMs;
    } catch (e) {
      if ((e as Error).name === 'ConditionalCheckFailedException') throw new LeaseLostError(lease.group, lease.partition, `taken over (epoch ${lease.epoch} is stale)`);
      throw e;
    }
  }

  /** True when the lease should be renewed (less than half its blind-write window left). */
  needsRenewal(lease: Lease): boolean {
    return lease.validUntil - performance.now() < (this.lease.durationMs - this.lease.marginMs) / 2;
  }

  /** True while blind writes under `lease` are still allowed. */
  isValid(lease: Lease): boolean {
    return performance.now() < lease.validUntil;
  }

  /** The guard the exclusive writer checks before every request; returns the milliseconds of window left. */
  guardOf(lease: Lease): () => number {
    return () => {
      const left = lease.validUntil - performance.now();
      if (left <= 0) throw new LeaseLostError(lease.group, lease.partition, 'blind-write window expired before renewal');
      return left;
    };
  }

  /** Gives the lease up (after the last write and commit), so a successor need not wait for expiry. */
  async release(lease: Lease): Promise<void> {
    lease.validUntil = 0;
    await this.client
      .send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: S(`lease|${lease.group}|${lease.topic}|${lease.partition}`) },
          UpdateExpression: 'SET released = :t',
          ConditionExpression: '#o = :o AND #e = :e',
          ExpressionAttributeNames: { '#o': 'owner', '#e': 'epoch' },
          ExpressionAttributeValues: { ':t': { BOOL: true }, ':o': S(lease.owner), ':e': N(lease.epoch) },
        }),
      )
      .catch((e: Error) => {
        if (e.name !== 'ConditionalCheckFailedException') throw e;
      });
  }
}
