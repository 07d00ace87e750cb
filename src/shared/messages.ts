/**
 * Operator messages of the table-migration and plan workflows, as exported definitions shared by the workflows, the
 * CLI and anyone using `temporal workflow signal/update/query` (the names below are the wire names). Safe inside
 * workflows. Handlers only change state; the workflows' main loops react.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { ApplyMode, PhaseOrTerminal, RollbackTarget, WriteMode } from './phases';
import type { ShadowStats, VerifyProgress } from './activity-contract';

/** Search attributes registered by the dev server: the phase (so the UI list can filter by it) and the table. */
export const CUTOVER_PHASE = defineSearchAttributeKey('CutoverPhase', SearchAttributeType.KEYWORD);
export const CUTOVER_TABLE = defineSearchAttributeKey('CutoverTable', SearchAttributeType.KEYWORD);

/** Who sent a message, shown in the transitions list. */
export interface Actor {
  readonly by?: string;
  readonly reason?: string;
}

/** Pause: long work stops within one chunk; no flag changes until resume. `etl` also stops the ETL consumers
 * (honoured only while nothing is served from DynamoDB, i.e. reads 0% and writes mysql-only). */
export interface PauseRequest extends Actor {
  readonly etl?: boolean;
}
export const pauseSignal = defineSignal<[PauseRequest]>('pause');
export const resumeSignal = defineSignal<[Actor]>('resume');

/** Approves the gate (or retries the failed step) the migration waits on; `gate` must match when given. */
export interface ApproveRequest extends Actor {
  readonly gate?: string;
}
export const approveSignal = defineSignal<[ApproveRequest]>('approve');

/** Rolls back to an earlier phase; writes are reversed before reads. Refused (validator) where unsafe. */
export interface RollbackRequest extends Actor {
  readonly to: RollbackTarget;
}
export interface RollbackResult {
  readonly from: PhaseOrTerminal;
  readonly to: RollbackTarget;
  readonly readPercent: number;
  readonly writeMode: WriteMode;
  readonly flagVersion: number;
  /** False when an abort overtook the rollback. */
  readonly applied: boolean;
}
export const rollbackUpdate = defineUpdate<RollbackResult, [RollbackRequest]>('rollback');

/** Aborts: routing back to MySQL, ETL and CDC stopped, what the migration created removed; the source untouched. */
export interface AbortRequest extends Actor {
  /** Also drop the target table (only if this migration created it). */
  readonly dropTarget?: boolean;
}
export interface AbortAccepted {
  readonly accepted: true;
  readonly phase: PhaseOrTerminal;
}
export const abortUpdate = defineUpdate<AbortAccepted, [AbortRequest]>('abort');
/** The same abort as a signal, for senders that cannot wait for an answer (the plan workflow's fan-out). A refused
 * abort is recorded in the transitions instead of being returned. */
export const abortSignal = defineSignal<[AbortRequest]>('abortSignal');

/** Sets the read percentage during the read cut-over; the ladder continues from the next step above it. */
export interface ReadPercentRequest extends Actor {
  readonly percent: number;
}
export interface ReadPercentResult {
  readonly readPercent: number;
  readonly flagVersion: number;
}
export const setReadPercentUpdate = defineUpdate<ReadPercentResult, [ReadPercentRequest]>('setReadPercent');

/** One entry of the migration's story: a phase change or an operator action, with its time and cause. */
export interface Transition {
  /** ISO-8601 UTC (workflow time). */
  readonly at: string;
  readonly kind: 'phase' | 'flags' | 'operator' | 'gate' | 'blocked';
  readonly from?: string;
  readonly to?: string;
  readonly cause: string;
  readonly by?: string;
}

/** What the migration waits for from an operator, if anything. */
export interface Awaiting {
  readonly gate: string;
  readonly since: string;
  /** Why: a manual gate, or the failure / threshold that stopped it. */
  readonly reason: string;
  /** True when a failure or threshold stopped it (approve overrides / retries); false for a plain manual gate. */
  readonly problem: boolean;
}

/** The `status` query's answer. */
export interface MigrationStatus {
  readonly migrationId: string;
  readonly table: string;
  readonly phase: PhaseOrTerminal;
  readonly paused: boolean;
  readonly etlPaused: boolean;
  readonly awaiting: Awaiting | null;
  readonly etlProblem: string | null;
  readonly readPercent: number;
  readonly writeMode: WriteMode;
  readonly flagVersion: number;
  readonly applyMode: ApplyMode | null;
  readonly rowsCopied: number;
  readonly rowsTotal: number;
  readonly rowsPerSecond: number;
  /** Seconds until the backfill finishes at the current rate, null when unknown or done. */
  readonly etaSeconds: number | null;
  readonly backfillDone: boolean;
  /** Why the copy was holding when its last slice ended (lag over backfill.maxLagMs / maxLagMessages), null when copying. */
  readonly backfillWaitingOn?: string | null;
  readonly cdcLagSeconds: number | null;
  readonly etlLagEvents: number | null;
  readonly etlLagSeconds: number | null;
  readonly dlqCount: number;
  /** ISO time of the last lag sample. */
  readonly sampledAt: string | null;
  readonly verification: (Omit<VerifyProgress, 'stoppedBy'> & { readonly passed: boolean | null }) | null;
  readonly shadow: ShadowStats | null;
  readonly transitions: readonly Transition[];
  /** Runs of this migration so far (continue-as-new keeps history small). */
  readonly run: number;
}
export const statusQuery = defineQuery<MigrationStatus>('status');

/** The plan workflow's status: one line per table. */
export interface PlanStatus {
  readonly plan: string;
  readonly concurrency: number;
  readonly paused: boolean;
  readonly aborted: boolean;
  readonly tables: readonly {
    readonly table: string;
    readonly workflowId: string;
    readonly state: 'pending' | 'running' | 'complete' | 'aborted' | 'failed';
    readonly error?: string;
    readonly status?: MigrationStatus;
  }[];
}
export const planStatusQuery = defineQuery<PlanStatus>('planStatus');
