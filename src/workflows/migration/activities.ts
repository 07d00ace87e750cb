/**
 * The activities the table-migration workflow calls, proxied by type only, with retries and timeouts chosen per kind:
 *  - control: short calls (describe, flags, start/stop): 2 min each (30 s for the QUICK ones), retried with backoff
 *    up to 10 times;
 *  - long: sliced, heartbeated work (backfill, verify, ETL, catch-up, drain): the slice plus a margin, a 20 s
 *    heartbeat timeout (HEARTBEAT_TIMEOUT: a dead worker is noticed within 20 s and another resumes from the
 *    heartbeat), up to 20 attempts; cancellation waits for the activity to report, so a paused slice returns its cursor;
 *  - wait: barriers and mode switches that have their own timeout: a few attempts only, so a timeout surfaces to an
 *    operator quickly (FlagBarrierTimeoutError is non-retryable).
 * Bad input (ConfigError, PreflightError, ...) is never retried: NON_RETRYABLE_ERROR_TYPES. Throttling
 * (ThrottlingError) and network failures (TransientError) are retried with exponential backoff.
 */
import { ActivityCancellationType, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_ERROR_TYPES } from '../../shared/errors';
import type { MigrationActivities } from '../../shared/activity-contract';

const nonRetryableErrorTypes = [...NON_RETRYABLE_ERROR_TYPES];

/**
 * How long a long or wait activity may go without a heartbeat before Temporal retries it elsewhere: the time a killed
 * worker's activity stays stuck. Every such activity heartbeats from a 5 s timer (src/activities/parts, withHeartbeats),
 * not only per chunk or page, and the worker sends at most one heartbeat per 5 s (its throttle): 20 s leaves room for
 * three missed beats on a loaded machine.
 */
export const HEARTBEAT_TIMEOUT = '20 seconds';

const CONTROL: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes },
};

/** Options of a long, sliced activity whose slice lasts `sliceMs`. */
export function longOptions(sliceMs: number): ActivityOptions {
  return {
    startToCloseTimeout: sliceMs + 5 * 60_000,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 20, nonRetryableErrorTypes },
  };
}

/** Options of a wait with its own timeout `timeoutMs`. */
export function waitOptions(timeoutMs: number): ActivityOptions {
  return {
    startToCloseTimeout: timeoutMs + 60_000,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 3, nonRetryableErrorTypes },
  };
}

/**
 * Control calls that are a few queries and never wait (flag writes, lag samples): a 30 s start-to-close instead of
 * 2 min, since a call stuck on a killed worker is only retried once that timeout passes (they do not heartbeat).
 */
const QUICK: ActivityOptions = { ...CONTROL, startToCloseTimeout: '30 seconds' };
const QUICK_ACTIVITIES: ReadonlySet<string> = new Set<keyof MigrationActivities>(['setRoutingFlags', 'readShadowStats', 'describeCdc', 'describeEtl']);
const controlProxy = proxyActivities<MigrationActivities>(CONTROL);
const quickProxy = proxyActivities<MigrationActivities>(QUICK);

/** Short control activities (QUICK_ACTIVITIES with QUICK options, the rest with CONTROL). */
export const control: typeof controlProxy = new Proxy(controlProxy, {
  get: (target, name) => (typeof name === 'string' && QUICK_ACTIVITIES.has(name) ? quickProxy : target)[name as keyof typeof target],
});

/** Long activities; per call, `executeWithOptions(longOptions(sliceMs) & summary, [input])`. */
export const long = proxyActivities<MigrationActivities>(longOptions(5 * 60_000));
