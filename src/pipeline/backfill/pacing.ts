/**
 * Pacing of the copy: chunk size adapted to a target time per chunk, a rows-per-second ceiling, and the back-off
 * used for lag and throttling. Pure (the clock is passed in) except `sleep`.
 *
 * Invariants:
 * - The chunk size stays within [min, max] and changes by at most a factor of 2 per chunk, so one slow chunk (a cold
 *   buffer pool, a GC pause) cannot collapse it and one fast chunk cannot make the next one take seconds.
 * - RateLimiter never lets the copied rows exceed `maxRowsPerSecond × elapsed` by more than one chunk.
 * - `sleep` returns early (without throwing) when its signal aborts, so pause/abort take effect within one wait.
 */

/** Waits `ms` or until `signal` aborts, whichever is first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface ChunkSizerOptions {
  readonly initial: number;
  readonly min: number;
  readonly max: number;
  readonly targetMs: number;
}

/** Adapts the number of rows per chunk so that one chunk (read + publish + ack) takes about `targetMs`. */
export class ChunkSizer {
  private size: number;
  constructor(private readonly o: ChunkSizerOptions) {
    this.size = Math.min(o.max, Math.max(o.min, Math.floor(o.initial)));
  }

  /** Rows to read in the next chunk. */
  get next(): number {
    return this.size;
  }

  /** Records that a chunk of `rows` took `ms`; a chunk that hit the end of its range (rows < size) says little. */
  observe(rows: number, ms: number): void {
    if (rows < this.size || rows <= 0) return;
    const factor = Math.min(2, Math.max(0.5, this.o.targetMs / Math.max(1, ms)));
    this.size = Math.min(this.o.max, Math.max(this.o.min, Math.round(this.size * factor)));
  }
}

/** A ceiling on rows per second over the whole run (not a sliding window: bursts are paid back). */
export class RateLimiter {
  private rows = 0;
  constructor(
    private readonly maxRowsPerSecond: number | undefined,
    private readonly startMs: number,
  ) {}

  /** Records `n` rows copied and returns how long to wait (ms) before the next chunk. */
  take(n: number, nowMs: number): number {
    this.rows += n;
    if (!this.maxRowsPerSecond || this.maxRowsPerSecond <= 0) return 0;
    const due = this.startMs + (this.rows / this.maxRowsPerSecond) * 1000;
    return Math.max(0, due - nowMs);
  }
}

/** Exponential back-off with a ceiling and full jitter; `reset` after a success. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly baseMs = 100,
    private readonly maxMs = 5_000,
  ) {}

  /** The next delay (ms). */
  next(): number {
    const cap = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt += 1;
    return Math.round(cap / 2 + (Math.random() * cap) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
