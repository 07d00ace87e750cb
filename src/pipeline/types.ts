/**
 * The data path's shared vocabulary: how a MySQL row is represented between stages, what a change event is, and
 * how every write is versioned. Every stage (CDC, backfill, transform, apply, verify, routing) uses these types and
 * nothing else to talk about rows.
 *
 * Canonical row encoding (`Row`): one JSON value per column, chosen so that nothing loses precision and the same row
 * read by the binlog reader and by a mysql2 SELECT is byte-for-byte the same JSON:
 *   TINYINT..INT, MEDIUMINT (signed or unsigned)  JSON number
 *   BIGINT (signed or unsigned)                   decimal string, e.g. "18446744073709551615"
 *   DECIMAL/NUMERIC                               decimal string with exactly the column's scale, e.g. "12.50"
 *   FLOAT, DOUBLE                                 JSON number (shortest round-trip form)
 *   DATETIME(n), TIMESTAMP(n)                     "YYYY-MM-DD HH:MM:SS[.ffffff]" with exactly n fraction digits;
 *                                                 TIMESTAMP in UTC (the server and every session run at +00:00)
 *   DATE "YYYY-MM-DD", TIME(n) "[-]HHH:MM:SS[.f]", YEAR number
 *   CHAR, VARCHAR, TEXT, ENUM                     string (utf8mb4 as is)
 *   SET                                           string, members comma-separated in definition order
 *   BINARY, VARBINARY, BLOB                       { "$b64": "<base64>" }
 *   BIT(n)                                        decimal string of the unsigned value, e.g. "5"
 *   JSON                                          string holding the JSON text as MySQL normalises it
 *   NULL                                          null (distinct from "" and absent)
 */

/** One column value in the canonical encoding above. */
export type ColumnValue = string | number | null | { readonly $b64: string };

/** A source row: column name → canonical value. Always the full row image (binlog_row_image=FULL). */
export type Row = Readonly<Record<string, ColumnValue>>;

/** DMS operation names; `load` is a backfill (full-load) record. */
export type CdcOperation = 'load' | 'insert' | 'update' | 'delete';

/**
 * A parsed data change, whoever produced it (cutover's binlog reader, AWS DMS or Debezium).
 * `version` totally orders every change of one row: see ./version.ts.
 */
export interface CdcEvent {
  readonly operation: CdcOperation;
  readonly schema: string;
  readonly table: string;
  /** Row image after the change; for `delete`, the row as it was. */
  readonly data: Row;
  /** Row image before an update, when the producer sent it (needed to see a primary-key change). */
  readonly before?: Row;
  /** Decimal string; see ./version.ts. */
  readonly version: string;
  /** Commit time at the source, ISO-8601 UTC, when known. */
  readonly commitTimestamp?: string;
  /** Where the event was read from, for error messages and the DLQ. */
  readonly origin?: { readonly topic: string; readonly partition: number; readonly offset: string };
}

/** A control (DDL) event on a migrated table. */
export interface CdcControlEvent {
  readonly operation: 'create-table' | 'drop-table' | 'add-column' | 'drop-column' | 'change-columns' | 'rename-table' | 'column-type-change' | 'truncate-table';
  readonly schema: string;
  readonly table: string;
  readonly statement?: string;
  readonly version: string;
}
