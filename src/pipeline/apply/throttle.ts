/**
 * Write pacing: a token bucket capped at the configured maximum write rate, whose rate adapts (AIMD) to the target.
 * One limiter is shared by all partitions of a process, so the configured maximum holds per process.
 *
 * Invariants:
 * - Decrease: a throttle (ThrottlingException, ProvisionedThroughputExceededException, RequestLimitExceeded, an SDK
 *   response that needed retries, or UnprocessedItems) halves the rate from what the process actually achieved
 *   (the allowed rate, or the measured one when that is lower), at most once per `holdMs`: the throttles of the many
 *   requests in flight when the target pushed back are ONE congestion signal, not one halving each. (Halving per
 *   signal collapsed the rate to the 10/s floor after a burst of six concurrent SDK retries and stalled the backfill
 *   end to end for tens of seconds.)
 * - Increase: successes raise the rate by at most ×2 per second of elapsed time (not per request, so the recovery
 *   does not depend on how many requests are in flight), never above the cap; an uncapped limiter goes back to
 *   "no limit" once its rate is well above what it measured.
 * - Waiters re-read the rate at least every 50 ms, so a recovering rate releases them early; the long-run rate of
 *   `take`s never exceeds the rate in force.
 */

const THROTTLE_NAMES = new Set(['ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded', 'TooManyRequestsException', 'LimitExceededException']);

/** True for DynamoDB's throttling errors. */
export function isThrottle(e: unknown): boolean {
  return typeof e === 'object' && e !== null && THROTTLE_NAMES.has((e as { name?: string }).name ?? '');
}

/** True for errors that trying again can fix (throttling, network, 5xx). */
export function isTransient(e: unknown): boolean {
  if (isThrottle(e)) return true;
  const err = e as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  if (err?.$retryable) return true;
  const status = err?.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  return ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'TimeoutError', 'InternalServerError', 'ServiceUnavailable', 'RequestTimeout'].includes(err?.code ?? err?.name ?? '');
}

/** The cap (items/s), the floor the adaptive rate may not go below, and the decrease hold time. */
export interface RateLimiterOptions {
  /** Items per second never exceeded; Infinity for no cap. */
  readonly maxRate: number;
  /** Lowest rate the adaptive control goes down to (default 10). */
  readonly minRate?: number;
  /** Throttle signals within this long of a decrease do not decrease again (default 500 ms). */
  readonly holdMs?: number;
  /** Clock in ms (tests inject one; default Date.now). */
  readonly now?: () => number;
}

/** Sleeps `ms`, or rejects with the signal's reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** An adaptive token bucket; see the module invariants. `take(n)` resolves when `n` items may be written. */
export class RateLimiter {
  private rate: number;
  private tokens: number;
  /** Tokens added since creation (a waiter is paid when this passes its due mark). */
  private refilled = 0;
  private readonly clock: () => number;
  private last: number;
  private lastDecrease = -Infinity;
  private lastGrowth: number;
  /** Items taken in the current measuring window, and the rate measured over the previous one. */
  private window = { start: 0, items: 0 };
  private measured: number | undefined;
  throttles = 0;
  constructor(private readonly opts: RateLimiterOptions) {
    this.clock = opts.now ?? Date.now;
    this.last = this.lastGrowth = this.window.start = this.clock();
    this.rate = Number.isFinite(opts.maxRate) ? opts.maxRate : Infinity;
    this.tokens = Number.isFinite(this.rate) ? Math.max(1, this.rate / 10) : Infinity;
  }

  /** The rate currently allowed (items/s). */
  get currentRate(): number {
    return this.rate;
  }

  private refill(): void {
    const now = this.clock();
    if (Number.isFinite(this.rate)) {
      const add = ((now - this.last) / 1000) * this.rate;
      this.refilled += add;
      this.tokens = Math.min(Math.max(this.rate / 10, 1), this.tokens + add);
    }
    this.last = now;
  }

  private count(n: number): void {
    const now = this.clock();
    const elapsed = now - this.window.start;
    if (elapsed >= 1_000) {
      this.measured = (this.window.items / elapsed) * 1000;
      this.window = { start: now, items: 0 };
    }
    this.window.items += n;
  }

  /** Waits until `n` tokens are available (n may exceed the bucket: it then waits for the deficit). */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    this.count(n);
    if (!Number.isFinite(this.rate)) return;
    this.refill();
    this.tokens -= n;
    if (this.tokens >= 0) return;
    const due = this.refilled - this.tokens; // paid once everything owed before this take, and this take, is refilled
    while (Number.isFinite(this.rate) && this.refilled < due) {
      await sleep(Math.max(1, Math.min(50, ((due - this.refilled) / this.rate) * 1000)), signal);
      this.refill();
    }
  }

  /** The target pushed back: halve the achieved rate, once per hold time (see the module invariants). */
  onThrottle(observedRate?: number): void {
    this.throttles += 1;
    const now = this.clock();
    if (now - this.lastDecrease < (this.opts.holdMs ?? 500)) return;
    this.refill();
    this.lastDecrease = this.lastGrowth = now;
    const achieved = observedRate ?? this.measured ?? (this.window.items > 0 && now > this.window.start ? (this.window.items / (now - this.window.start)) * 1000 : undefined);
    const base = Math.min(this.rate, achieved ?? (Number.isFinite(this.rate) ? this.rate : 1000));
    this.rate = Math.max(this.opts.minRate ?? 10, base / 2);
    this.tokens = Math.min(this.tokens, 0);
  }

  /** A write went through: grow back towards the cap, at most ×2 per second elapsed since the last change. */
  onSuccess(): void {
    if (!Number.isFinite(this.rate)) return;
    const now = this.clock();
    const dt = Math.min(1_000, Math.max(0, now - this.lastGrowth));
    this.lastGrowth = now;
    this.refill();
    const cap = this.opts.maxRate;
    this.rate = Math.min(cap, this.rate * (1 + dt / 1_000) + 1);
    if (!Number.isFinite(cap) && this.measured !== undefined && this.rate > 4 * Math.max(this.measured, this.opts.minRate ?? 10) && now - this.lastDecrease > 2_000) {
      this.rate = Infinity;
      this.tokens = Infinity;
    }
  }
}
