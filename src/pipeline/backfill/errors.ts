/** Errors of the backfill and verification stages. */
import { CutoverError, PreflightError } from '../../shared/errors';

/** The table cannot be copied by a keyset scan (no primary key, a key column type whose order SQL cannot compare). */
export class BackfillConfigError extends CutoverError {
  constructor(
    message: string,
    readonly schema: string,
    readonly table: string,
    readonly column?: string,
  ) {
    super(`${schema}.${table}${column ? `.${column}` : ''}: ${message}`);
  }
}

/**
 * The source cannot give a consistent snapshot with its exact binlog position (MySQL instead of MariaDB, binlog off,
 * several GTID domains without one chosen). Not retriable: nothing was copied.
 */
export class SnapshotUnsupportedError extends PreflightError {
  constructor(message: string) {
    super(message, 'consistent-snapshot');
  }
}

/** A resume cursor that this code did not write or that belongs to another table. */
export class CursorError extends CutoverError {
  constructor(
    message: string,
    readonly cursor: string,
  ) {
    super(`bad backfill/verify cursor: ${message}`);
  }
}

/**
 * A chunk's snapshot is older than the position CDC publishes from: changes between the two would be in neither the
 * load nor the topic. Start CDC before the backfill (docs/design.md, "Backfill", rule 1).
 */
export class BackfillOrderError extends CutoverError {
  constructor(
    readonly snapshotSeq: string,
    readonly cdcStartSeq: string,
  ) {
    super(`backfill snapshot at GTID seq ${snapshotSeq} is older than the CDC start at seq ${cdcStartSeq}: start CDC before the backfill`);
  }
}
