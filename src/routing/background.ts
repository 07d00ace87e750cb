/**
 * The background writer: the secondary store's write of a dual-write mode (the DynamoDB shadow write of
 * mysql-primary, the MySQL write of dynamo-primary), off the request path.
 *
 * Invariants:
 *  - A background write never fails or delays the request that caused it: `submit` is synchronous and never throws.
 *  - Each task is idempotent and versioned (its store skips it when a newer write is already there), so retries and
 *    any order of completion converge; there is no per-key ordering to keep.
 *  - A task that still fails after its retries (or is refused because `maxPending` tasks are queued) is counted,
 *    logged with its key and kept in `failedKeys` (bounded); `reconcileFromDynamo` re-applies such keys later.
 */
import type { Logger } from 'pino';

export interface BackgroundOptions {
  /** Tasks running at once (default 8). */
  readonly concurrency?: number;
  /** Tasks queued or running before new ones are refused as failures (default 10 000). */
  readonly maxPending?: number;
  /** Attempts per task (default 4), with exponential backoff from `baseDelayMs` (default 20). */
  readonly attempts?: number;
  readonly baseDelayMs?: number;
  readonly logger?: Logger;
}

/** What a task reports: its write landed, or a newer write was already there. */
export type TaskOutcome = 'applied' | 'superseded';

interface Task {
  readonly kind: string;
  readonly key: string;
  readonly run: () => Promise<TaskOutcome>;
}

/** A bounded, retrying queue of idempotent background writes with counters per kind. */
export class BackgroundWriter {
  private readonly queue: Task[] = [];
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  readonly counters: Record<string, number> = {};
  /** Keys whose write was given up, newest last (at most 1000). */
  readonly failedKeys: { kind: string; key: string; error: string }[] = [];

  constructor(private readonly opts: BackgroundOptions = {}) {}

  /** Queued plus running tasks. */
  get pending(): number {
    return this.queue.length + this.running;
  }

  /** Queues a task; counts `${kind}s` when it lands, `${kind}Superseded`, `${kind}Errors` when given up. */
  submit(kind: string, key: string, run: () => Promise<TaskOutcome>): void {
    if (this.pending >= (this.opts.maxPending ?? 10_000)) {
      this.fail({ kind, key, run }, new Error('background queue full'));
      return;
    }
    this.queue.push({ kind, key, run });
    this.pump();
  }

  /** Resolves when nothing is queued or running. */
  drain(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private count(name: string): void {
    this.counters[name] = (this.counters[name] ?? 0) + 1;
  }

  private pump(): void {
    while (this.running < (this.opts.concurrency ?? 8) && this.queue.length > 0) {
      const task = this.queue.shift() as Task;
      this.running++;
      void this.execute(task).finally(() => {
        this.running--;
        this.pump();
        if (this.pending === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  private async execute(task: Task): Promise<void> {
    const attempts = this.opts.attempts ?? 4;
    for (let i = 1; ; i++) {
      try {
        const outcome = await task.run();
        this.count(outcome === 'applied' ? `${task.kind}s` : `${task.kind}Superseded`);
        return;
      } catch (e) {
        if (i >= attempts) {
          this.fail(task, e);
          return;
        }
        this.count(`${task.kind}Retries`);
        const base = (this.opts.baseDelayMs ?? 20) * 2 ** (i - 1);
        await new Promise((r) => setTimeout(r, base / 2 + Math.random() * base));
      }
    }
  }

  private fail(task: Task, e: unknown): void {
    this.count(`${task.kind}Errors`);
    const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    this.failedKeys.push({ kind: task.kind, key: task.key, error });
    if (this.failedKeys.length > 1000) this.failedKeys.shift();
    this.opts.logger?.error({ kind: task.kind, key: task.key, error }, 'background write failed; the request was not affected, reconcile will re-apply the key');
  }
}
