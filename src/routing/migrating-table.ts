/**
 * MigratingTable: what the application calls instead of its direct MySQL statements for one migrating table. Rows
 * in, rows out (canonical encoding, src/pipeline/types.ts), the same results whichever store serves.
 *
 * Guarantees (the argument is in docs/design.md, "Routing"):
 *  - Every request runs under one flag version (a lease); a new version applies between requests.
 *  - Write modes: mysql-only (MySQL; CDC carries it), mysql-primary (MySQL transaction, then a DynamoDB shadow write
 *    versioned with the transaction's own GTID: it can never overwrite a newer change and the CDC echo of the same
 *    transaction is a no-op), fenced (writes are held, not failed, until the mode changes; bounded by
 *    fenceTimeoutMs, then FenceTimeoutError with nothing written), dynamo-primary (DynamoDB conditional write with a
 *    DIRECT_BAND version, then a versioned MySQL background write), dynamo-only (DynamoDB only).
 *  - A background write never fails the request; failures are counted, logged with the key and heartbeated.
 *  - Reads: while MySQL is primary (mysql-only, mysql-primary, fenced) readPercent of partitions (sticky by a hash
 *    of the partition-key columns, which for a single-column key is the key) read DynamoDB, the rest MySQL; once DynamoDB is primary (dynamo-primary, dynamo-only) every read goes to it,
 *    because MySQL is then a copy written in the background and reading it would break read-your-writes.
 *    Tombstones read as absent.
 *  - Shadow reads never change a response or its error and add no latency (./shadow-read.ts).
 *  - insert may omit columns and returns the full row stored: MySQL-first modes take it from MySQL (INSERT …
 *    RETURNING: AUTO_INCREMENT, defaults, CURRENT_TIMESTAMP); DynamoDB-first modes fill defaults as MariaDB would from
 *    information_schema (./defaults.ts) and write that same full row to both stores, or refuse with
 *    ColumnDefaultError (AUTO_INCREMENT, expression defaults) before anything is written.
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Pool } from 'mysql2/promise';
import type { Logger } from 'pino';
import { readColumns, type ColumnInfo } from '../pipeline/row/codec';
import type { Row } from '../pipeline/types';
import { changeVersion, DIRECT_BAND, ROW_SPAN } from '../pipeline/version';
import { BackgroundWriter, type BackgroundOptions } from './background';
import { DynamoSide } from './dynamo-side';
import { DefaultFiller } from './defaults';
import { DuplicateKeyError, FenceTimeoutError, RoutingInputError, WriteConflictError } from './errors';
import type { FlagStore } from './flag-store';
import { FlagWatcher, type FlagSource } from './flag-watcher';
import { readsDynamo, type TableFlags, type WriteMode } from './flags';
import { compareSortKeys, keyString, partitionColumns, partitionValue, type RoutingMapping } from './mapping';
import { MysqlSide, type WriteOp } from './mysql-side';
import { ShadowReader, type ShadowOptions } from './shadow-read';

export interface MigratingTableOptions {
  /** A pool created with ROW_QUERY_OPTIONS; the caller owns it. */
  readonly pool: Pool;
  readonly dynamo: DynamoDBClient;
  readonly mapping: RoutingMapping;
  /** Heartbeats, barrier, row versions; also the flag source unless `flagSource` is given. */
  readonly flagStore: FlagStore;
  /** Where flags are read from (e.g. OpenFeatureFlagSource); heartbeats still go to flagStore. */
  readonly flagSource?: FlagSource;
  /** information_schema columns of the source table (read from `pool` when absent). */
  readonly columns?: readonly ColumnInfo[];
  readonly instanceId?: string;
  /** Flag refresh + heartbeat period (default 1000 ms). */
  readonly intervalMs?: number;
  /** Writes hold when flags could not be confirmed for this long (default 5000 ms; keep < barrier liveness). */
  readonly staleMs?: number;
  /** Longest a write is held by the fence before FenceTimeoutError (default 30 000 ms). */
  readonly fenceTimeoutMs?: number;
  readonly background?: BackgroundOptions;
  readonly shadow?: ShadowOptions;
  readonly logger?: Logger;
}

/** Outcome of a write under one mode: whether the row existed/matched, and the stored row of an insert. */
interface WriteResult {
  readonly found: boolean;
  readonly image?: Row;
}

/** Outcome of a DynamoDB-first write. */
interface DirectWrite {
  readonly found: boolean;
  readonly image: Row | undefined;
  readonly version: string;
}

let directCounter = 0n;

const found = (r: WriteResult): boolean => r.found;

/** A migrating table as the application sees it. Create with `MigratingTable.open`, end with `close`. */
export class MigratingTable {
  readonly instanceId: string;
  private readonly mysql: MysqlSide;
  private readonly dynamo: DynamoSide;
  private readonly watcher: FlagWatcher;
  private readonly background: BackgroundWriter;
  private readonly shadow: ShadowReader;
  private readonly partitionCols: readonly string[];
  private readonly counters: Record<string, number> = { fenceWaits: 0, fenceTimeouts: 0, writeConflictRetries: 0 };
  private defaults: Promise<DefaultFiller> | undefined;

  private constructor(
    private readonly opts: MigratingTableOptions,
    columns: readonly ColumnInfo[],
  ) {
    const m = opts.mapping;
    this.instanceId = opts.instanceId ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.mysql = new MysqlSide(opts.pool, m, columns, opts.flagStore.rowVersionsTable);
    this.dynamo = new DynamoSide(opts.dynamo, m);
    this.background = new BackgroundWriter({ logger: opts.logger, ...opts.background });
    // Re-check a mismatch once after 200 ms by default: replication lag (CDC, shadow or background writes) otherwise
    // shows up as false mismatches on hot keys.
    this.shadow = new ShadowReader(m.sourceId, { logger: opts.logger, recheckDelayMs: 200, ...opts.shadow });
    this.partitionCols = partitionColumns(m);
    this.watcher = new FlagWatcher(opts.flagSource ?? opts.flagStore, opts.flagStore, m.sourceId, {
      instanceId: this.instanceId,
      intervalMs: opts.intervalMs,
      staleMs: opts.staleMs,
      logger: opts.logger,
      report: () => ({ pendingBackground: this.background.pending, stats: this.stats() }),
    });
  }

  /** Reads the columns and the flags and heartbeats once; after this the table serves requests. */
  static async open(opts: MigratingTableOptions): Promise<MigratingTable> {
    const { schema, table } = opts.mapping.source;
    const columns = opts.columns ?? (await readColumns(opts.pool, schema, table));
    const t = new MigratingTable(opts, columns);
    // The control tables normally exist (the workflow's first flag change creates them); an application user without
    // CREATE privilege then gets on, and a missing table surfaces as the flag read's own error just below.
    await opts.flagStore.ensureSchema().catch(() => undefined);
    await t.watcher.start();
    return t;
  }

  /** The flags this instance currently applies to new requests. */
  get flags(): TableFlags {
    return this.watcher.flags;
  }

  /** Re-reads the flags now instead of at the next refresh (tests, operators). */
  refreshFlags(): Promise<TableFlags> {
    return this.watcher.refresh();
  }

  /** The live row with `key`'s primary-key values, or undefined. */
  get(key: Row): Promise<Row | undefined> {
    // Written as a promise chain, not async/await: on the hottest call the extra await costs about a microsecond of
    // wall time on a loaded machine (measured), which is 2 % of a loopback point SELECT.
    const f = this.watcher.acquire();
    let fromDynamo: boolean;
    let read: Promise<Row | undefined>;
    try {
      // A split share hashes the partition (so a get and a query of one partition read the same store); the text is
      // only built when a split share or a shadow read needs it.
      fromDynamo = this.readsDynamo(f, f.readPercent > 0 && f.readPercent < 100 ? this.partitionText(key) : '');
      read = fromDynamo ? this.getDynamo(key) : this.mysql.get(key);
    } catch (e) {
      this.watcher.release(f);
      return Promise.reject(e);
    }
    return read.then(
      (result) => {
        this.watcher.release(f);
        if (f.shadowReadFraction > 0) {
          const readMysql = () => this.mysql.get(key);
          const readDynamo = () => this.getDynamo(key);
          this.maybeShadow(f, keyString(this.opts.mapping, key), fromDynamo, result, fromDynamo ? readMysql : readDynamo, fromDynamo ? readDynamo : readMysql);
        }
        return result;
      },
      (e: unknown) => {
        this.watcher.release(f);
        throw e;
      },
    );
  }

  /**
   * Every live row of one partition (the primary-key columns that make the partition key, and only those), in
   * DynamoDB's sort-key order whichever store serves it.
   */
  async query(partition: Row): Promise<Row[]> {
    const given = Object.keys(partition).sort();
    if (given.join(',') !== [...this.partitionCols].sort().join(',')) {
      throw new RoutingInputError(`a query names exactly the partition columns [${this.partitionCols}], got [${given}]`, this.opts.mapping.sourceId);
    }
    const ks = this.partitionText(partition);
    const f = this.watcher.acquire();
    try {
      const m = this.opts.mapping;
      const readMysql = async () => {
        const rows = await this.mysql.queryWhere(partition);
        return m.sortKey ? rows.sort((a, b) => compareSortKeys(m.keyOf(a)[m.sortKey as string], m.keyOf(b)[m.sortKey as string])) : rows;
      };
      const readDynamo = async () => (await this.dynamo.queryPartition(partitionValue(m, partition))).map((i) => m.toRow(i));
      const fromDynamo = this.readsDynamo(f, ks);
      const result = fromDynamo ? await readDynamo() : await readMysql();
      this.maybeShadow(f, ks, fromDynamo, result, fromDynamo ? readMysql : readDynamo, fromDynamo ? readDynamo : readMysql);
      return result;
    } finally {
      this.watcher.release(f);
    }
  }

  /**
   * Inserts a row and returns the full row stored. Columns with a default (or AUTO_INCREMENT, while MySQL is written
   * first) may be omitted; ColumnDefaultError names a column that cannot be filled in the current mode.
   * DuplicateKeyError when a live row has the key.
   */
  insert(row: Row): Promise<Row> {
    try {
      this.mysql.checkInsertRow(row);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.write({ kind: 'insert', row }, (r) => r.image ?? row);
  }

  /** Inserts or replaces a full row. */
  put(row: Row): Promise<void> {
    try {
      this.checkFullRow(row);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.write({ kind: 'put', row }, () => undefined);
  }

  /** Sets `changes` (non-key columns) on the row with `key`; returns whether the row exists. */
  update(key: Row, changes: Row): Promise<boolean> {
    let op: WriteOp;
    try {
      op = { kind: 'update', key: this.keyOnly(key), changes };
    } catch (e) {
      return Promise.reject(e);
    }
    return this.write(op, found);
  }

  /** Deletes the row with `key`; returns whether it existed. */
  delete(key: Row): Promise<boolean> {
    let op: WriteOp;
    try {
      op = { kind: 'delete', key: this.keyOnly(key) };
    } catch (e) {
      return Promise.reject(e);
    }
    return this.write(op, found);
  }

  /** Counters for the heartbeat and the workflow's gates. */
  stats(): Record<string, number> {
    const b = this.background.counters;
    return {
      ...this.counters,
      ...this.shadow.counters,
      shadowWrites: b.shadowWrites ?? 0,
      shadowWriteErrors: b.shadowWriteErrors ?? 0,
      shadowWritesSuperseded: b.shadowWriteSuperseded ?? 0,
      backgroundWrites: b.backgroundWrites ?? 0,
      backgroundWriteErrors: b.backgroundWriteErrors ?? 0,
      backgroundWritesSuperseded: b.backgroundWriteSuperseded ?? 0,
      pendingBackground: this.background.pending,
    };
  }

  /** Keys whose background write was given up (bounded, newest last). */
  get failedBackgroundKeys(): readonly { kind: string; key: string; error: string }[] {
    return this.background.failedKeys;
  }

  /** Resolves when every background write and shadow read started so far has finished. */
  async settle(): Promise<void> {
    await Promise.all([this.background.drain(), this.shadow.settle()]);
    await this.watcher.heartbeatNow();
  }

  /** Stops refreshing flags; `retire` (default true) marks the heartbeat retired so barriers stop waiting for it. */
  async close(opts: { retire?: boolean; drain?: boolean } = {}): Promise<void> {
    if (opts.drain !== false) await this.settle();
    await this.watcher.stop({ retire: opts.retire ?? true });
  }

  /** The partition's text, the input of the sticky read-share hash. */
  private partitionText(row: Row): string {
    return JSON.stringify(this.partitionCols.map((c) => row[c] ?? null));
  }

  private async getDynamo(key: Row): Promise<Row | undefined> {
    const r = await this.dynamo.read(this.opts.mapping.keyOf(key));
    return r.live ? this.opts.mapping.toRow(r.live) : undefined;
  }

  private readsDynamo(flags: TableFlags, ks: string): boolean {
    return flags.writeMode === 'dynamo-only' || flags.writeMode === 'dynamo-primary' || readsDynamo(flags, this.opts.mapping.sourceId, ks);
  }

  private maybeShadow(flags: TableFlags, ks: string, fromDynamo: boolean, result: Row | Row[] | undefined, secondary: () => Promise<Row | Row[] | undefined>, primary: () => Promise<Row | Row[] | undefined>): void {
    if (flags.shadowReadFraction <= 0 || Math.random() >= flags.shadowReadFraction) return;
    this.shadow.run(ks, fromDynamo ? 'dynamodb' : 'mysql', result, secondary, primary);
  }

  /** Takes a lease and runs `op` under its write mode; holds (does not fail) while fenced or not fresh. */
  private write<T>(op: WriteOp, pick: (r: WriteResult) => T): Promise<T> {
    // The common case first, without the fence bookkeeping, as a promise chain (see `get`).
    const f = this.watcher.acquire();
    if (f.writeMode !== 'fenced' && this.watcher.fresh) {
      let w: Promise<WriteResult>;
      try {
        w = this.writeUnder(f.writeMode, op);
      } catch (e) {
        this.watcher.release(f);
        return Promise.reject(e);
      }
      return w.then(
        (r) => {
          this.watcher.release(f);
          return pick(r);
        },
        (e: unknown) => {
          this.watcher.release(f);
          throw e;
        },
      );
    }
    this.watcher.release(f);
    return this.writeHeld(op).then(pick);
  }

  /** `write` for a request that found the instance fenced or not fresh: waits for a writable mode (bounded). */
  private async writeHeld(op: WriteOp): Promise<WriteResult> {
    const started = Date.now();
    const limit = this.opts.fenceTimeoutMs ?? 30_000;
    this.counters.fenceWaits++;
    for (;;) {
      const f = this.watcher.acquire();
      if (f.writeMode !== 'fenced' && this.watcher.fresh) {
        try {
          return await this.writeUnder(f.writeMode, op);
        } finally {
          this.watcher.release(f);
        }
      }
      this.watcher.release(f);
      const waited = Date.now() - started;
      if (waited >= limit) {
        this.counters.fenceTimeouts++;
        throw new FenceTimeoutError(this.opts.mapping.sourceId, waited);
      }
      await this.watcher.waitForChange(f.version, limit - waited);
    }
  }

  /** Runs `op` under `mode` (not fenced). mysql-only is returned as is: no extra promise on the commonest path. */
  private writeUnder(mode: WriteMode, op: WriteOp): Promise<WriteResult> {
    return mode === 'mysql-only' ? this.mysql.writePlain(op) : this.writeDual(mode, op);
  }

  private async writeDual(mode: WriteMode, op: WriteOp): Promise<WriteResult> {
    const m = this.opts.mapping;
    if (mode === 'mysql-primary') {
      const r = await this.mysql.writePrimary(op);
      // An insert's key may have come from MySQL (AUTO_INCREMENT, default): take it from the stored image.
      const key = op.kind === 'insert' ? (r.image ?? op.row) : op.kind === 'put' ? op.row : op.key;
      if (r.seq !== undefined) {
        // After every row of this transaction, before the next one: newer than its own CDC echo, older than any later change.
        const version = changeVersion(r.seq, Number(ROW_SPAN - 2n));
        const item = this.dynamo.stamp(m.keyOf(key), r.image ? m.toItem(r.image) : undefined, version);
        this.background.submit('shadowWrite', keyString(m, key), async () => ((await this.dynamo.putIfNewer(item)) ? 'applied' : 'superseded'));
      }
      return r;
    }
    // DynamoDB first: an insert that omitted columns is completed here, as MySQL would have, before anything is written.
    if (op.kind === 'insert' && !this.mysql.isFullRow(op.row)) op = { kind: 'insert', row: (await this.defaultFiller()).fill(op.row) };
    const key = op.kind === 'insert' || op.kind === 'put' ? op.row : op.key;
    const w = await this.writeDynamo(op);
    if (mode === 'dynamo-primary' && w.version) {
      const pk = Object.fromEntries(m.source.primaryKey.map((c) => [c, key[c]]));
      this.background.submit('backgroundWrite', keyString(m, key), async () => ((await this.mysql.applyVersioned(pk, w.image, w.version)) ? 'applied' : 'superseded'));
    }
    return w;
  }

  /** The table's default filler, built from information_schema on the first insert that needs it. */
  private defaultFiller(): Promise<DefaultFiller> {
    if (!this.defaults) {
      this.defaults = DefaultFiller.load(this.opts.pool, this.mysql.columns);
      this.defaults.catch(() => {
        this.defaults = undefined; // a failed read is retried by the next insert
      });
    }
    return this.defaults;
  }

  /**
   * DynamoDB-first write. put/insert/delete first try one conditional PutItem with a fresh time-based direct version
   * (`_v < :v` keeps versions rising per key); if that condition fails — a live row on insert, no live row on
   * delete, or a stored version at or above ours (another instance's clock is ahead) — and always for update
   * (which merges into the current row), read the item and write conditional on the exact version read, retrying
   * on conflict.
   */
  private async writeDynamo(op: WriteOp): Promise<DirectWrite> {
    const m = this.opts.mapping;
    const key = op.kind === 'insert' || op.kind === 'put' ? op.row : op.key;
    const keyItem = m.keyOf(key);
    if (op.kind !== 'update') {
      const version = nextDirectVersion(undefined);
      const image = op.kind === 'delete' ? undefined : op.row;
      if (await this.dynamo.putFast(this.dynamo.stamp(keyItem, image ? m.toItem(image) : undefined, version), op.kind)) {
        return { found: true, image, version };
      }
    }
    for (let attempt = 1; attempt <= 50; attempt++) {
      const cur = await this.dynamo.read(keyItem);
      const found = cur.live !== undefined;
      let image: Row | undefined;
      if (op.kind === 'insert') {
        if (found) throw new DuplicateKeyError(m.sourceId, keyString(m, key));
        image = op.row;
      } else if (op.kind === 'put') image = op.row;
      else if (op.kind === 'update') {
        if (!cur.live) return { found: false, image: undefined, version: '' };
        image = { ...m.toRow(cur.live), ...op.changes };
      } else if (!found) return { found: false, image: undefined, version: '' };
      const version = nextDirectVersion(cur.version);
      const item = this.dynamo.stamp(keyItem, image ? m.toItem(image) : undefined, version);
      if (await this.dynamo.putIfVersion(item, cur.version)) return { found, image, version };
      this.counters.writeConflictRetries++;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * attempt)));
    }
    throw new WriteConflictError(m.sourceId, keyString(m, key), 50);
  }

  private checkFullRow(row: Row): void {
    for (const c of this.mysql.columns) {
      if (!(c.name in row)) throw new RoutingInputError('insert/put takes a full row; column missing', this.opts.mapping.sourceId, c.name);
    }
  }

  private keyOnly(key: Row): Row {
    const out: Record<string, Row[string]> = {};
    for (const c of this.opts.mapping.source.primaryKey) {
      if (key[c] === undefined || key[c] === null) throw new RoutingInputError('primary-key column missing', this.opts.mapping.sourceId, c);
      out[c] = key[c];
    }
    return out;
  }
}

/**
 * A version for a DynamoDB-first write: in DIRECT_BAND (above every binlog-derived version, so no CDC echo can
 * overwrite it), time-based for readability, and always above the version read, so versions rise per key.
 */
export function nextDirectVersion(current: string | undefined): string {
  directCounter = (directCounter + 1n) % 1_000_000n;
  const timeBased = DIRECT_BAND + BigInt(Date.now()) * 1_000_000n + directCounter;
  const floor = current === undefined ? 0n : BigInt(current) + 1n;
  return (timeBased > floor ? timeBased : floor).toString();
}
