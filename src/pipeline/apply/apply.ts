/**
 * The apply stage: CDC events (changes and backfill loads) → versioned DynamoDB items. No Temporal, no Kafka.
 *
 * Invariants (the argument is in docs/design.md, section "Apply"):
 * - No write lowers an item's _v. Shared mode enforces it in DynamoDB (conditional PutItem); exclusive mode by
 *   comparing against versions known to be stored, which is sound only while this process is the keys' single
 *   writer — the caller guarantees that with the mode switch (no application writes) and the partition lease
 *   (`guard`), and by re-publishing primary-key-change deletes to the old key's partition (`redirects`).
 * - `apply` resolves only when every returned write is durable; if it throws, nothing about the batch may be
 *   assumed (the caller re-delivers it: every write is idempotent).
 * - Batches of one scope (partition) must be applied one after another; different scopes may run concurrently.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ApplyMode } from '../../shared/phases';
import type { CompiledMapping } from '../transform/mapping';
import type { CdcEvent } from '../types';
import { planEvents, type DeadLetter } from './plan';
import { Slots } from './slots';
import { RateLimiter } from './throttle';
import { VersionCache } from './version-cache';
import { writeExclusive, writeShared } from './writer';

export type { ApplyMode } from '../../shared/phases';

/** How an Applier writes: its client and mappings, initial mode, pacing and concurrency. */
export interface ApplierOptions {
  readonly client: DynamoDBClient;
  readonly mappings: readonly CompiledMapping[];
  /** Initial mode; 'shared' (always safe) unless the caller knows it is the only writer. */
  readonly mode?: ApplyMode;
  /** Items per second this process never exceeds (default: no cap; throttling still slows it down). */
  readonly maxWriteRate?: number;
  /** BatchWriteItem/BatchGetItem requests in flight in total, shared by all scopes (partitions); default 24. */
  readonly batchConcurrency?: number;
  /** Conditional PutItems in flight per apply call (shared mode); default 32. */
  readonly conditionalConcurrency?: number;
  /** 'redirect' (default): PK-change deletes are returned for re-publishing; 'direct': tombstoned here. */
  readonly pkChange?: 'redirect' | 'direct';
  /** Entries per partition's version cache. */
  readonly cacheEntries?: number;
  /** TEST ONLY: drop every version comparison, to prove the property test notices. */
  readonly unsafeNoVersionCheck?: boolean;
}

/** What one batch did; every write it counts is durable. */
export interface ApplyResult {
  readonly events: number;
  /** Items written. */
  readonly written: number;
  /** Writes dropped because the stored version was the same or newer. */
  readonly skipped: number;
  readonly deadLetters: readonly DeadLetter[];
  /** Deletes of old keys of primary-key changes, to publish keyed by the old primary key before committing. */
  readonly redirects: readonly CdcEvent[];
  readonly mode: ApplyMode;
  readonly reads: number;
}

/** Per-batch context: the partition scope, the lease guard and cancellation. */
export interface ApplyCall {
  /** The cache scope: one per partition owned (default 'default'). */
  readonly scope?: string;
  /** Checked before every blind write; throws (LeaseLostError) when this process may no longer write blind. */
  readonly guard?: () => number | void;
  readonly signal?: AbortSignal;
}

/** Applies batches of CDC events in the current mode; see the module invariants. */
export class Applier {
  private currentMode: ApplyMode;
  private readonly caches = new Map<string, VersionCache>();
  private readonly mappings: ReadonlyMap<string, CompiledMapping>;
  readonly limiter: RateLimiter;
  private readonly batchSlots: Slots;

  constructor(private readonly opts: ApplierOptions) {
    this.batchSlots = new Slots(opts.batchConcurrency ?? 24);
    this.currentMode = opts.mode ?? 'shared';
    this.mappings = new Map(opts.mappings.map((m) => [m.sourceId, m]));
    this.limiter = new RateLimiter({ maxRate: opts.maxWriteRate ?? Infinity });
  }

  get mode(): ApplyMode {
    return this.currentMode;
  }

  /**
   * Switches the mode for the next batch (the caller serialises this with `apply`). Entering exclusive starts every
   * cache empty and incomplete: what others wrote meanwhile is unknown.
   */
  setMode(mode: ApplyMode): void {
    if (mode !== this.currentMode) for (const c of this.caches.values()) c.reset();
    this.currentMode = mode;
  }

  /** The version cache of `scope` (one per owned partition). */
  cache(scope = 'default'): VersionCache {
    let c = this.caches.get(scope);
    if (!c) this.caches.set(scope, (c = new VersionCache(this.opts.cacheEntries)));
    return c;
  }

  /** Drops a scope's cache (partition revoked or lease changed hands). */
  forget(scope: string): void {
    this.caches.delete(scope);
  }

  /** Applies one batch of one scope; resolves when every write it reports is durable. */
  async apply(events: readonly CdcEvent[], call: ApplyCall = {}): Promise<ApplyResult> {
    const mode = this.currentMode;
    const plan = planEvents(events, this.mappings, { pkChange: this.opts.pkChange, lastDeliveredWins: this.opts.unsafeNoVersionCheck });
    const ctx = {
      client: this.opts.client,
      limiter: this.limiter,
      batchSlots: this.batchSlots,
      conditionalConcurrency: this.opts.conditionalConcurrency ?? 32,
      signal: call.signal,
      guard: call.guard,
      unsafeNoVersionCheck: this.opts.unsafeNoVersionCheck,
    };
    const out = mode === 'exclusive' ? await writeExclusive(ctx, plan.writes, this.cache(call.scope)) : await writeShared(ctx, plan.writes);
    return {
      events: events.length,
      written: out.written,
      skipped: out.skipped,
      deadLetters: [...plan.deadLetters, ...out.deadLetters],
      redirects: plan.redirects,
      mode,
      reads: out.reads,
    };
  }
}
