/**
 * What the transform needs to know about a source column (read from information_schema.COLUMNS), and the coarse
 * kind that decides how its canonical value (../types.ts) converts to and from DynamoDB.
 *
 * `SourceColumn` is structural on purpose: the CDC stage's ColumnInfo (src/pipeline/row/codec.ts) passes as is.
 * MariaDB reports JSON columns as DATA_TYPE longtext (kind 'string'): map them with `type: json` to get a map/list.
 */

/** The columns fields the transform reads; extra fields are ignored. */
export interface SourceColumn {
  readonly name: string;
  /** information_schema DATA_TYPE, e.g. "bigint", "decimal", "datetime", "json" (case-insensitive). */
  readonly dataType: string;
  /** information_schema COLUMN_TYPE, e.g. "bigint(20) unsigned", "set('a','b')", "tinyint(1)". */
  readonly columnType?: string;
  readonly numericScale?: number | null;
  readonly numericPrecision?: number | null;
  readonly datetimePrecision?: number | null;
  readonly nullable?: boolean;
  /** 1-based position in the primary key, absent or null when not part of it (the codec's name). */
  readonly pkPosition?: number | null;
  /** Same as pkPosition, accepted for callers that use information_schema's name. */
  readonly primaryKeyOrdinal?: number | null;
  /** Alternative to primaryKeyOrdinal: information_schema COLUMN_KEY ("PRI" for a primary-key column). */
  readonly columnKey?: string;
}

/** How a column's canonical value is encoded (see ../types.ts). */
export type SourceKind =
  | 'int' // JSON number
  | 'bigint' // decimal string
  | 'decimal' // decimal string with the column's scale
  | 'float' // JSON number
  | 'bit' // decimal string
  | 'year' // JSON number
  | 'datetime' // "YYYY-MM-DD HH:MM:SS[.f]"
  | 'date'
  | 'time'
  | 'string'
  | 'enum'
  | 'set' // comma-separated members
  | 'binary' // { $b64 }
  | 'json' // JSON text
  | 'unknown'; // no column information: decided from the value

const KINDS: Record<string, SourceKind> = {
  tinyint: 'int', smallint: 'int', mediumint: 'int', int: 'int', integer: 'int', bigint: 'bigint',
  decimal: 'decimal', numeric: 'decimal', float: 'float', double: 'float', real: 'float', bit: 'bit', year: 'year',
  datetime: 'datetime', timestamp: 'datetime', date: 'date', time: 'time',
  char: 'string', varchar: 'string', tinytext: 'string', text: 'string', mediumtext: 'string', longtext: 'string',
  enum: 'enum', set: 'set', json: 'json',
  binary: 'binary', varbinary: 'binary', tinyblob: 'binary', blob: 'binary', mediumblob: 'binary', longblob: 'binary',
};

/** The kind of a column from its information_schema DATA_TYPE (or a COLUMN_TYPE such as "decimal(10,2)"). */
export function kindOf(dataType: string): SourceKind {
  const base = dataType.trim().toLowerCase().replace(/[\s(].*$/, '');
  return KINDS[base] ?? 'unknown';
}

/** Facts about one column that conversions need, whether they came from information_schema or the mapping file. */
export interface ColumnFacts {
  readonly kind: SourceKind;
  /** DECIMAL scale (digits after the point) when known. */
  readonly scale?: number;
  /** DECIMAL precision (total digits) when known. */
  readonly precision?: number;
  /** DATETIME/TIMESTAMP/TIME fraction digits when known. */
  readonly fsp?: number;
  /** SET/ENUM members in definition order when known. */
  readonly members?: readonly string[];
}

/** Facts from an SQL type text such as "decimal(10,2)", "datetime(6)", "set('a','b')" or "bigint unsigned". */
export function factsFromSqlType(sqlType: string): ColumnFacts {
  const kind = kindOf(sqlType);
  const args = /\((.*)\)/.exec(sqlType)?.[1];
  if (kind === 'decimal') {
    const [p, s] = (args ?? '10,0').split(',').map((x) => Number(x.trim()));
    return { kind, precision: p, scale: Number.isFinite(s) ? s : 0 };
  }
  if (kind === 'datetime' || kind === 'time') return { kind, fsp: args ? Number(args) : 0 };
  if ((kind === 'set' || kind === 'enum') && args) {
    const members = [...args.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1].replace(/''/g, "'"));
    return { kind, members };
  }
  return { kind };
}

/** Facts from an information_schema column. */
export function factsFromColumn(c: SourceColumn): ColumnFacts {
  const fromType = c.columnType ? factsFromSqlType(c.columnType) : { kind: kindOf(c.dataType) };
  const kind = kindOf(c.dataType);
  return {
    ...fromType,
    kind,
    scale: c.numericScale ?? fromType.scale,
    precision: c.numericPrecision ?? fromType.precision,
    fsp: c.datetimePrecision ?? fromType.fsp,
  };
}

/** Primary-key column names of `columns`, in key order. */
export function primaryKeyOf(columns: readonly SourceColumn[]): string[] {
  const pos = (c: SourceColumn) => c.pkPosition ?? c.primaryKeyOrdinal;
  const withOrdinal = columns.filter((c) => pos(c) != null);
  if (withOrdinal.length) return [...withOrdinal].sort((a, b) => (pos(a) ?? 0) - (pos(b) ?? 0)).map((c) => c.name);
  return columns.filter((c) => c.columnKey?.toUpperCase() === 'PRI').map((c) => c.name);
}
