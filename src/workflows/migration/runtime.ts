/**
 * The machinery the table-migration phases are written with: interruptible waits, operator gates, long activities
 * that pause within one chunk, and routing-flag moves that keep the safe order (one write-mode step at a time, the
 * write fence around every change of primary store, the shared apply mode before any direct DynamoDB write, and a
 * barrier after every flag change). Deterministic: no I/O except through activities.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  metricMeter,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityCtx } from '../../shared/activity-contract';
import { CUTOVER_PHASE, type Transition } from '../../shared/messages';
import type { TableMigrationConfig } from '../../shared/migration-config';
import { isDynamoPrimary, phaseIndex, WRITE_MODES, writesDynamoDirectly, type PhaseOrTerminal, type WriteMode } from '../../shared/phases';
import { control, longOptions, waitOptions } from './activities';
import { record, type MigrationState } from './state';

/** Thrown inside a phase when an operator's pause, rollback, abort or read-percent change must be handled first. */
export class Interrupted extends Error {
  override readonly name = 'Interrupted';
}

/** A step failed in workflow terms (e.g. the ETL did not catch up inside the fence in time). */
export class StepFailed extends Error {
  override readonly name = 'StepFailed';
}

/** What may interrupt a wait besides abort and rollback (which always may, except while being carried out). */
export interface InterruptOn {
  readonly pause?: boolean;
  readonly readPercent?: boolean;
}

/** Created lazily: the workflow metric meter exists only inside a workflow context (not when tests import this). */
function phaseGauge() {
  return metricMeter.createGauge('cutover_phase', 'int', '', '1 + index of the migration phase in PHASES (1 preflight … 12 complete); 0 aborted or failed');
}

/** A one-line account of an activity failure: the error class Temporal recorded and its message. */
export function describeFailure(err: unknown): string {
  if (err instanceof ActivityFailure) {
    const c = err.cause;
    const type = c instanceof ApplicationFailure && c.type ? `${c.type}: ` : '';
    return `${type}${c?.message ?? err.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs `start` (an activity) in its own cancellation scope and cancels it as soon as `stop()` holds; with
 * WAIT_CANCELLATION_COMPLETED the activity's own report (its progress) is still returned.
 */
export async function runCancellable<T>(start: () => Promise<T>, stop: () => boolean): Promise<{ result?: T; interrupted: boolean }> {
  const work = new CancellationScope();
  const watch = new CancellationScope();
  let interrupted = false;
  const watching = watch
    .run(() => condition(stop))
    .then(
      () => {
        interrupted = true;
        work.cancel();
      },
      () => undefined,
    );
  try {
    const result = await work.run(start);
    return { result, interrupted };
  } catch (err) {
    if (interrupted && isCancellation(err)) return { interrupted: true };
    throw err;
  } finally {
    watch.cancel();
    await watching;
  }
}

/** One migration's running state plus the helpers every phase uses. */
export class Migration {
  inRollback = false;
  inAbort = false;
  readonly label: string;

  constructor(
    readonly id: string,
    readonly config: TableMigrationConfig,
    readonly state: MigrationState,
  ) {
    this.label = `${config.source.database}.${config.source.table}`;
  }

  /** Workflow time as ISO-8601 (deterministic). */
  now(): string {
    return new Date(Date.now()).toISOString();
  }

  ctx(): ActivityCtx {
    return { migrationId: this.id, source: this.config.source, phase: this.state.phase };
  }

  note(t: Omit<Transition, 'at'>): void {
    record(this.state, { at: this.now(), ...t });
  }

  /** Moves to `phase`: recorded, the CutoverPhase search attribute and the phase gauge updated. */
  setPhase(phase: PhaseOrTerminal, cause: string, by?: string): void {
    const from = this.state.phase;
    if (from === phase) return;
    this.state.phase = phase;
    this.note({ kind: 'phase', from, to: phase, cause, by });
    this.publishPhase();
  }

  publishPhase(): void {
    upsertSearchAttributes([{ key: CUTOVER_PHASE, value: this.state.phase }]);
    phaseGauge().set(phaseIndex(this.state.phase) + 1, { table: this.label });
  }

  interrupted(on: InterruptOn): boolean {
    const s = this.state;
    if (s.pendingAbort && !this.inAbort) return true;
    if (s.pendingRollback && !this.inRollback && !this.inAbort) return true;
    if (on.pause && s.paused) return true;
    if (on.readPercent && s.pendingReadPercent) return true;
    return false;
  }

  /** Waits until `cond` (true) or the timeout (false); throws Interrupted if an operator request comes first. */
  async until(cond: () => boolean, on: InterruptOn, timeoutMs?: number): Promise<boolean> {
    const test = () => cond() || this.interrupted(on);
    const met = timeoutMs === undefined ? (await condition(test), true) : await condition(test, timeoutMs);
    if (cond()) return true;
    if (met && this.interrupted(on)) throw new Interrupted();
    return false;
  }

  /** Holds for `ms` (a soak); interruptible. */
  async soak(ms: number, on: InterruptOn): Promise<void> {
    await this.until(() => false, on, ms);
  }

  /** Waits for an operator's `approve` of `gate`. `problem` marks a failure or a breached threshold. */
  async waitForOperator(gate: string, reason: string, problem: boolean, on: InterruptOn): Promise<void> {
    const s = this.state;
    const id = s.nextAwaitId++;
    s.awaiting = { id, gate, reason, problem, since: this.now() };
    this.note({ kind: problem ? 'blocked' : 'gate', to: gate, cause: reason });
    try {
      await this.until(() => s.approvedId >= id, on);
    } finally {
      if (s.awaiting?.id === id) s.awaiting = null;
    }
  }

  /** Runs `fn`; when it fails (after its retries), waits for an operator to approve a retry. */
  async attempt<T>(what: string, fn: () => Promise<T>, on: InterruptOn = {}): Promise<T> {
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (isCancellation(err) || !(err instanceof ActivityFailure || err instanceof StepFailed)) throw err;
        await this.waitForOperator(what, `${what} failed: ${describeFailure(err)}. Fix the cause, then approve to retry`, true, on);
      }
    }
  }

  /**
   * Runs a long activity; when an operator request interrupts it, cancels it and waits for its report (it returns its
   * progress within one chunk). `result` is absent if it was cancelled before reporting any.
   */
  runLong<T>(start: () => Promise<T>, on: InterruptOn): Promise<{ result?: T; interrupted: boolean }> {
    return runCancellable(start, () => this.interrupted(on));
  }

  // ------------------------------------------------------------------------------------------------- routing flags

  private shadowFraction(readPercent: number, writeMode: WriteMode): number {
    return readPercent > 0 || writeMode !== 'mysql-only' ? this.config.shadowReadFraction : 0;
  }

  /** Stores a flag state and waits until every live application instance runs it. `raw`: failures propagate. */
  async setFlags(readPercent: number, writeMode: WriteMode, cause: string, raw = false): Promise<void> {
    const s = this.state;
    const input = { ctx: this.ctx(), mappingFile: this.config.mappingFile, readPercent, writeMode, shadowReadFraction: this.shadowFraction(readPercent, writeMode), cause };
    const set = () => control.setRoutingFlags.executeWithOptions({ summary: `flags ${this.label}: reads ${readPercent}% DynamoDB, writes ${writeMode}` }, [input]);
    const { version } = raw ? await set() : await this.attempt('set routing flags', set);
    const before = `reads ${s.readPercent}%, writes ${s.writeMode}`;
    s.flagVersion = version;
    s.readPercent = readPercent;
    s.writeMode = writeMode;
    s.created = { ...s.created, flagsWritten: true };
    this.note({ kind: 'flags', from: before, to: `reads ${readPercent}%, writes ${writeMode} (v${version})`, cause });
    const t = this.config.barrierTimeoutMs;
    const barrier = () =>
      control.awaitFlagBarrier.executeWithOptions({ ...waitOptions(t), summary: `barrier ${this.label}: every app instance on flag v${version}` }, [
        { ctx: this.ctx(), version, timeoutMs: t },
      ]);
    if (raw) await barrier();
    else await this.attempt(`flag barrier v${version}`, barrier);
  }

  /** Switches the ETL to conditional (shared) apply and waits until every consumer runs it. */
  async ensureSharedApply(raw = false): Promise<void> {
    if (this.state.applyMode === 'shared') return;
    const t = this.config.barrierTimeoutMs;
    const call = () =>
      control.setApplyMode.executeWithOptions({ ...waitOptions(t), summary: `apply mode ${this.label}: shared (conditional writes)` }, [
        { ctx: this.ctx(), mappingFile: this.config.mappingFile, topic: this.config.cdc.topic, group: this.config.etl.group, mode: 'shared', timeoutMs: t },
      ]);
    if (raw) await call();
    else await this.attempt('switch apply mode to shared', call);
    this.state.applyMode = 'shared';
    this.note({ kind: 'flags', to: 'apply shared', cause: 'the application may write DynamoDB directly from the next write mode on' });
  }

  /** Moves the write mode to `target` one step at a time, through the fence between primaries; reads unchanged. */
  async moveWrites(target: WriteMode, cause: string): Promise<void> {
    const s = this.state;
    while (s.writeMode !== target) {
      const cur = s.writeMode;
      const dir = Math.sign(WRITE_MODES.indexOf(target) - WRITE_MODES.indexOf(cur));
      if (cur === 'fenced') {
        await this.throughFence(s.fencedFrom ?? 'mysql-primary', dir < 0 ? 'mysql-primary' : 'dynamo-primary', cause);
        continue;
      }
      const next = WRITE_MODES[WRITE_MODES.indexOf(cur) + dir];
      if (next === 'fenced') {
        await this.throughFence(cur, WRITE_MODES[WRITE_MODES.indexOf(cur) + 2 * dir], cause);
        continue;
      }
      if (writesDynamoDirectly(next)) await this.ensureSharedApply();
      await this.setFlags(s.readPercent, next, cause);
    }
  }

  /**
   * The write fence between a MySQL-primary and a DynamoDB-primary mode: instances hold writes (barrier), background
   * writes of a DynamoDB-primary mode are drained and reconciled into MySQL, the ETL applies everything up to the
   * source's current position, then writes are released into `to`. On any failure the fence is released back to
   * `from` at once (writes must not stay held while an operator looks), and the failure goes to the operator.
   */
  private async throughFence(from: WriteMode, to: WriteMode, cause: string): Promise<void> {
    const s = this.state;
    await this.attempt(`write fence ${from} → ${to}`, async () => {
      if (s.writeMode !== 'fenced') {
        s.fencedFrom = from;
        await this.setFlags(s.readPercent, 'fenced', `fence: ${cause}`, true);
      }
      try {
        if (isDynamoPrimary(from)) {
          const t = this.config.barrierTimeoutMs;
          await control.drainBackgroundWrites.executeWithOptions({ ...waitOptions(t), summary: `drain background MySQL writes of ${this.label}` }, [
            { ctx: this.ctx(), mappingFile: this.config.mappingFile, timeoutMs: t },
          ]);
        }
        const caught = await control.awaitEtlCatchUp.executeWithOptions(
          { ...longOptions(this.config.fenceTimeoutMs), summary: `fence: ETL applies ${this.label} up to the source's position` },
          [{ ctx: this.ctx(), mappingFile: this.config.mappingFile, topic: this.config.cdc.topic, group: this.config.etl.group, through: 'source-now', maxLagEvents: 0, sliceMs: this.config.fenceTimeoutMs }],
        );
        if (!caught.caughtUp) throw new StepFailed(`ETL did not apply up to ${caught.throughPosition} within ${this.config.fenceTimeoutMs} ms (lag ${caught.lagEvents})`);
        if (writesDynamoDirectly(to)) await this.ensureSharedApply(true);
        await this.setFlags(s.readPercent, to, cause, true);
        s.fencedFrom = null;
      } catch (err) {
        if (s.writeMode === 'fenced') {
          await this.setFlags(s.readPercent, from, `release the fence after a failure: ${describeFailure(err)}`, true);
          s.fencedFrom = null;
        }
        throw err;
      }
    });
  }

  /** True once the history is long enough that the next safe point should continue as new. */
  historyFull(limit: number): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > limit;
  }
}
