/**
 * Write pacing: a token bucket capped at the configured maximum write rate, whose rate adapts (AIMD) to the target:
 * every throttle (ThrottlingException, ProvisionedThroughputExceededException, RequestLimitExceeded, or
 * UnprocessedItems returned) halves it, every success raises it by a step back towards the cap. One limiter is shared
 * by all partitions of a process, so the configured maximum holds per process.
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

/** The cap (items/s) and the floor the adaptive rate may not go below. */
export interface RateLimiterOptions {
  /** Items per second never exceeded; Infinity for no cap. */
  readonly maxRate: number;
  /** Lowest rate the adaptive control goes down to. */
  readonly minRate?: number;
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

/** An adaptive token bucket. `take(n)` resolves when `n` items may be written. */
export class RateLimiter {
  private rate: number;
  private tokens: number;
  private last = Date.now();
  throttles = 0;
  constructor(private readonly opts: RateLimiterOptions) {
    this.rate = Number.isFinite(opts.maxRate) ? opts.maxRate : Infinity;
    this.tokens = Number.isFinite(this.rate) ? Math.max(1, this.rate / 10) : Infinity;
  }

  /** The rate currently allowed (items/s). */
  get currentRate(): number {
    return this.rate;
  }

  private refill(): void {
    const now = Date.now();
    if (Number.isFinite(this.rate)) this.tokens = Math.min(Math.max(this.rate / 10, 1), this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }

  /** Waits until `n` tokens are available (n may exceed the bucket: it then waits for the deficit). */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    if (!Number.isFinite(this.rate)) return;
    this.refill();
    this.tokens -= n;
    if (this.tokens < 0) await sleep((-this.tokens / this.rate) * 1000, signal);
  }

  /** The target throttled us: halve the rate (from the cap, or from the observed rate when uncapped). */
  onThrottle(observedRate?: number): void {
    this.throttles += 1;
    const base = Number.isFinite(this.rate) ? this.rate : (observedRate ?? 1000);
    this.rate = Math.max(this.opts.minRate ?? 10, base / 2);
    this.tokens = Math.min(this.tokens, 0);
  }

  /** A write went through: creep back towards the cap (5 % per success, uncapped once far above). */
  onSuccess(): void {
    if (!Number.isFinite(this.rate)) return;
    const cap = this.opts.maxRate;
    this.rate = Math.min(cap, this.rate * 1.05 + 1);
    if (!Number.isFinite(cap) && this.rate > 1e6) this.rate = Infinity;
  }
}
