/**
 * The parsed, validated migration configuration: plain JSON, the input of the table-migration and plan workflows.
 * The YAML file format and its validation live in src/cli/config.ts; this file holds only types and the defaults,
 * so that workflows can import it. Durations are milliseconds; rates are per second.
 */
import type { WriteMode } from './phases';

/** A source table. */
export interface TableRef {
  readonly database: string;
  readonly table: string;
}

/** `auto`: the workflow moves on when the thresholds hold; `manual`: it also waits for an operator's `approve`. */
export type GateMode = 'auto' | 'manual';

/** The gates a migration passes, each automatic or manual. */
export interface Gates {
  /** Before the first read percentage (after verification passed). */
  readonly reads: GateMode;
  /** Before each further step of the read ladder. */
  readonly readSteps: GateMode;
  /** Before shadow writes begin (reads at 100%). */
  readonly shadowWrites: GateMode;
  /** Before the primary store becomes DynamoDB. */
  readonly flipWrites: GateMode;
  /** Before MySQL stops receiving writes (the last point from which rollback is possible). */
  readonly dynamoOnly: GateMode;
}

/** Thresholds of the automatic gates. A gate fails (and the workflow waits for an operator) when one is exceeded. */
export interface Thresholds {
  /** Shadow-read mismatches tolerated during one read step's soak (absolute count). */
  readonly maxShadowReadMismatches: number;
  /** Shadow-read mismatch rate tolerated (mismatches / compared), 0..1. */
  readonly maxShadowReadMismatchRate: number;
  /** Failed shadow / background writes tolerated during one write phase's soak. */
  readonly maxShadowWriteErrors: number;
  /** Verification mismatches tolerated (normally 0; any mismatch is repaired first). */
  readonly maxVerifyMismatches: number;
  /** Dead-lettered events tolerated before the workflow stops and asks an operator. */
  readonly maxDlqEvents: number;
  /** ETL lag (events) under which the ETL counts as caught up. */
  readonly maxCatchUpLagEvents: number;
}

/** How long each step is held before its gate is evaluated. */
export interface SoakTimes {
  readonly readStepMs: number;
  readonly shadowWritesMs: number;
  readonly flipWritesMs: number;
}

/** Where change events come from. */
export interface CdcConfig {
  /** `builtin`: cutover's binlog reader; `dms`: an AWS DMS replication task. */
  readonly source: 'builtin' | 'dms';
  readonly topic: string;
  readonly partitions: number;
  /** AWS DMS settings, required when source is `dms` (ARNs are ids, not credentials). */
  readonly dms?: {
    readonly replicationInstanceArn: string;
    readonly sourceEndpointArn: string;
    readonly targetEndpointArn: string;
    readonly taskIdentifier?: string;
  };
}

/** One table's migration. */
export interface TableMigrationConfig {
  readonly source: TableRef;
  /** Path of the table's mapping file, readable by every worker. */
  readonly mappingFile: string;
  /** Create the target table from the mapping if it does not exist (otherwise it must exist and match). */
  readonly createTarget: boolean;
  readonly cdc: CdcConfig;
  readonly etl: {
    /** Consumer group of this table's ETL. */
    readonly group: string;
    /** `workflow`: the workflow runs `consumers` ETL activities; `external`: ETL processes run elsewhere. */
    readonly runner: 'workflow' | 'external';
    readonly consumers: number;
  };
  readonly backfill: {
    readonly maxRowsPerSecond?: number;
    readonly parallelism: number;
    /** Target time per chunk; the chunk size adapts to it. */
    readonly targetChunkMs: number;
    /**
     * Lag back-off (like gh-ost's max-lag-millis): before each chunk the copy waits while the CDC reader's lag or the
     * ETL's time lag (backlog ÷ apply rate) exceeds this many ms; 0 disables. Absent: CONFIG_DEFAULTS.
     */
    readonly maxLagMs?: number;
    /** The copy also waits while the ETL group's backlog on the topic exceeds this many events; 0 disables. */
    readonly maxLagMessages?: number;
  };
  readonly verify: {
    readonly mode: 'full' | 'sampled';
    readonly sampleFraction?: number;
    /** Repair mismatches and verify again this many times before asking an operator. */
    readonly repairAttempts: number;
  };
  /** Percentages of reads served from DynamoDB, ascending, ending at 100. */
  readonly readLadder: readonly number[];
  readonly soak: SoakTimes;
  readonly gates: Gates;
  readonly thresholds: Thresholds;
  /** Fraction (0..1) of reads compared against the other store once reads or writes touch DynamoDB. */
  readonly shadowReadFraction: number;
  /** How long to wait for every application instance to apply a flag version. */
  readonly barrierTimeoutMs: number;
  /** How long writes may be held behind the write fence while the ETL catches up; then the fence is released. */
  readonly fenceTimeoutMs: number;
  /** How often the workflow samples CDC and ETL lag for its status. */
  readonly monitorIntervalMs: number;
  /** Drain CDC: no events for this long, with ETL lag 0. */
  readonly drainQuietMs: number;
  /** Slice length of long activities (backfill, verify, ETL): each returns its cursor at least this often. */
  readonly sliceMs: number;
}

/** A plan: several tables, migrated as child workflows, at most `concurrency` at a time. */
export interface MigrationPlanConfig {
  readonly name: string;
  readonly concurrency: number;
  readonly tables: readonly TableMigrationConfig[];
}

/** Write modes a rollback may return to, by target phase: see the workflow's rollback section. */
export type RollbackWriteMode = Extract<WriteMode, 'mysql-only' | 'mysql-primary' | 'dynamo-primary'>;

/** Defaults applied by the config parser to every table. */
export const CONFIG_DEFAULTS = {
  createTarget: true,
  etl: { runner: 'workflow', consumers: 1 },
  backfill: { parallelism: 1, targetChunkMs: 500, maxLagMs: 30_000, maxLagMessages: 200_000 },
  verify: { mode: 'full', repairAttempts: 2 },
  readLadder: [1, 10, 50, 100],
  soak: { readStepMs: 10 * 60_000, shadowWritesMs: 30 * 60_000, flipWritesMs: 30 * 60_000 },
  gates: { reads: 'manual', readSteps: 'auto', shadowWrites: 'manual', flipWrites: 'manual', dynamoOnly: 'manual' },
  thresholds: {
    maxShadowReadMismatches: 0,
    maxShadowReadMismatchRate: 0,
    maxShadowWriteErrors: 0,
    maxVerifyMismatches: 0,
    maxDlqEvents: 0,
    maxCatchUpLagEvents: 0,
  },
  shadowReadFraction: 0.05,
  barrierTimeoutMs: 2 * 60_000,
  fenceTimeoutMs: 20_000,
  monitorIntervalMs: 60_000,
  drainQuietMs: 60_000,
  sliceMs: 5 * 60_000,
} as const;
