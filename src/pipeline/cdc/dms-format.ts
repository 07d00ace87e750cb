/**
 * The AWS DMS Kafka-target JSON format as cutover writes it, and the message key.
 *
 * Invariants:
 *   - A data message is `{"data": Row, "metadata": {...}, "before-image"?: Row}` with the metadata fields DMS writes
 *     when IncludeTransactionDetails, IncludePartitionValue and BeforeImageSettings(FieldName "before-image",
 *     ColumnFilter "all") are on: timestamp, record-type, operation, partition-key-type, partition-key-value,
 *     schema-name, table-name, transaction-id, transaction-record-id, commit-timestamp, stream-position,
 *     prev-transaction-id, prev-transaction-record-id.
 *   - `stream-position` carries the exact source version: `cutover:1:<version>:<gtid>:<binlog file>:<pos>`
 *     (loads: `cutover:1:<version>:load:<snapshot gtid>`). The parser reads the version back from it, so nothing
 *     outside the DMS field set is needed.
 *   - The message key is the primary key: a JSON array of the canonical key values in key order, e.g. `[42]` or
 *     `["eu",42]`. Canonical values are deterministic JSON, so equal keys encode to equal bytes and every change of
 *     one row lands on the same partition.
 *   - Control (DDL) messages are `{"control": {...}, "metadata": {record-type "control", ...}}`; the publisher writes
 *     them to every partition so each consumer sees the DDL in order with its rows.
 */
import type { ColumnInfo } from '../row/codec';
import type { CdcOperation, ColumnValue, Row } from '../types';

export const STREAM_POSITION_PREFIX = 'cutover:1:';

export interface DmsMetadata {
  readonly timestamp: string;
  readonly 'record-type': 'data' | 'control';
  readonly operation: string;
  readonly 'partition-key-type': 'primary-key' | 'schema-table' | 'task-id' | 'attribute-name';
  readonly 'partition-key-value'?: string;
  readonly 'schema-name': string;
  readonly 'table-name': string;
  readonly 'transaction-id'?: number | string;
  readonly 'transaction-record-id'?: number;
  readonly 'prev-transaction-id'?: number | string;
  readonly 'prev-transaction-record-id'?: number;
  readonly 'commit-timestamp'?: string;
  readonly 'stream-position'?: string;
}

export interface DmsDataMessage {
  readonly data: Row;
  readonly 'before-image'?: Row;
  readonly metadata: DmsMetadata;
}

export interface DmsControlMessage {
  readonly control: Record<string, unknown>;
  readonly metadata: DmsMetadata;
}

/** Where in the source a record comes from. `gtid` is the MariaDB GTID of its transaction. */
export interface SourcePoint {
  readonly version: string;
  readonly gtid: string;
  readonly file?: string;
  readonly pos?: number;
  /** Seconds since the epoch (binlog header time). */
  readonly commitTime?: number;
  /** 0-based row index within the transaction (all tables counted). */
  readonly rowIndex?: number;
}

/** The stable message key of a row: JSON array of its primary-key values in key order. */
export function encodeKey(row: Row, keyColumns: readonly string[]): string {
  const values: ColumnValue[] = keyColumns.map((c) => {
    const v = row[c];
    if (v === undefined) throw new RangeError(`primary-key column ${c} missing from row`);
    return v;
  });
  return JSON.stringify(values);
}

/** `cutover:1:<version>:<gtid>:<file>:<pos>`. */
export function streamPosition(p: SourcePoint): string {
  return `${STREAM_POSITION_PREFIX}${p.version}:${p.gtid}:${p.file ?? ''}:${p.pos ?? ''}`;
}

/** The version in a cutover stream-position, or undefined when `s` is not one. */
export function versionFromStreamPosition(s: string): string | undefined {
  if (!s.startsWith(STREAM_POSITION_PREFIX)) return undefined;
  const v = s.slice(STREAM_POSITION_PREFIX.length).split(':')[0];
  return /^\d{1,38}$/.test(v) ? v : undefined;
}

let lastStamp = { ms: NaN, text: '' };

/** DMS-style ISO-8601 UTC time with microseconds (the last one is remembered: a batch shares its millisecond). */
export function dmsTimestamp(ms: number = Date.now()): string {
  if (ms !== lastStamp.ms) lastStamp = { ms, text: new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') };
  return lastStamp.text;
}

function transactionId(gtid: string): number | string {
  const seq = gtid.split('-')[2] ?? gtid;
  const n = Number(seq);
  return Number.isSafeInteger(n) ? n : seq;
}

/** A DMS data message for one row change (or a backfill load when `operation` is 'load'). */
export function dataMessage(args: {
  readonly schema: string;
  readonly table: string;
  readonly operation: CdcOperation;
  readonly data: Row;
  readonly before?: Row;
  readonly key: string;
  readonly point: SourcePoint;
  readonly now?: number;
}): DmsDataMessage {
  const { point } = args;
  const tx = args.operation === 'load' ? {} : {
    'transaction-id': transactionId(point.gtid),
    'transaction-record-id': (point.rowIndex ?? 0) + 1,
    ...(point.commitTime !== undefined ? { 'commit-timestamp': dmsTimestamp(point.commitTime * 1000) } : {}),
  };
  const metadata: DmsMetadata = {
    timestamp: dmsTimestamp(args.now),
    'record-type': 'data',
    operation: args.operation,
    'partition-key-type': 'primary-key',
    'partition-key-value': args.key,
    'schema-name': args.schema,
    'table-name': args.table,
    ...tx,
    'stream-position': streamPosition(point),
  };
  return args.before ? { data: args.data, 'before-image': args.before, metadata } : { data: args.data, metadata };
}

/** DMS's type name for a column, as in `control.table-def.columns`. */
export function dmsType(c: ColumnInfo): string {
  const u = c.unsigned ? 'U' : '';
  switch (c.dataType) {
    case 'tinyint': return `${u}INT1`;
    case 'smallint': return `${u}INT2`;
    case 'mediumint': case 'int': case 'integer': return `${u}INT4`;
    case 'bigint': return `${u}INT8`;
    case 'decimal': case 'numeric': return 'NUMERIC';
    case 'float': return 'REAL4';
    case 'double': case 'real': return 'REAL8';
    case 'datetime': case 'timestamp': return 'DATETIME';
    case 'date': return 'DATE';
    case 'time': return 'TIME';
    case 'year': return 'INT2';
    case 'bit': return 'BYTES';
    case 'binary': case 'varbinary': return 'BYTES';
    case 'tinyblob': case 'blob': case 'mediumblob': case 'longblob': return 'BLOB';
    case 'text': case 'mediumtext': case 'longtext': case 'tinytext': return 'NCLOB';
    default: return 'WSTRING';
  }
}

/** A DMS control message (DDL) for a table, with the table definition after the change when known. */
export function controlMessage(args: {
  readonly schema: string;
  readonly table: string;
  readonly operation: string;
  readonly statement: string;
  readonly columns?: readonly ColumnInfo[];
  readonly point: SourcePoint;
  readonly now?: number;
}): DmsControlMessage {
  const control: Record<string, unknown> = { statement: args.statement };
  if (args.columns && args.columns.length) {
    control['table-def'] = {
      columns: Object.fromEntries(
        args.columns.map((c) => [c.name, {
          type: dmsType(c),
          nullable: c.nullable,
          ...(c.maxLength !== null ? { length: c.maxLength } : {}),
          ...(c.numericPrecision !== null && (c.dataType === 'decimal' || c.dataType === 'numeric') ? { precision: c.numericPrecision, scale: c.numericScale } : {}),
        }]),
      ),
      'primary-key': args.columns.filter((c) => c.pkPosition !== null).sort((a, b) => (a.pkPosition ?? 0) - (b.pkPosition ?? 0)).map((c) => c.name),
    };
  }
  return {
    control,
    metadata: {
      timestamp: dmsTimestamp(args.now),
      'record-type': 'control',
      operation: args.operation,
      'partition-key-type': 'schema-table',
      'partition-key-value': `${args.schema}.${args.table}`,
      'schema-name': args.schema,
      'table-name': args.table,
      'transaction-id': transactionId(args.point.gtid),
      ...(args.point.commitTime !== undefined ? { 'commit-timestamp': dmsTimestamp(args.point.commitTime * 1000) } : {}),
      'stream-position': streamPosition(args.point),
    },
  };
}

/**
 * The DMS control operation a DDL statement on a migrated table stands for, or undefined when it is not DDL on
 * that table. Recognises CREATE/DROP/RENAME/TRUNCATE TABLE and ALTER TABLE ADD/DROP/CHANGE/MODIFY/RENAME COLUMN.
 */
export function classifyDdl(statement: string): { operation: string; table: string; schema?: string; newName?: string } | undefined {
  const sql = statement.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\s+/g, ' ').trim();
  const name = '(?:`([^`]+)`|(\\w+))(?:\\.(?:`([^`]+)`|(\\w+)))?';
  const pick = (m: RegExpExecArray, i: number): { schema?: string; table: string } => {
    const first = m[i] ?? m[i + 1];
    const second = m[i + 2] ?? m[i + 3];
    return second ? { schema: first, table: second } : { table: first };
  };
  let m = new RegExp(`^CREATE (?:OR REPLACE )?(?:TEMPORARY )?TABLE (?:IF NOT EXISTS )?${name}`, 'i').exec(sql);
  if (m) return sql.match(/^CREATE (?:OR REPLACE )?TEMPORARY/i) ? undefined : { operation: 'create-table', ...pick(m, 1) };
  m = new RegExp(`^DROP (?:TEMPORARY )?TABLE (?:IF EXISTS )?${name}`, 'i').exec(sql);
  if (m) return { operation: 'drop-table', ...pick(m, 1) };
  m = new RegExp(`^TRUNCATE (?:TABLE )?${name}`, 'i').exec(sql);
  if (m) return { operation: 'truncate-table', ...pick(m, 1) };
  m = new RegExp(`^RENAME TABLE ${name} TO ${name}`, 'i').exec(sql);
  if (m) return { operation: 'rename-table', ...pick(m, 1), newName: pick(m, 5).table };
  m = new RegExp(`^ALTER (?:ONLINE )?(?:IGNORE )?TABLE ${name} (.*)$`, 'i').exec(sql);
  if (m) {
    const rest = m[5];
    const ops = new Set<string>();
    for (const clause of rest.split(/,(?![^(]*\))/)) {
      const c = clause.trim();
      if (/^ADD (?:COLUMN )?(?!(?:PRIMARY|UNIQUE|INDEX|KEY|CONSTRAINT|FOREIGN|FULLTEXT|SPATIAL|CHECK)\b)/i.test(c)) ops.add('add-column');
      else if (/^DROP (?:COLUMN )?(?!(?:PRIMARY|INDEX|KEY|CONSTRAINT|FOREIGN|CHECK)\b)/i.test(c)) ops.add('drop-column');
      else if (/^MODIFY\b/i.test(c)) ops.add('column-type-change');
      else if (/^(CHANGE|RENAME COLUMN)\b/i.test(c)) ops.add('change-columns');
      else if (/^RENAME (?:TO |AS )?/i.test(c)) ops.add('rename-table');
      else ops.add('change-columns');
    }
    return { operation: ops.size === 1 ? [...ops][0] : 'change-columns', ...pick(m, 1) };
  }
  return undefined;
}
