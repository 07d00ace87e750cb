/**
 * Durable resume cursors for backfill and verify, kept out of Temporal history (issue 9, "no row data in workflow
 * history"): a cursor holds primary-key values (the last copied / verified key), so it lives in a small table in the
 * cutover meta database (the CDC task table's database, on the source pool), and what crosses Temporal (heartbeat
 * details, activity results, workflow state, continue-as-new input) is only a reference `cursor-ref:v1:<stage>:<gen>`.
 *
 * Invariants:
 * - One row per (owner = migration id, stage 'backfill' | 'verify'). `generation` only grows: every save and every
 *   reset adds one, so a reference names a point the row has reached and a row behind a reference is an error.
 * - Fencing: an attempt `claim`s the row first, which bumps `epoch`; every save is `UPDATE … WHERE epoch = mine`, so
 *   an older attempt still running (a zombie after kill -9, or a timed-out one) can never overwrite the cursor of a
 *   newer attempt: its save affects no row and fails with CursorFencedError.
 * - A claim reads the cursor after bumping the epoch, so it sees every save of earlier attempts that will ever land.
 *   The cursor it returns is at least as far as any reference the workflow or a heartbeat holds (saves happen before
 *   the reference is published), so resuming from it skips nothing (the copy's cursor invariants, backfill/cursor.ts).
 * - A claim with no reference (null) starts fresh: it clears the cursor (a first run, or an operator's rewind).
 * - A text that is not a reference (a raw cursor from before this store) is passed through unchanged.
 * - Parallel key ranges need no row each: a backfill cursor (backfill/cursor.ts) holds every range's own position,
 *   and each save writes the newest such composite. A range's entry changes only after its chunk was acknowledged,
 *   and the composite and its counters are taken together between two awaits (backfill.ts `progress()`), so every
 *   saved composite is, range by range, at or ahead of every earlier one: coalescing saves (CursorPublisher keeps only
 *   the newest) drops no range's progress. A resumed attempt restarts each range after its own stored key, so after a
 *   kill a range re-copies only the chunks it had acknowledged after the last save that landed — the same bound one
 *   row per range would give, since that row too would be written after the acknowledgement — and one row keeps the
 *   ranges and the counters atomic under one epoch. Proof: test/integration/backfill/range-resume.test.ts.
 */
import type * as mysql from 'mysql2/promise';
import { CutoverError } from '../shared/errors';

/** Which long activity a cursor belongs to. */
export type CursorStage = 'backfill' | 'verify';

/** The cursor table's name inside the meta database. */
export const CURSOR_TABLE = 'cutover_cursors';

const REF = /^cursor-ref:v1:(backfill|verify):(\d+)$/;

/** The reference that travels through Temporal for generation `generation` of `stage`'s row. */
export function cursorRef(stage: CursorStage, generation: number): string {
  return `cursor-ref:v1:${stage}:${generation}`;
}

/** The stage and generation of a reference, or undefined if `text` is not one. */
export function parseCursorRef(text: string): { stage: CursorStage; generation: number } | undefined {
  const m = REF.exec(text);
  return m ? { stage: m[1] as CursorStage, generation: Number(m[2]) } : undefined;
}

/** The stored cursor is missing or behind the reference that names it (no key values in the message). */
export class CursorStoreError extends CutoverError {
  constructor(
    readonly owner: string,
    readonly stage: CursorStage,
    message: string,
  ) {
    super(`${stage} cursor of ${owner}: ${message}`);
  }
}

/** A newer attempt claimed the cursor: this (older) attempt must stop; its progress is already covered. */
export class CursorFencedError extends CutoverError {
  constructor(
    readonly owner: string,
    readonly stage: CursorStage,
    readonly epoch: number,
  ) {
    super(`${stage} cursor of ${owner}: attempt epoch ${epoch} was superseded by a newer attempt`);
  }
}

/** Counters saved with a cursor (rows copied, rows compared…): they describe exactly the stored cursor. */
export type CursorCounters = Readonly<Record<string, number>>;

/** One attempt's hold on a cursor row: where to resume from, and how to save. */
export interface CursorClaim {
  /** The raw cursor to resume from (null: from the first key). Never put it into Temporal. */
  readonly cursor: string | null;
  /** The counters saved with `cursor` (null on a fresh start or a legacy cursor): resume counting from these. */
  readonly counters: CursorCounters | null;
  /** Saves `cursor` with its counters (fenced) and returns the reference to publish instead of it. */
  save(cursor: string, counters: CursorCounters): Promise<string>;
}

/** The cursor table in `metaDb` on `db`; the caller owns `db`. */
export class CursorStore {
  private readonly table: string;
  private ready: Promise<void> | undefined;

  constructor(
    private readonly db: mysql.Pool,
    metaDb: string,
  ) {
    if (!/^[A-Za-z0-9_$]+$/.test(metaDb)) throw new CursorStoreError('-', 'backfill', `invalid metadata database name ${metaDb}`);
    this.table = `\`${metaDb}\`.\`${CURSOR_TABLE}\``;
  }

  /** Creates the table if absent (idempotent; once per store). */
  ensureSchema(): Promise<void> {
    this.ready ??= this.db
      .query(
        `CREATE TABLE IF NOT EXISTS ${this.table} (
          owner VARCHAR(191) NOT NULL,
          stage VARCHAR(16) NOT NULL,
          epoch BIGINT NOT NULL,
          generation BIGINT NOT NULL,
          cursor_text LONGTEXT NULL,
          counters TEXT NULL,
          updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
          PRIMARY KEY (owner, stage)
        )`,
      )
      .then(() => undefined)
      .catch((e: unknown) => {
        this.ready = undefined;
        throw e;
      });
    return this.ready;
  }

  /**
   * Claims `owner`'s `stage` cursor for a new attempt resuming from `from` (a reference, a legacy raw cursor, or null
   * for a fresh start) and returns where to resume. Older attempts are fenced from then on.
   */
  async claim(owner: string, stage: CursorStage, from: string | null): Promise<CursorClaim> {
    await this.ensureSchema();
    const ref = from === null ? undefined : parseCursorRef(from);
    if (ref && ref.stage !== stage) throw new CursorStoreError(owner, stage, `reference is for the ${ref.stage} stage`);
    const fresh = from === null || !ref;
    const initial = ref ? null : from; // a legacy raw cursor seeds the row
    const conn = await this.db.getConnection();
    try {
      await conn.query(`INSERT IGNORE INTO ${this.table} (owner, stage, epoch, generation, cursor_text) VALUES (?, ?, 0, 0, NULL)`, [owner, stage]);
      // LAST_INSERT_ID(expr) hands this connection the epoch it set, even under concurrent claims.
      const [res] = await conn.query(
        `UPDATE ${this.table} SET epoch = LAST_INSERT_ID(epoch + 1), cursor_text = IF(?, ?, cursor_text), counters = IF(?, NULL, counters), generation = generation + IF(?, 1, 0) WHERE owner = ? AND stage = ?`,
        [fresh, initial, fresh, fresh, owner, stage],
      );
      const epoch = Number((res as mysql.ResultSetHeader).insertId);
      const [rows] = await conn.query(`SELECT generation, cursor_text, counters FROM ${this.table} WHERE owner = ? AND stage = ?`, [owner, stage]);
      const row = (rows as { generation: number | string; cursor_text: string | null; counters: string | null }[])[0];
      const generation = Number(row.generation);
      if (ref && generation < ref.generation) throw new CursorStoreError(owner, stage, `stored generation ${generation} is behind the reference's ${ref.generation} (was the ${CURSOR_TABLE} table restored or dropped?)`);
      if (ref && row.cursor_text === null && ref.generation > 0) throw new CursorStoreError(owner, stage, `generation ${generation} holds no cursor`);
      const counters = row.counters === null ? null : (JSON.parse(row.counters) as CursorCounters);
      return { cursor: row.cursor_text, counters, save: (cursor, c) => this.save(owner, stage, epoch, cursor, c) };
    } finally {
      conn.release();
    }
  }

  private async save(owner: string, stage: CursorStage, epoch: number, cursor: string, counters: CursorCounters): Promise<string> {
    const conn = await this.db.getConnection();
    try {
      const [res] = await conn.query(`UPDATE ${this.table} SET cursor_text = ?, counters = ?, generation = LAST_INSERT_ID(generation + 1) WHERE owner = ? AND stage = ? AND epoch = ?`, [cursor, JSON.stringify(counters), owner, stage, epoch]);
      const h = res as mysql.ResultSetHeader;
      if (h.affectedRows === 0) throw new CursorFencedError(owner, stage, epoch);
      return cursorRef(stage, Number(h.insertId));
    } finally {
      conn.release();
    }
  }
}

/** Pauses between retries of a failed cursor save (a lost connection, a lock wait timeout): about 3.7 s in all. */
export const SAVE_RETRY_DELAYS_MS: readonly number[] = [200, 500, 1_000, 2_000];

/**
 * Publishes cursors as references: `offer` saves the newest cursor in the background (coalescing: while a save runs
 * only the newest pending cursor is kept) and then calls its callback with the reference, in order; `refOf` waits for
 * pending saves and returns the reference of a final cursor. A save that fails is retried after each of `retryDelaysMs`
 * (with the newest cursor offered meanwhile), so one lost connection does not cost the attempt its saves and, after
 * a kill, a whole slice of re-copying; a CursorFencedError is final at once. A save still failing after the retries is
 * rethrown by `refOf`.
 */
export class CursorPublisher {
  private pending: { cursor: string; counters: CursorCounters; then: (ref: string) => void } | undefined;
  private running: Promise<void> | undefined;
  private failure: unknown;
  private saved: { cursor: string; ref: string } | undefined;

  constructor(
    private readonly claim: CursorClaim,
    private readonly retryDelaysMs: readonly number[] = SAVE_RETRY_DELAYS_MS,
  ) {}

  /** Saves `cursor` soon, then calls `then` with its reference (skipped if a newer cursor is offered meanwhile). */
  offer(cursor: string, counters: CursorCounters, then: (ref: string) => void): void {
    if (this.failure !== undefined) return;
    this.pending = { cursor, counters, then };
    this.running ??= this.drain();
  }

  /** The reference of `cursor` (null stays null), once saved after every earlier offer. */
  async refOf(cursor: string | null, counters: CursorCounters): Promise<string | null> {
    await this.running;
    if (this.failure !== undefined) throw this.failure;
    if (cursor === null) return null;
    if (this.saved?.cursor === cursor) return this.saved.ref;
    const job = { cursor, counters, then: () => undefined };
    const ref = await this.save(job, false);
    this.saved = { cursor: job.cursor, ref };
    return ref;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending) {
        const job = this.pending;
        this.pending = undefined;
        await this.save(job, true);
      }
    } catch (e) {
      this.failure = e;
      this.pending = undefined;
    } finally {
      this.running = undefined;
    }
  }

  /** Saves `job` (or, with `newest`, a cursor offered while a retry waited), records it and calls its callback. */
  private async save(first: { cursor: string; counters: CursorCounters; then: (ref: string) => void }, newest: boolean): Promise<string> {
    let job = first;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const ref = await this.claim.save(job.cursor, job.counters);
        this.saved = { cursor: job.cursor, ref };
        job.then(ref);
        return ref;
      } catch (e) {
        if (e instanceof CursorFencedError || attempt >= this.retryDelaysMs.length) throw e;
        await new Promise((r) => setTimeout(r, this.retryDelaysMs[attempt]));
        if (newest && this.pending) {
          job = this.pending;
          this.pending = undefined;
        }
      }
    }
  }
}
