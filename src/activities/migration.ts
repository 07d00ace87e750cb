/**
 * The migration activities: a thin Temporal adapter over the pipeline and routing modules. `createMigrationActivities`
 * takes the implementations ("parts", each a function of the contract in src/shared/activity-contract.ts, built by
 * its owning module from the clients the worker passes it) plus a logger and metrics, and returns every activity of
 * MigrationActivities wrapped so that:
 *  - each call logs start and end as JSON with table, phase and workflow id (never row values);
 *  - each result updates the worker's Prometheus metrics (rows copied, lags, DLQ, shadow mismatches, phase);
 *  - an activity whose part is missing fails with NotImplementedError (non-retryable), naming the module to wire,
 *    instead of pretending to succeed;
 *  - a CutoverError whose `retriable` is false (bad input: a mapping, config or source that cannot work, whichever
 *    module's subclass it is) fails non-retryably at once, keeping its class name as the failure type, so the
 *    workflow stops for an operator instead of retrying a hopeless call for minutes;
 *  - every failure crosses into workflow history through toHistorySafeFailure (./failure.ts): class name, a message
 *    with quoted literals masked (config/preflight messages verbatim), no cause chain, no details, so no row value
 *    reaches the history; the raw message is logged locally at debug level only.
 * No business logic lives here.
 */
import { Context } from '@temporalio/activity';
import type { ActivityCtx, MigrationActivities } from '../shared/activity-contract';
import { MIGRATION_ACTIVITY_NAMES } from '../shared/activity-contract';
import { NotImplementedError } from '../shared/errors';
import { failureRef, toHistorySafeFailure } from './failure';
import { migrationLogger, type Logger } from '../infra/logger';
import type { CutoverMetrics } from '../infra/metrics';

/** Implementations of some or all activities, by name. */
export type ActivityParts = Partial<MigrationActivities>;

/** What the activities are built from. */
export interface MigrationActivityDeps {
  readonly parts: ActivityParts;
  readonly logger: Logger;
  readonly metrics?: CutoverMetrics;
}

/** The module that owns each activity: named in the NotImplementedError when its part is missing. */
export const ACTIVITY_OWNERS: Record<keyof MigrationActivities, string> = {
  preflight: 'src/pipeline/cdc (preflight) + src/pipeline/transform (mapping)',
  ensureTarget: 'src/pipeline/target',
  startCdc: 'src/pipeline/cdc',
  describeCdc: 'src/pipeline/cdc',
  stopCdc: 'src/pipeline/cdc',
  drainCdc: 'src/pipeline/cdc + src/pipeline/consumer',
  runBackfill: 'src/pipeline/backfill',
  runEtl: 'src/pipeline/consumer',
  describeEtl: 'src/pipeline/consumer',
  awaitEtlCatchUp: 'src/pipeline/consumer',
  setApplyMode: 'src/pipeline/consumer',
  verify: 'src/pipeline/verify',
  repair: 'src/pipeline/verify',
  setRoutingFlags: 'src/routing (flag store)',
  awaitFlagBarrier: 'src/routing (flag store barrier)',
  readShadowStats: 'src/routing (shadow comparisons)',
  drainBackgroundWrites: 'src/routing (background writes, reconcile)',
  cleanup: 'src/pipeline/apply (tombstone cleanup)',
  abortCleanup: 'src/pipeline/cdc + src/pipeline/target',
};

function activityCtx(input: unknown): ActivityCtx | undefined {
  const ctx = (input as { ctx?: ActivityCtx } | undefined)?.ctx;
  return ctx && typeof ctx.migrationId === 'string' && ctx.source ? ctx : undefined;
}

function inActivity(): boolean {
  try {
    Context.current();
    return true;
  } catch {
    return false;
  }
}

/** Builds every activity of MigrationActivities from `deps`; see the file comment for what the wrapper adds. */
export function createMigrationActivities(deps: MigrationActivityDeps): MigrationActivities {
  const out: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const name of MIGRATION_ACTIVITY_NAMES) {
    const part = deps.parts[name] as ((input: unknown) => Promise<unknown>) | undefined;
    out[name] = async (input: unknown) => {
      const ctx = activityCtx(input);
      const log = ctx ? migrationLogger(deps.logger, ctx, name) : deps.logger.child({ activity: name });
      const attempt = inActivity() ? Context.current().info.attempt : undefined;
      const started = Date.now();
      if (!part) {
        const err = new NotImplementedError(name, `no implementation wired (owner: ${ACTIVITY_OWNERS[name]})`);
        log.error({ err: err.message }, 'activity not implemented');
        throw err;
      }
      log.info({ attempt }, 'activity started');
      try {
        const result = await part(input);
        const seconds = (Date.now() - started) / 1000;
        deps.metrics?.activitySeconds.observe({ activity: name, outcome: 'ok' }, seconds);
        if (ctx) deps.metrics?.observe(ctx, name, result);
        log.info({ attempt, ms: Date.now() - started, result }, 'activity completed');
        return result;
      } catch (err) {
        deps.metrics?.activitySeconds.observe({ activity: name, outcome: 'error' }, (Date.now() - started) / 1000);
        const failure = toHistorySafeFailure(err);
        const ref = failureRef(err);
        log.warn({ attempt, ms: Date.now() - started, errorType: (err as Error)?.name, error: failure.message, ref }, 'activity failed');
        log.debug({ attempt, error: (err as Error)?.message, ref }, 'activity failed (raw message, local log only)');
        throw failure;
      }
    };
  }
  return out as unknown as MigrationActivities;
}
