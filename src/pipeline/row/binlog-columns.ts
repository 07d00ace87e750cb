/**
 * Column metadata derived from the binlog itself (a TableMap event under binlog_row_metadata=FULL): used when the
 * table's information_schema definition no longer matches the row images being read, i.e. a DDL later in the
 * binlog has already changed the table. The derived ColumnInfo carries exactly what rowFromBinlog needs (names,
 * data types, signedness, precision) and the primary key named by the TableMap's PRIMARY_KEY metadata.
 *
 * Invariant: for every column, `dataType` is the first word of the type zongji synthesises from the binlog
 * metadata, which is the information_schema DATA_TYPE for every type the codec supports (MariaDB JSON shows as
 * longtext in both).
 */
import type { ColumnInfo } from './codec';

/** zongji's synthesised column schema (index.d.ts ColumnSchema). */
export interface BinlogColumnSchema {
  readonly COLUMN_NAME: string;
  readonly COLUMN_TYPE: string;
  readonly UNSIGNED?: boolean;
}

/** ColumnInfo[] for `schema.table` from a TableMap's column schemas and primary-key column indexes. */
export function columnsFromBinlog(schema: string, table: string, cols: readonly BinlogColumnSchema[], primaryKey: readonly number[] | undefined): ColumnInfo[] {
  return cols.map((c, i) => {
    const type = c.COLUMN_TYPE.toLowerCase();
    const dataType = /^[a-z]+/.exec(type)?.[0] ?? type;
    const args = /\(([^)]*)\)/.exec(type)?.[1]?.split(',').map((s) => Number(s.trim())) ?? [];
    const numeric = dataType === 'decimal' || dataType === 'numeric';
    const temporal = ['datetime', 'timestamp', 'time'].includes(dataType);
    const pkPos = primaryKey ? primaryKey.indexOf(i) : -1;
    return {
      schema, table, name: c.COLUMN_NAME, dataType, columnType: c.COLUMN_TYPE,
      numericPrecision: numeric ? (args[0] ?? null) : null,
      numericScale: numeric ? (args[1] ?? 0) : null,
      datetimePrecision: temporal ? (Number.isFinite(args[0]) ? args[0] : 0) : null,
      maxLength: !numeric && !temporal && Number.isFinite(args[0]) ? args[0] : null,
      unsigned: c.UNSIGNED ?? /\bunsigned\b/.test(type),
      nullable: true,
      ordinal: i + 1,
      pkPosition: pkPos >= 0 ? pkPos + 1 : null,
    };
  });
}
