/** Errors of the routing layer. `name` is the class name; context lives in readonly fields. */
import { CutoverError, TransientError } from '../shared/errors';

/** A flag document is malformed or a mode change skips a step of the migration order. */
export class FlagError extends CutoverError {
  constructor(
    message: string,
    readonly table: string,
  ) {
    super(`flags of ${table}: ${message}`);
  }
}

/** Someone else changed the flags since they were read (compare-and-set lost). Re-read and decide again. */
export class FlagVersionConflictError extends CutoverError {
  override readonly retriable = true;
  constructor(
    readonly table: string,
    readonly expectedVersion: number,
    readonly actualVersion: number | undefined,
  ) {
    super(`flags of ${table}: expected version ${expectedVersion}, found ${actualVersion ?? 'none'}`);
  }
}

/** A write waited for the fence (the primary switch) longer than allowed. Safe to retry: nothing was written. */
export class FenceTimeoutError extends TransientError {
  constructor(
    readonly table: string,
    readonly waitedMs: number,
  ) {
    super(`write to ${table} held by the fence for ${waitedMs} ms; nothing was written, retry`);
  }
}

/** insert() of a key that already holds a live row, whichever store is primary. */
export class DuplicateKeyError extends CutoverError {
  constructor(
    readonly table: string,
    readonly key: string,
  ) {
    super(`${table}: duplicate key ${key}`);
  }
}

/** Bad input from the application: unknown column, missing key column, change of a key column. */
export class RoutingInputError extends CutoverError {
  constructor(
    message: string,
    readonly table: string,
    readonly field?: string,
  ) {
    super(`${table}${field ? `.${field}` : ''}: ${message}`);
  }
}

/** Optimistic concurrency on DynamoDB lost too many times in a row for one key. */
export class WriteConflictError extends TransientError {
  constructor(
    readonly table: string,
    readonly key: string,
    readonly attempts: number,
  ) {
    super(`${table}: key ${key} changed under ${attempts} consecutive conditional writes`);
  }
}

/** A rollback the layer cannot make safe in the current state. */
export class UnsafeTransitionError extends CutoverError {
  constructor(
    message: string,
    readonly table: string,
  ) {
    super(`${table}: ${message}`);
  }
}

/**
 * insert() omitted a column whose value the layer cannot produce in the current write mode (AUTO_INCREMENT or an
 * expression default while DynamoDB is written first), or that has no default at all (NOT NULL without DEFAULT, in
 * every mode). Nothing was written; supply the column.
 */
export class ColumnDefaultError extends CutoverError {
  constructor(
    readonly table: string,
    readonly column: string,
    readonly reason: string,
  ) {
    super(`${table}.${column}: insert omitted the column and it cannot be filled: ${reason}`);
  }
}
