/**
 * Runs built-in CDC tasks in one process: a fixed task (`cdcId`) or every task the operator wants running whose
 * lease is free (so N processes on N machines share the tasks; each task is read by exactly one of them at a time).
 * Used by src/workers/cdc.ts and usable from a long-running activity (progress callback, graceful stop).
 *
 * Invariants: a reader that fails is reported and, in "claim any" mode, its task is left to the lease (another
 * process may claim it once the lease expires, unless the task is marked failed, which needs an operator's resume).
 */
import type { Kafka } from 'kafkajs';
import type { Queryable } from '../row/codec';
import { CheckpointStore } from './checkpoint';
import { BinlogCdcReader, type CdcProgress, type CdcReaderOptions } from './reader';

export interface CdcRuntimeOptions extends Omit<CdcReaderOptions, 'cdcId'> {
  /** Run only this task; otherwise claim any runnable task. */
  readonly cdcId?: string;
  /** How often to look for claimable tasks (claim-any mode). */
  readonly pollMs?: number;
  readonly onError?: (cdcId: string, error: unknown) => void;
}

/** Runs readers until stop(); progress() lists every reader's progress. */
export class CdcRuntime {
  private readonly readers = new Map<string, BinlogCdcReader>();
  private readonly running = new Map<string, Promise<unknown>>();
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly deps: { readonly db: Queryable; readonly store: CheckpointStore; readonly kafka: Kafka; readonly mysqlUrl?: string },
    private readonly opts: CdcRuntimeOptions,
  ) {}

  progress(): CdcProgress[] {
    return [...this.readers.values()].map((r) => r.progress());
  }

  /** Graceful: every reader publishes what it read, saves its checkpoint and releases its lease. */
  stop(): void {
    this.stopped = true;
    for (const r of this.readers.values()) r.stop();
    this.wake?.();
  }

  /** Resolves after stop() once every reader has stopped; with a fixed cdcId, rejects with that reader's error. */
  async run(): Promise<void> {
    await this.deps.store.ensureSchema();
    if (this.opts.cdcId) {
      await this.launch(this.opts.cdcId);
      await this.running.get(this.opts.cdcId);
      return;
    }
    while (!this.stopped) {
      // The metadata database may be briefly unreachable (a restart): report and poll again instead of ending the
      // runtime, which in a worker process hosts every CDC task (found by test/faults/mariadb-restart.fault.ts).
      const ids = await this.deps.store.claimable().catch((e: unknown) => {
        this.opts.onError?.('(claim)', e);
        return [] as string[];
      });
      for (const id of ids) if (!this.running.has(id)) void this.launch(id).catch(() => undefined);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, this.opts.pollMs ?? 2000);
      });
    }
    await Promise.allSettled(this.running.values());
  }

  private launch(cdcId: string): Promise<unknown> {
    const reader = new BinlogCdcReader(this.deps, { ...this.opts, cdcId });
    this.readers.set(cdcId, reader);
    const p = reader.run().then(
      (r) => r,
      (e: unknown) => {
        this.opts.onError?.(cdcId, e);
        throw e;
      },
    ).finally(() => {
      this.readers.delete(cdcId);
      this.running.delete(cdcId);
    });
    this.running.set(cdcId, p);
    if (this.stopped) reader.stop();
    return p;
  }
}
