/**
 * Durable CDC task state in a small MySQL table (`cutover_cdc_task`) that every machine can reach: the task's
 * configuration, the operator's desired state, the reader's lease, and the checkpoint (the source position up to
 * which Kafka acknowledged every event).
 *
 * Invariants:
 *   - The checkpoint never moves backwards: a save is conditional on the stored GTID sequence being ≤ the new one,
 *     and on the caller still holding the lease (fencing: a reader that lost its lease cannot write).
 *   - Only the reader that holds an unexpired lease saves checkpoints; lease times use the database clock, so
 *     readers on different machines agree on expiry.
 *   - The reader calls save() only with a position whose every earlier event Kafka acknowledged (see ./reader.ts),
 *     so a restart from the stored position loses nothing (at-least-once).
 *   - Counts are cumulative per table and operation and are saved with the position they belong to.
 */
import type { Queryable } from '../row/codec';
import { CdcLeaseLostError, CdcStateError } from './errors';

export const TASK_TABLE = 'cutover_cdc_task';

/** A source position: the last fully published transaction's MariaDB GTID and/or a binlog file:pos after it. */
export interface SourcePosition {
  readonly gtid?: string;
  readonly file?: string;
  readonly pos?: number;
}

export type TableOpCounts = Record<string, { loads: number; inserts: number; updates: number; deletes: number; ddl: number }>;

/** Where a new task starts reading. */
export type StartMode =
  | { readonly kind: 'now' }
  | { readonly kind: 'position'; readonly position: SourcePosition }
  | { readonly kind: 'timestamp'; readonly at: string };

export interface CdcTaskConfig {
  readonly tables: readonly { readonly database: string; readonly table: string }[];
  readonly topic: string;
  readonly partitions: number;
  readonly start: StartMode;
  /** The single GTID domain the source uses. */
  readonly gtidDomain?: number;
}

export type TaskState = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface CdcTaskRecord {
  readonly cdcId: string;
  readonly config: CdcTaskConfig;
  readonly desired: 'running' | 'stopped';
  readonly state: TaskState;
  readonly position: SourcePosition | null;
  readonly counts: TableOpCounts;
  /** Source commit time (epoch seconds) of the newest acknowledged event. */
  readonly lastCommitTime: number | null;
  readonly lagSeconds: number;
  readonly error: string | null;
  readonly owner: string | null;
  readonly leaseUntilMs: number | null;
  readonly updatedAtMs: number;
}

function seqOf(gtid: string | undefined): string | null {
  if (!gtid) return null;
  const parts = gtid.split('-');
  return parts.length === 3 ? parts[2] : null;
}

function qualified(metaDb: string): string {
  if (!/^[A-Za-z0-9_$]+$/.test(metaDb)) throw new CdcStateError('-', `invalid metadata database name ${metaDb}`);
  return `\`${metaDb}\`.\`${TASK_TABLE}\``;
}

/** Durable CDC task records in `metaDb` on `db`. The caller owns `db`. */
export class CheckpointStore {
  private readonly table: string;
  constructor(
    private readonly db: Queryable,
    /** The cutover meta database (also home of the backfill/verify cursor table, src/pipeline/cursor-store.ts). */
    readonly metaDb: string,
  ) {
    this.table = qualified(metaDb);
  }

  /** Creates the table if absent (idempotent). */
  async ensureSchema(): Promise<void> {
    await this.db.query(`CREATE TABLE IF NOT EXISTS ${this.table} (
      cdc_id VARCHAR(191) NOT NULL PRIMARY KEY,
      config LONGTEXT NOT NULL,
      desired VARCHAR(16) NOT NULL,
      state VARCHAR(16) NOT NULL,
      gtid VARCHAR(255) NULL,
      seq DECIMAL(20,0) NULL,
      file VARCHAR(255) NULL,
      pos BIGINT NULL,
      counts LONGTEXT NOT NULL,
      last_commit_time BIGINT NULL,
      lag_seconds DOUBLE NOT NULL DEFAULT 0,
      error TEXT NULL,
      owner VARCHAR(191) NULL,
      lease_until BIGINT NULL,
      updated_at BIGINT NOT NULL
    ) ENGINE=InnoDB`);
  }

  /** Creates the task if it does not exist; returns the stored record and whether it was created. */
  async create(cdcId: string, config: CdcTaskConfig, initial: SourcePosition | null): Promise<{ record: CdcTaskRecord; created: boolean }> {
    const [res] = await this.db.query(
      `INSERT IGNORE INTO ${this.table} (cdc_id, config, desired, state, gtid, seq, file, pos, counts, updated_at)
       VALUES (?, ?, 'running', 'starting', ?, ?, ?, ?, '{}', ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000))`,
      [cdcId, JSON.stringify(config), initial?.gtid ?? null, seqOf(initial?.gtid), initial?.file ?? null, initial?.pos ?? null],
    );
    const created = (res as { affectedRows: number }).affectedRows === 1;
    const record = await this.get(cdcId);
    if (!record) throw new CdcStateError(cdcId, 'task record vanished right after creation');
    return { record, created };
  }

  async get(cdcId: string): Promise<CdcTaskRecord | undefined> {
    const [rows] = await this.db.query(`SELECT * FROM ${this.table} WHERE cdc_id = ?`, [cdcId]);
    const r = (rows as Record<string, unknown>[])[0];
    return r ? toRecord(r) : undefined;
  }

  /** Tasks an operator wants running whose lease is free or expired (for workers that pick up work). */
  async claimable(): Promise<string[]> {
    const [rows] = await this.db.query(
      `SELECT cdc_id FROM ${this.table} WHERE desired = 'running' AND state <> 'failed'
         AND (owner IS NULL OR lease_until < ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000))`,
    );
    return (rows as { cdc_id: string }[]).map((r) => r.cdc_id);
  }

  /**
   * Sets the operator's desired state (stop / resume). Resume resets a failed or stopped task to starting; stop marks
   * a task whose reader is gone stopped at once (otherwise the reader finishes and marks it).
   */
  async setDesired(cdcId: string, desired: 'running' | 'stopped'): Promise<void> {
    const [res] = await this.db.query(
      `UPDATE ${this.table} SET desired = ?, error = IF(? = 'running', NULL, error),
              state = CASE WHEN ? = 'running' AND state IN ('failed', 'stopped') THEN 'starting'
                           WHEN ? = 'stopped' AND state IN ('starting', 'running', 'stopping')
                                THEN IF(owner IS NULL OR lease_until < ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000), 'stopped', 'stopping')
                           ELSE state END,
              updated_at = ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000)
        WHERE cdc_id = ?`,
      [desired, desired, desired, desired, cdcId],
    );
    if ((res as { affectedRows: number }).affectedRows === 0) throw new CdcStateError(cdcId, 'no such CDC task');
  }

  /** Takes or renews the lease for `owner` for `ttlMs`; false when another live owner holds it. */
  async acquireLease(cdcId: string, owner: string, ttlMs: number): Promise<boolean> {
    const [res] = await this.db.query(
      `UPDATE ${this.table} SET owner = ?, lease_until = ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) + ?
        WHERE cdc_id = ? AND (owner IS NULL OR owner = ? OR lease_until < ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000))`,
      [owner, ttlMs, cdcId, owner],
    );
    return (res as { affectedRows: number }).affectedRows === 1;
  }

  /** Gives the lease up (graceful stop), so another reader may start at once. */
  async releaseLease(cdcId: string, owner: string): Promise<void> {
    await this.db.query(`UPDATE ${this.table} SET owner = NULL, lease_until = NULL WHERE cdc_id = ? AND owner = ?`, [cdcId, owner]);
  }

  /**
   * Saves the checkpoint, counts and state, and renews the lease. Throws CdcLeaseLostError when `owner` no longer
   * holds the lease. A position behind the stored one is never written (the counts and state still are).
   */
  async save(cdcId: string, owner: string, ttlMs: number, s: {
    position: SourcePosition | null;
    counts: TableOpCounts;
    state: TaskState;
    lastCommitTime: number | null;
    lagSeconds: number;
    error?: string | null;
  }): Promise<void> {
    const seq = seqOf(s.position?.gtid);
    const forward = `(? IS NOT NULL AND (seq IS NULL OR seq <= ?)) OR (? IS NULL AND seq IS NULL)`;
    const [res] = await this.db.query(
      `UPDATE ${this.table} SET
          gtid = IF(${forward}, ?, gtid), file = IF(${forward}, ?, file), pos = IF(${forward}, ?, pos),
          seq = IF(${forward}, ?, seq),
          counts = ?, state = ?, last_commit_time = ?, lag_seconds = ?, error = ?,
          lease_until = ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) + ?, updated_at = ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000)
        WHERE cdc_id = ? AND owner = ?`,
      [
        seq, seq, seq, s.position?.gtid ?? null,
        seq, seq, seq, s.position?.file ?? null,
        seq, seq, seq, s.position?.pos ?? null,
        seq, seq, seq, seq,
        JSON.stringify(s.counts), s.state, s.lastCommitTime, s.lagSeconds, s.error ?? null, ttlMs, cdcId, owner,
      ],
    );
    if ((res as { affectedRows: number }).affectedRows === 0) {
      const now = await this.get(cdcId);
      throw new CdcLeaseLostError(cdcId, now?.owner ?? 'nobody (task removed)');
    }
  }

  /** Deletes the task record (abort). */
  async remove(cdcId: string): Promise<void> {
    await this.db.query(`DELETE FROM ${this.table} WHERE cdc_id = ?`, [cdcId]);
  }
}

function toRecord(r: Record<string, unknown>): CdcTaskRecord {
  const gtid = (r.gtid as string | null) ?? undefined;
  const file = (r.file as string | null) ?? undefined;
  const pos = r.pos === null || r.pos === undefined ? undefined : Number(r.pos);
  return {
    cdcId: String(r.cdc_id),
    config: JSON.parse(String(r.config)) as CdcTaskConfig,
    desired: r.desired as 'running' | 'stopped',
    state: r.state as TaskState,
    position: gtid || file ? { ...(gtid ? { gtid } : {}), ...(file ? { file, pos } : {}) } : null,
    counts: JSON.parse(String(r.counts)) as TableOpCounts,
    lastCommitTime: r.last_commit_time === null ? null : Number(r.last_commit_time),
    lagSeconds: Number(r.lag_seconds),
    error: (r.error as string | null) ?? null,
    owner: (r.owner as string | null) ?? null,
    leaseUntilMs: r.lease_until === null ? null : Number(r.lease_until),
    updatedAtMs: Number(r.updated_at),
  };
}

/** "0-1-123" / "binlog.000001:4" / "0-1-123@binlog.000001:4": a position as one string. */
export function formatPosition(p: SourcePosition | null): string | null {
  if (!p) return null;
  const fp = p.file ? `${p.file}:${p.pos ?? 4}` : '';
  return p.gtid ? (fp ? `${p.gtid}@${fp}` : p.gtid) : fp || null;
}

/** Inverse of formatPosition. */
export function parsePosition(s: string): SourcePosition {
  const m = /^(?:(\d+-\d+-\d+))?(?:@?([^:@]+):(\d+))?$/.exec(s.trim());
  if (!m || (!m[1] && !m[2])) throw new CdcStateError('-', `not a source position: ${s} (expected d-s-seq, file:pos or d-s-seq@file:pos)`);
  return { ...(m[1] ? { gtid: m[1] } : {}), ...(m[2] ? { file: m[2], pos: Number(m[3]) } : {}) };
}
