/**
 * cutover's error hierarchy. `name` is the class name, which is also the failure type Temporal records, so
 * activity retry policies list these names in `nonRetryableErrorTypes`. Context lives in readonly fields.
 */

/** Base class: `retriable` says whether trying the same thing again may succeed. */
export class CutoverError extends Error {
  readonly retriable: boolean = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Configuration (mapping, migration file, environment) is invalid; names the file, table and field. */
export class ConfigError extends CutoverError {
  constructor(
    message: string,
    readonly file?: string,
    readonly table?: string,
    readonly field?: string,
  ) {
    super([file, table, field].filter(Boolean).length ? `${[file, table, field].filter(Boolean).join(': ')}: ${message}` : message);
  }
}

/** The source database is not fit for migration (binlog off, wrong format, missing privilege, no primary key). */
export class PreflightError extends CutoverError {
  constructor(
    message: string,
    readonly check: string,
  ) {
    super(`preflight ${check}: ${message}`);
  }
}

/** A transient failure of a service (network, throttling, broker unavailable): retry with backoff. */
export class TransientError extends CutoverError {
  override readonly retriable = true;
}

/** Names of the non-retryable error classes, for activity retry policies. */
export const NON_RETRYABLE_ERROR_TYPES = ['ConfigError', 'PreflightError'] as const;
