/**
 * Turns zongji's binlog events into committed source transactions carrying ready-to-publish DMS messages.
 *
 * Invariants:
 *   - A transaction starts at a MariaDB GTID event and ends at its XID (InnoDB), at a COMMIT query (non-transactional
 *     engines) or at its DDL statement. Transactions are emitted in binlog order, each with the binlog coordinate
 *     after it, so a checkpoint taken after one never points inside a transaction. A large transaction is emitted as
 *     leading `partial` chunks (memory stays bounded) and a final chunk; only the final chunk carries a position.
 *   - rowIndex counts every row of every rows event of the transaction, of every table, filtered or not, so a replay
 *     from any checkpoint reproduces the same versions: version = seq × ROW_SPAN + rowIndex (../version.ts).
 *   - Only configured tables produce messages. An UPDATE that changes the primary key becomes a delete of the old
 *     key followed by an insert of the new one (each keyed by its own key, so each lands on its key's partition);
 *     other updates carry the full before-image.
 *   - DDL on a configured table produces a control message (on every partition) and refreshes the table's columns.
 *   - A GTID from a second domain is refused (versions would not be ordered).
 */
import { changeVersion } from '../version';
import { columnsFromBinlog, type BinlogColumnSchema } from '../row/binlog-columns';
import { primaryKeyColumns, rowFromBinlog, RowDecodeError, type ColumnInfo } from '../row/codec';
import type { CdcOperation, Row } from '../types';
import { classifyDdl, controlMessage, dataMessage, encodeKey, type SourcePoint } from './dms-format';
import { CdcStateError } from './errors';

/** One Kafka message to publish: `partition` set means "exactly this partition" (control records). */
export interface OutMessage {
  readonly key: string | null;
  readonly value: string;
  readonly partition?: number;
}

export interface SourceTransaction {
  readonly gtid: string | undefined;
  readonly seq: bigint | undefined;
  readonly file: string;
  readonly pos: number;
  /** Commit time, epoch seconds. */
  readonly commitTime: number;
  readonly messages: OutMessage[];
  /** Per "schema.table": operation counts of the messages. */
  readonly counts: Record<string, Partial<Record<CdcOperation | 'ddl', number>>>;
  /**
   * True for a leading chunk of a large transaction, emitted before its commit to bound memory: publishing it must not
   * move the checkpoint (only the final chunk, which carries the position and all counts, does).
   */
  readonly partial?: boolean;
}

/** Column metadata per table, refreshed on DDL. */
export interface ColumnSource {
  columns(schema: string, table: string): ColumnInfo[] | undefined;
  refresh(schema: string, table: string): Promise<ColumnInfo[]>;
  /** Caches columns derived from the binlog (until the next refresh). */
  remember(schema: string, table: string, columns: ColumnInfo[]): void;
}

interface ZEvent {
  getEventName(): string;
  timestamp: number;
  nextPosition: number;
  gtid?: string;
  [k: string]: unknown;
}

interface Open {
  gtid: string;
  seq: bigint;
  isDdl: boolean;
  rowIndex: number;
  commitTime: number;
  messages: OutMessage[];
  counts: SourceTransaction['counts'];
  pendingRefresh: Array<{ schema: string; table: string }>;
}

/**
 * Stateful assembler: feed every binlog event in order; `onCommit` receives each finished transaction. Async work
 * (a column refresh after DDL) is awaited by the caller through `handle`'s promise, which keeps events in order.
 */
export class TransactionAssembler {
  private open: Open | undefined;
  /** Primary-key column indexes per table id, from TableMap events (binlog_row_metadata=FULL). */
  private readonly primaryKeys = new Map<number, number[]>();
  private readonly included: Set<string>;
  constructor(
    private readonly opts: {
      readonly tables: readonly { database: string; table: string }[];
      readonly partitions: number;
      readonly columns: ColumnSource;
      readonly domain: number | undefined;
      /** The binlog file name in force (zongji.options.filename, read when the event arrives). */
      readonly currentFile: () => string;
      /** Transactions committed before this epoch second publish nothing (start from a timestamp). */
      readonly skipBefore?: number;
      /** Emit a large transaction in chunks of this many messages (default 5000); see SourceTransaction.partial. */
      readonly chunkMessages?: number;
    },
  ) {
    this.included = new Set(opts.tables.map((t) => `${t.database}.${t.table}`));
  }

  /** Handles one event; resolves with a finished transaction when the event committed one. */
  async handle(e: ZEvent): Promise<SourceTransaction | undefined> {
    const name = e.getEventName();
    switch (name) {
      case 'mariadbgtid': {
        const domain = Number(e.domainId);
        if (this.opts.domain !== undefined && domain !== this.opts.domain) {
          throw new CdcStateError('-', `binlog transaction ${String(e.gtid)} is in GTID domain ${domain}; cutover supports only domain ${this.opts.domain}`);
        }
        this.open = {
          gtid: String(e.gtid), seq: BigInt(String(e.seqNo)), isDdl: Boolean(e.isDdl) || (!e.transactional && Boolean(e.standalone)),
          rowIndex: 0, commitTime: Math.floor(e.timestamp / 1000), messages: [], counts: {}, pendingRefresh: [],
        };
        return undefined;
      }
      case 'writerows':
      case 'updaterows':
      case 'deleterows':
        await this.rows(e, name);
        return this.flushLarge();
      case 'tablemap':
        if (Array.isArray(e.primaryKey)) this.primaryKeys.set(e.tableId as number, e.primaryKey as number[]);
        return undefined;
      case 'query':
        return this.query(e);
      case 'xid':
        return this.commit(e);
      default:
        return undefined;
    }
  }

  /** A leading chunk of the open transaction once it holds `chunkMessages` messages. */
  private flushLarge(): SourceTransaction | undefined {
    const t = this.open;
    if (!t || t.messages.length < (this.opts.chunkMessages ?? 5000)) return undefined;
    const messages = t.messages;
    t.messages = [];
    return { gtid: t.gtid, seq: t.seq, file: this.opts.currentFile(), pos: 0, commitTime: t.commitTime, messages, counts: {}, partial: true };
  }

  private skip(t: Open): boolean {
    return this.opts.skipBefore !== undefined && t.commitTime < this.opts.skipBefore;
  }

  private point(t: Open, rowIndex: number, e: ZEvent): SourcePoint {
    return { version: changeVersion(t.seq, rowIndex), gtid: t.gtid, file: this.opts.currentFile(), pos: e.nextPosition, commitTime: t.commitTime, rowIndex };
  }

  private count(t: Open, key: string, op: CdcOperation | 'ddl'): void {
    const c = (t.counts[key] ??= {});
    c[op] = (c[op] ?? 0) + 1;
  }

  private async rows(e: ZEvent, name: string): Promise<void> {
    const t = this.open;
    if (!t) throw new CdcStateError('-', `row event at ${this.opts.currentFile()}:${e.nextPosition} outside a GTID transaction`);
    const map = (e.tableMap as Record<number, { parentSchema: string; tableName: string; columns?: { name: string }[]; columnSchemas?: BinlogColumnSchema[] }>)[e.tableId as number];
    const rows = (e.rows as Record<string, unknown>[]) ?? [];
    const schema = map?.parentSchema;
    const table = map?.tableName;
    const key = `${schema}.${table}`;
    if (!map || !this.included.has(key) || this.skip(t)) {
      t.rowIndex += rows.length;
      return;
    }
    let cols = this.opts.columns.columns(schema, table);
    // The binlog's own column list (binlog_row_metadata=FULL) tells when the cached metadata is stale.
    const binlogNames = map.columns?.map((c) => c.name).join('\u0000');
    const matches = (c: ColumnInfo[] | undefined): boolean => c !== undefined && (binlogNames === undefined || binlogNames === c.map((x) => x.name).join('\u0000'));
    if (!matches(cols)) cols = await this.opts.columns.refresh(schema, table);
    // information_schema is already past this point of the binlog (a later DDL): describe the rows from the binlog.
    if (!matches(cols) && map.columnSchemas) {
      cols = columnsFromBinlog(schema, table, map.columnSchemas, this.primaryKeys.get(e.tableId as number));
      this.opts.columns.remember(schema, table, cols);
    }
    if (!cols) throw new CdcStateError('-', `no column metadata for ${key}`);
    const pk = primaryKeyColumns(cols).map((c) => c.name);
    if (!pk.length) throw new CdcStateError('-', `${key} has no primary key in the metadata in force at ${this.opts.currentFile()}:${e.nextPosition}`);
    const known = cols;
    const decode = (r: unknown): Row => rowFromBinlog(known, r as Record<string, unknown>);
    for (const raw of rows) {
      const rowIndex = t.rowIndex++;
      const point = this.point(t, rowIndex, e);
      const emit = (operation: CdcOperation, data: Row, before?: Row): void => {
        const k = encodeKey(data, pk);
        t.messages.push({ key: k, value: JSON.stringify(dataMessage({ schema, table, operation, data, before, key: k, point })) });
        this.count(t, key, operation);
      };
      if (name === 'writerows') emit('insert', decode(raw));
      else if (name === 'deleterows') emit('delete', decode(raw));
      else {
        const { before, after } = raw as { before: unknown; after: unknown };
        const b = decode(before);
        const a = decode(after);
        if (encodeKey(b, pk) !== encodeKey(a, pk)) {
          emit('delete', b);
          emit('insert', a);
        } else emit('update', a, b);
      }
    }
  }

  private async query(e: ZEvent): Promise<SourceTransaction | undefined> {
    const q = String(e.query ?? '').trim();
    if (/^BEGIN$/i.test(q)) return undefined;
    if (/^COMMIT$/i.test(q)) return this.commit(e);
    const t = this.open;
    const ddl = classifyDdl(q);
    if (ddl && t) {
      const schema = ddl.schema ?? String(e.schema ?? '');
      const names = [ddl.table, ...(ddl.newName ? [ddl.newName] : [])];
      for (const table of names) {
        const key = `${schema}.${table}`;
        if (!this.included.has(key)) continue;
        const columns = ddl.operation === 'drop-table' ? [] : await this.opts.columns.refresh(schema, table).catch(() => []);
        if (!this.skip(t)) {
          const point = this.point(t, 0, e);
          const value = JSON.stringify(controlMessage({ schema, table, operation: ddl.operation, statement: q, columns, point }));
          for (let p = 0; p < this.opts.partitions; p++) t.messages.push({ key: key, value, partition: p });
          this.count(t, key, 'ddl');
        }
      }
    }
    if (t?.isDdl) return this.commit(e);
    return undefined;
  }

  private commit(e: ZEvent): SourceTransaction | undefined {
    const t = this.open;
    this.open = undefined;
    if (!t) return undefined;
    return {
      gtid: t.gtid, seq: t.seq, file: this.opts.currentFile(), pos: e.nextPosition, commitTime: Math.floor(e.timestamp / 1000) || t.commitTime,
      messages: t.messages, counts: t.counts,
    };
  }
}

export { RowDecodeError };
