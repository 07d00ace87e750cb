/**
 * The durable, versioned flag store and the barrier, in three small MySQL tables of a control schema.
 *
 * Why MySQL and not DynamoDB: every participant already holds a MySQL connection during the whole migration (the
 * application writes MySQL until the end, the workflow's activities read the binlog position there); a single row
 * update is transactional, so compare-and-set of the flag version and the history row commit together; and liveness
 * is judged by ONE clock — the database's NOW(6) writes every heartbeat and evaluates every barrier — so clock skew
 * between application hosts cannot make a dead instance look alive or a live one dead. The side table
 * cutover_row_versions must be in MySQL anyway (it is updated in the same transaction as a background MySQL write).
 *
 *   cutover_routing_flags         (table_id PK, version, flags JSON, updated_at)     the current flags per table
 *   cutover_routing_flag_history  (table_id, version PK, flags, changed_at, note)     every version ever set
 *   cutover_routing_instances     (table_id, instance_id PK, applied_version, pending_background, stats, heartbeat_at)
 *
 * Invariants: the version of a table's flags rises by exactly one per change and only through `update` (a
 * compare-and-set under SELECT … FOR UPDATE); an instance's heartbeat reports the lowest flag version any of its
 * requests still runs under, so `awaitBarrier(v)` returning means no request under a version below v is in flight on
 * any live instance.
 */
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { FlagBarrierTimeoutError } from '../shared/errors';
import { FlagVersionConflictError } from './errors';
import { isRetryableMysqlError } from './mysql-side';
import { DEFAULT_FLAGS, nextFlags, parseFlags, sameState, type FlagChange, type TableFlags } from './flags';

/** What an instance reports in its heartbeat. */
export interface InstanceReport {
  readonly instanceId: string;
  readonly appliedVersion: number;
  readonly pendingBackground: number;
  /** Counters (background failures, shadow mismatches…) for the workflow and operators. */
  readonly stats: Readonly<Record<string, number>>;
}

/** One heartbeat row as the workflow sees it. */
export interface InstanceStatus extends InstanceReport {
  readonly live: boolean;
  readonly lastHeartbeatAgoMs: number;
}

export interface BarrierOptions {
  readonly timeoutMs: number;
  /** An instance whose last heartbeat is older than this is dead and ignored (default 10 s). */
  readonly livenessMs?: number;
  /** Also wait until every live instance has no background write pending (needed before leaving dynamo-primary). */
  readonly requireDrained?: boolean;
  readonly pollMs?: number;
}

const q = (s: string) => `\`${s.replace(/`/g, '``')}\``;

/** Flags, flag history and instance heartbeats, stored in `schema` of `pool`'s server. */
export class FlagStore {
  readonly flagsTable: string;
  readonly historyTable: string;
  readonly instancesTable: string;
  readonly rowVersionsTable: string;

  constructor(
    readonly pool: Pool,
    readonly schema: string,
  ) {
    this.flagsTable = `${q(schema)}.cutover_routing_flags`;
    this.historyTable = `${q(schema)}.cutover_routing_flag_history`;
    this.instancesTable = `${q(schema)}.cutover_routing_instances`;
    this.rowVersionsTable = `${q(schema)}.cutover_row_versions`;
  }

  /** Creates the control tables if absent (idempotent). */
  async ensureSchema(): Promise<void> {
    await this.pool.query(`CREATE DATABASE IF NOT EXISTS ${q(this.schema)}`);
    await this.pool.query(`CREATE TABLE IF NOT EXISTS ${this.flagsTable} (
      table_id VARCHAR(255) NOT NULL PRIMARY KEY, version BIGINT NOT NULL, flags JSON NOT NULL, updated_at DATETIME(6) NOT NULL)`);
    await this.pool.query(`CREATE TABLE IF NOT EXISTS ${this.historyTable} (
      table_id VARCHAR(255) NOT NULL, version BIGINT NOT NULL, flags JSON NOT NULL, changed_at DATETIME(6) NOT NULL, note VARCHAR(1000),
      PRIMARY KEY (table_id, version))`);
    await this.pool.query(`CREATE TABLE IF NOT EXISTS ${this.instancesTable} (
      table_id VARCHAR(255) NOT NULL, instance_id VARCHAR(191) NOT NULL, applied_version BIGINT NOT NULL,
      pending_background INT NOT NULL, stats JSON NOT NULL, heartbeat_at DATETIME(6) NOT NULL,
      PRIMARY KEY (table_id, instance_id))`);
    await this.pool.query(`CREATE TABLE IF NOT EXISTS ${this.rowVersionsTable} (
      table_id VARCHAR(255) NOT NULL, key_hash BINARY(32) NOT NULL, key_json TEXT NOT NULL, version DECIMAL(38,0) NOT NULL,
      PRIMARY KEY (table_id, key_hash))`);
  }

  /** The current flags of `tableId` ("schema.table"); DEFAULT_FLAGS (version 0) when never set. */
  async get(tableId: string): Promise<TableFlags> {
    const [rows] = await this.pool.query<RowDataPacket[]>(`SELECT flags FROM ${this.flagsTable} WHERE table_id = ?`, [tableId]);
    if (rows.length === 0) return DEFAULT_FLAGS;
    const raw = rows[0].flags;
    return parseFlags(tableId, typeof raw === 'string' ? JSON.parse(raw) : raw);
  }

  /**
   * Applies `change` as version + 1 and returns the new flags; a change to the state already in force returns the
   * current flags unchanged (so a retried activity does not bump the version). With `expectedVersion`, fails with
   * FlagVersionConflictError unless the stored version is exactly that. Write-mode steps that skip a stage fail
   * with FlagError.
   */
  async update(tableId: string, change: FlagChange, opts: { expectedVersion?: number; note?: string } = {}): Promise<TableFlags> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.updateOnce(tableId, change, opts);
      } catch (e) {
        // Two first-ever changes of a table race on the gap lock of the absent row; one is chosen as deadlock victim.
        if (!isRetryableMysqlError(e) || attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, 5 * attempt * Math.random()));
      }
    }
  }

  private async updateOnce(tableId: string, change: FlagChange, opts: { expectedVersion?: number; note?: string }): Promise<TableFlags> {
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      const [rows] = await conn.query<RowDataPacket[]>(`SELECT flags FROM ${this.flagsTable} WHERE table_id = ? FOR UPDATE`, [tableId]);
      const current = rows.length === 0 ? DEFAULT_FLAGS : parseFlags(tableId, typeof rows[0].flags === 'string' ? JSON.parse(rows[0].flags) : rows[0].flags);
      if (opts.expectedVersion !== undefined && opts.expectedVersion !== current.version) {
        throw new FlagVersionConflictError(tableId, opts.expectedVersion, current.version);
      }
      const next = nextFlags(tableId, current, change);
      if (sameState(current, next) && current.version > 0) {
        await conn.rollback();
        return current;
      }
      const json = JSON.stringify(next);
      await conn.query(
        `INSERT INTO ${this.flagsTable} (table_id, version, flags, updated_at) VALUES (?, ?, ?, NOW(6))
         ON DUPLICATE KEY UPDATE version = VALUES(version), flags = VALUES(flags), updated_at = VALUES(updated_at)`,
        [tableId, next.version, json],
      );
      await conn.query(`INSERT INTO ${this.historyTable} (table_id, version, flags, changed_at, note) VALUES (?, ?, ?, NOW(6), ?)`, [
        tableId,
        next.version,
        json,
        opts.note ?? null,
      ]);
      await conn.commit();
      return next;
    } catch (e) {
      await conn.rollback().catch(() => undefined);
      throw e;
    } finally {
      conn.release();
    }
  }

  /** Upserts the heartbeat row of one instance, stamped with the database clock. */
  async heartbeat(tableId: string, report: InstanceReport): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.instancesTable} (table_id, instance_id, applied_version, pending_background, stats, heartbeat_at)
       VALUES (?, ?, ?, ?, ?, NOW(6))
       ON DUPLICATE KEY UPDATE applied_version = VALUES(applied_version), pending_background = VALUES(pending_background),
         stats = VALUES(stats), heartbeat_at = VALUES(heartbeat_at)`,
      [tableId, report.instanceId, report.appliedVersion, report.pendingBackground, JSON.stringify(report.stats)],
    );
  }

  /**
   * Marks an instance retired (clean shutdown): its heartbeat is dated far in the past, so barriers stop waiting for
   * it at once, while its counters stay for the workflow's gates.
   */
  async retire(tableId: string, instanceId: string): Promise<void> {
    await this.pool.query(`UPDATE ${this.instancesTable} SET heartbeat_at = '1970-01-01 00:00:00' WHERE table_id = ? AND instance_id = ?`, [tableId, instanceId]);
  }

  /**
   * After a migration completed (or was abandoned): drops the table's row versions and heartbeat rows. The flags and
   * their history stay as the audit trail. Returns how many rows went.
   */
  async forgetTable(tableId: string): Promise<{ rowVersions: number; instances: number }> {
    const [a] = await this.pool.query<ResultSetHeader>(`DELETE FROM ${this.rowVersionsTable} WHERE table_id = ?`, [tableId]);
    const [b] = await this.pool.query<ResultSetHeader>(`DELETE FROM ${this.instancesTable} WHERE table_id = ?`, [tableId]);
    return { rowVersions: a.affectedRows, instances: b.affectedRows };
  }

  /** Every instance that ever reported on `tableId`, with liveness judged by the database clock. */
  async instances(tableId: string, livenessMs = 10_000): Promise<InstanceStatus[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT instance_id, applied_version, pending_background, stats,
              TIMESTAMPDIFF(MICROSECOND, heartbeat_at, NOW(6)) AS ago_us
         FROM ${this.instancesTable} WHERE table_id = ? ORDER BY instance_id`,
      [tableId],
    );
    return rows.map((r) => {
      const ago = Number(r.ago_us) / 1000;
      return {
        instanceId: String(r.instance_id),
        appliedVersion: Number(r.applied_version),
        pendingBackground: Number(r.pending_background),
        stats: typeof r.stats === 'string' ? JSON.parse(r.stats) : r.stats,
        live: ago <= livenessMs,
        lastHeartbeatAgoMs: Math.round(ago),
      };
    });
  }

  /**
   * Resolves when every live instance of `tableId` runs flags ≥ `version` (and, with requireDrained, has no
   * background write pending); returns their statuses. Throws FlagBarrierTimeoutError naming the laggards otherwise.
   * An instance that never heartbeats is invisible here: every MigratingTable heartbeats before serving a request.
   */
  async awaitBarrier(tableId: string, version: number, opts: BarrierOptions): Promise<InstanceStatus[]> {
    const started = Date.now();
    for (;;) {
      const live = (await this.instances(tableId, opts.livenessMs)).filter((s) => s.live);
      const laggards = live.filter((s) => s.appliedVersion < version || (opts.requireDrained === true && s.pendingBackground > 0));
      if (laggards.length === 0) return live;
      if (Date.now() - started >= opts.timeoutMs) {
        throw new FlagBarrierTimeoutError(
          version,
          laggards.map((l) => ({
            instance: `${tableId}@${l.instanceId}${l.pendingBackground > 0 ? ` [${l.pendingBackground} background writes pending]` : ''}`,
            appliedVersion: l.appliedVersion,
          })),
          Date.now() - started,
        );
      }
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
    }
  }
}
