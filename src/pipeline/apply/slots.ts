/**
 * Request slots shared by every partition of one process: at most `size` DynamoDB batch requests in flight in total,
 * granted first come first served.
 *
 * Why shared rather than per partition: a fetch round hands each partition its batch and the next round starts only
 * when every partition is done, so per-partition pools leave the target half idle while the largest batch drains on
 * its few slots. With one pool the last partition busy may use every free slot, and the whole process keeps the
 * same number of requests in flight whatever the number of partitions it owns.
 *
 * Order: slots only bound concurrency; they say nothing about order. Callers hand them independent requests (the
 * writes of one plan are for distinct keys; different partitions hold different keys).
 */

/** A counting semaphore; see the module comment. */
export class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {
    if (!(size >= 1)) throw new RangeError(`request slots must be at least 1, got ${size}`);
    this.free = size;
  }

  /** Runs `f` holding one slot; the slot is returned however `f` ends. */
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    try {
      return await f();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}
