/**
 * The activity contract between the table-migration workflow and the pipeline / routing modules.
 *
 * Rules every implementation keeps (they are what makes the workflow's history small, readable and replayable):
 *  - Each activity takes ONE plain-JSON input object and returns plain JSON: counts, positions, cursors, ids.
 *    No row data, no keys' values beyond what a report file holds, no Date/Map/Set/BigInt; BIGINT and DECIMAL
 *    quantities are decimal strings; times are ISO-8601 UTC strings; durations are milliseconds.
 *  - Every input carries `ctx` (the workflow id, the table and the phase) so every log line and metric can name them.
 *  - Every activity is idempotent: Temporal retries it after a worker dies, so a second call with the same input must
 *    converge to the same outcome (start-CDC reuses a running task, ensure-target reuses a matching table, ...).
 *  - Errors are cutover's typed classes (src/shared/errors.ts): bad input / unfit source → non-retryable
 *    (ConfigError, PreflightError, ...); throttling and network → TransientError (retried with backoff).
 *  - Long activities (runBackfill, verify, runEtl, awaitEtlCatchUp, drainCdc, awaitFlagBarrier, setApplyMode)
 *    heartbeat at least every 10 s with their progress (the `*Progress` type they return) as heartbeat details,
 *    resume from `activityInfo().heartbeatDetails` when retried, and return at the end of `sliceMs` so the workflow
 *    sees progress and can continue-as-new.
 *  - Cancellation (how pause and abort reach a running activity): the workflow cancels with
 *    WAIT_CANCELLATION_COMPLETED; the activity notices at its next heartbeat (within one chunk / batch), finishes or
 *    abandons that chunk so nothing is half-applied, and RETURNS its progress normally with `stoppedBy: 'cancelled'`
 *    (throwing CancelledFailure is also accepted: the workflow then resumes from the last cursor it saw).
 */
import type { ApplyMode, Phase, PhaseOrTerminal, WriteMode } from './phases';
import type { CdcConfig, TableRef } from './migration-config';

/** Who is asking: carried by every activity input, for logs, metrics and error messages. */
export interface ActivityCtx {
  /** The table-migration workflow id (`migrate:<db>.<table>`). */
  readonly migrationId: string;
  readonly source: TableRef;
  readonly phase: PhaseOrTerminal;
}

/** Common input: the context plus the mapping file (which names the target table). */
export interface TableInput {
  readonly ctx: ActivityCtx;
  readonly mappingFile: string;
}

/** Why a long activity returned. */
export type StoppedBy = 'done' | 'slice-elapsed' | 'cancelled';

// ---------------------------------------------------------------------------------------------------------- preflight

/** One check preflight made (binlog format, GTID mode, privileges, primary key, mapping validity, ...). */
export interface PreflightCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface PreflightResult {
  readonly checks: readonly PreflightCheck[];
  readonly primaryKey: readonly string[];
  /** From information_schema: an estimate, for ETA only. */
  readonly estimatedRows: number;
  /** The source's current position (GTID set or file:pos) when preflight ran. */
  readonly sourcePosition: string;
  readonly targetTable: string;
}

// ------------------------------------------------------------------------------------------------------------- CDC

export interface StartCdcInput {
  readonly ctx: ActivityCtx;
  readonly cdc: CdcConfig;
  readonly mappingFile: string;
  /** Resume an existing task (its id from an earlier startCdc), or start fresh from the source's current position. */
  readonly resumeCdcId?: string;
}

export interface StartCdcResult {
  /** Stable id of the replication task (builtin checkpoint name or DMS task ARN); idempotent across retries. */
  readonly cdcId: string;
  readonly topic: string;
  readonly partitions: number;
  /** Position from which changes are published (every change after it reaches the topic). */
  readonly startPosition: string;
  /** True when this call created the task/topic (so abort may remove them), false when they already existed. */
  readonly createdTopic: boolean;
  readonly createdTask: boolean;
}

export interface CdcRef {
  readonly ctx: ActivityCtx;
  readonly cdcId: string;
  readonly cdc: CdcConfig;
}

export type CdcState = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface CdcDescription {
  readonly state: CdcState;
  /** Source position last published to Kafka and acknowledged. */
  readonly publishedPosition: string | null;
  /** Seconds between the source's newest commit and the newest published event (0 when idle). */
  readonly lagSeconds: number;
  readonly counts: { readonly loads: number; readonly inserts: number; readonly updates: number; readonly deletes: number };
  /** When failed: why (e.g. "binlog purged: re-snapshot required"). */
  readonly error?: string;
}

export interface StopCdcResult {
  readonly state: CdcState;
  readonly finalPosition: string | null;
}

/** Drain: waits until the table has produced no event for `quietMs` and the ETL group's lag is 0. */
export interface DrainCdcInput extends CdcRef {
  readonly group: string;
  readonly quietMs: number;
  readonly sliceMs: number;
}

export interface DrainCdcResult {
  readonly drained: boolean;
  readonly quietForMs: number;
  readonly etlLagEvents: number;
  readonly lastEventPosition: string | null;
  readonly stoppedBy: StoppedBy;
}

// -------------------------------------------------------------------------------------------------------- backfill

export interface BackfillInput extends TableInput {
  readonly topic: string;
  /** Opaque resume cursor from the previous slice (null: start from the first key). */
  readonly cursor: string | null;
  readonly maxRowsPerSecond?: number;
  readonly parallelism: number;
  readonly targetChunkMs: number;
  readonly sliceMs: number;
  /** Rows copied before this slice (so the returned total is cumulative). */
  readonly rowsCopiedBefore: number;
  /** The ETL group whose backlog on `topic` the lag back-off watches (absent: only CDC lag is watched). */
  readonly group?: string;
  /** Lag back-off limits (migration-config `backfill.maxLagMs` / `maxLagMessages`); absent: the defaults, 0: off. */
  readonly maxLagMs?: number;
  readonly maxLagMessages?: number;
}

/** Cumulative progress; also the heartbeat details of runBackfill. */
export interface BackfillProgress {
  readonly done: boolean;
  readonly cursor: string | null;
  readonly rowsCopied: number;
  readonly rowsTotalEstimate: number;
  readonly rowsPerSecond: number;
  /** Times the target throttled or CDC lag forced a back-off during this slice. */
  readonly throttles: number;
  readonly stoppedBy: StoppedBy;
  /** Why the copy is holding right now (e.g. "ETL backlog 12000 events > maxLagMessages 5000"); absent when copying. */
  readonly waitingOn?: string;
}

// ------------------------------------------------------------------------------------------------------------- ETL

export interface EtlRef {
  readonly ctx: ActivityCtx;
  readonly mappingFile: string;
  readonly topic: string;
  readonly group: string;
}

/** One ETL consumer of the group, run as a long heartbeated activity for at most `sliceMs`. */
export interface RunEtlInput extends EtlRef {
  readonly sliceMs: number;
  /** Index of this consumer among the workflow's consumers (for logs; Kafka assigns partitions). */
  readonly consumer: number;
  /** Stop and report when more than this many events were dead-lettered (the group total). */
  readonly maxDlqEvents: number;
}

export interface RunEtlResult {
  readonly appliedEvents: number;
  readonly dlqEvents: number;
  /** `dlq-threshold`: too many dead letters; the consumer stopped and says why in `reason`. */
  readonly stoppedBy: StoppedBy | 'dlq-threshold';
  readonly reason?: string;
}

export interface EtlDescription {
  /** Sum over partitions of end offset − committed offset. */
  readonly lagEvents: number;
  readonly lagByPartition: readonly { readonly partition: number; readonly lag: number }[];
  /** Seconds between the newest published event and the newest applied one (0 when caught up). */
  readonly lagSeconds: number;
  /** Events dead-lettered so far by this group. */
  readonly dlqCount: number;
  /** Applied events per second over the last minute. */
  readonly applyRate: number;
  readonly throttles: number;
  /** The apply mode the live consumers run, null if they disagree (a switch in progress) or none is live. */
  readonly applyMode: ApplyMode | null;
}

/** Waits until the group has applied every event the source produced up to `through`. */
export interface AwaitEtlCatchUpInput extends EtlRef {
  /** `source-now`: the source's position when the activity starts (used behind the write fence); `topic-end`: the
   * topic's end offsets when the activity starts. */
  readonly through: 'source-now' | 'topic-end';
  readonly maxLagEvents: number;
  readonly sliceMs: number;
}

export interface AwaitEtlCatchUpResult {
  readonly caughtUp: boolean;
  /** The position waited for (a GTID set / file:pos for source-now, offsets as JSON text for topic-end). */
  readonly throughPosition: string;
  readonly lagEvents: number;
  readonly stoppedBy: StoppedBy;
}

/** Switches every consumer of the group to `mode` and waits until all live consumers run it. */
export interface SetApplyModeInput extends EtlRef {
  readonly mode: ApplyMode;
  readonly timeoutMs: number;
}

export interface SetApplyModeResult {
  readonly mode: ApplyMode;
  /** Version of the apply-mode setting, increasing. */
  readonly version: number;
  /** Consumers that acknowledged it. */
  readonly consumers: number;
}

// ---------------------------------------------------------------------------------------------------------- verify

export interface VerifyInput extends TableInput {
  readonly mode: 'full' | 'sampled' | 'resume';
  readonly sampleFraction?: number;
  /** Resume cursor (last verified key, opaque) for `resume`, or from the previous slice. */
  readonly cursor: string | null;
  readonly sliceMs: number;
  /** Counts from previous slices of the same run (so the returned counts are cumulative). */
  readonly before?: VerifyCounts;
  /** Report file of previous slices of the same run (appended to). */
  readonly reportPath?: string;
  /**
   * The table's CDC topic and ETL consumer group, for the recheck's applied-through probe. Workflows started before
   * these fields existed do not pass them: the activity then looks for the topic's one committing group itself.
   */
  readonly topic?: string;
  readonly group?: string;
}

export interface VerifyCounts {
  readonly rowsCompared: number;
  readonly missing: number;
  readonly extra: number;
  readonly different: number;
}

/** Cumulative verification progress and result; also the heartbeat details of verify. */
export interface VerifyProgress extends VerifyCounts {
  readonly done: boolean;
  readonly cursor: string | null;
  /** JSON report with every mismatching key (complete) and a sample of differing attributes. */
  readonly reportPath: string;
  readonly stoppedBy: StoppedBy;
}

export interface RepairInput extends TableInput {
  readonly topic: string;
  readonly reportPath: string;
  /** The ETL consumer group (see VerifyInput.group). */
  readonly group?: string;
}

export interface RepairResult {
  /** Keys re-enqueued through the normal apply path. */
  readonly keysRequeued: number;
}

// --------------------------------------------------------------------------------------------------------- routing

/** A new flag state for the table; persisted durably as a new version. */
export interface SetRoutingFlagsInput {
  readonly ctx: ActivityCtx;
  readonly mappingFile: string;
  /** Percentage (0..100) of reads served by DynamoDB, sticky per key. */
  readonly readPercent: number;
  readonly writeMode: WriteMode;
  /** Fraction of reads that are shadow-compared (0..1). */
  readonly shadowReadFraction: number;
  /** Why (shown to operators and stored with the version). */
  readonly cause: string;
}

export interface SetRoutingFlagsResult {
  /** The version now in force; strictly increasing per table. Idempotent: the same state returns its version. */
  readonly version: number;
}

export interface AwaitFlagBarrierInput {
  readonly ctx: ActivityCtx;
  readonly version: number;
  readonly timeoutMs: number;
}

/**
 * Resolves when every live application instance (heartbeat within its TTL) has applied `version` or later.
 * On timeout fails with FlagBarrierTimeoutError, whose message names the laggards and the version each runs.
 */
export interface AwaitFlagBarrierResult {
  readonly version: number;
  readonly instances: number;
  readonly waitedMs: number;
}

/** Counts since `since` (ISO time): what gates are evaluated on. */
export interface ShadowStatsInput {
  readonly ctx: ActivityCtx;
  readonly since: string;
}

export interface ShadowStats {
  readonly readsCompared: number;
  readonly readMismatches: number;
  readonly shadowWrites: number;
  readonly shadowWriteErrors: number;
  readonly backgroundWrites: number;
  readonly backgroundWriteErrors: number;
}

/**
 * Behind the fence, before leaving a DynamoDB-primary mode: waits until every background MySQL write issued by the
 * instances has completed, and re-applies from DynamoDB to MySQL the keys whose background write failed, so MySQL
 * holds every acknowledged write. Fails (retryable) while some remain.
 */
export interface DrainBackgroundWritesInput {
  readonly ctx: ActivityCtx;
  readonly mappingFile: string;
  readonly timeoutMs: number;
}

export interface DrainBackgroundWritesResult {
  readonly pending: number;
  readonly reconciledKeys: number;
}

// --------------------------------------------------------------------------------------------------------- cleanup

/** After completion: removes tombstones and other reserved bookkeeping from the target table. */
export interface CleanupResult {
  readonly tombstonesDeleted: number;
}

/** What this migration created, so abort removes exactly that (and never touches the source). */
export interface CreatedResources {
  readonly cdcId?: string;
  readonly topic?: string;
  readonly createdTopic?: boolean;
  readonly createdTask?: boolean;
  readonly targetTable?: string;
  readonly createdTarget?: boolean;
  readonly group?: string;
  readonly flagsWritten?: boolean;
}

export interface AbortCleanupInput {
  readonly ctx: ActivityCtx;
  readonly mappingFile: string;
  readonly cdc: CdcConfig;
  readonly created: CreatedResources;
  /** Drop the target table too, even if non-empty (only when this migration created it). */
  readonly dropTarget: boolean;
}

export interface AbortCleanupResult {
  readonly removed: readonly string[];
  readonly kept: readonly string[];
}

export interface EnsureTargetResult {
  readonly targetTable: string;
  readonly created: boolean;
}

// ------------------------------------------------------------------------------------------------------ the contract

/**
 * Every activity the table-migration workflow calls. `createMigrationActivities(deps)` (src/activities/migration.ts)
 * returns an object of this type; the workflow proxies it by type only.
 */
export interface MigrationActivities {
  /** Checks the source (binlog ROW/FULL, GTID strict, privileges, primary key), the mapping, and the DynamoDB
   * permissions of the target and ETL control table (proven without changing anything). Non-retryable on failure
   * (PreflightError / ConfigError naming the check; DynamoPermissionError naming every missing permission). */
  preflight(input: TableInput & { readonly cdc: CdcConfig }): Promise<PreflightResult>;
  /** Creates the target table from the mapping when `create` and it is missing; otherwise checks it matches. Never
   * drops or truncates a non-empty table. */
  ensureTarget(input: TableInput & { readonly create: boolean }): Promise<EnsureTargetResult>;

  /** Creates (or reuses) the topic and starts (or resumes) CDC for the table. Idempotent. */
  startCdc(input: StartCdcInput): Promise<StartCdcResult>;
  describeCdc(input: CdcRef): Promise<CdcDescription>;
  stopCdc(input: CdcRef): Promise<StopCdcResult>;
  /** Heartbeated; returns `drained: false, stoppedBy: 'slice-elapsed'` to let the workflow loop. */
  drainCdc(input: DrainCdcInput): Promise<DrainCdcResult>;

  /** One slice of the resumable backfill; heartbeats BackfillProgress; honours cancellation within one chunk. */
  runBackfill(input: BackfillInput): Promise<BackfillProgress>;

  /** One ETL consumer for one slice (heartbeated; graceful stop commits only durable offsets). */
  runEtl(input: RunEtlInput): Promise<RunEtlResult>;
  describeEtl(input: EtlRef): Promise<EtlDescription>;
  /** Heartbeated wait for the ETL to catch up (the consumers keep running meanwhile). */
  awaitEtlCatchUp(input: AwaitEtlCatchUpInput): Promise<AwaitEtlCatchUpResult>;
  /** Durably switches the apply mode and waits for every live consumer to run it (flushing exclusive batches). */
  setApplyMode(input: SetApplyModeInput): Promise<SetApplyModeResult>;

  /** One slice of verification (full, sampled, resume); heartbeats VerifyProgress. */
  verify(input: VerifyInput): Promise<VerifyProgress>;
  /** Re-enqueues the report's mismatching keys through the normal apply path. */
  repair(input: RepairInput): Promise<RepairResult>;

  setRoutingFlags(input: SetRoutingFlagsInput): Promise<SetRoutingFlagsResult>;
  awaitFlagBarrier(input: AwaitFlagBarrierInput): Promise<AwaitFlagBarrierResult>;
  readShadowStats(input: ShadowStatsInput): Promise<ShadowStats>;
  drainBackgroundWrites(input: DrainBackgroundWritesInput): Promise<DrainBackgroundWritesResult>;

  /** After `complete`: removes tombstones (idempotent, resumable). */
  cleanup(input: TableInput): Promise<CleanupResult>;
  /** On abort: stops CDC and removes what `created` lists; the source is never touched. */
  abortCleanup(input: AbortCleanupInput): Promise<AbortCleanupResult>;
}

/** The names of every activity, for wiring checks and the worker's metrics wrapper. */
export const MIGRATION_ACTIVITY_NAMES = [
  'preflight', 'ensureTarget', 'startCdc', 'describeCdc', 'stopCdc', 'drainCdc', 'runBackfill', 'runEtl',
  'describeEtl', 'awaitEtlCatchUp', 'setApplyMode', 'verify', 'repair', 'setRoutingFlags', 'awaitFlagBarrier',
  'readShadowStats', 'drainBackgroundWrites', 'cleanup', 'abortCleanup',
] as const satisfies readonly (keyof MigrationActivities)[];

/** The phase an activity call belongs to: re-exported so implementations can type their logs. */
export type { Phase };
