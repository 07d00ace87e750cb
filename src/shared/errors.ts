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

/** The target throttled (ThrottlingException, ProvisionedThroughputExceeded): retry with a longer backoff. */
export class ThrottlingError extends TransientError {}

/** An activity the workflow calls has no implementation yet because the module it drives is missing. */
export class NotImplementedError extends CutoverError {
  constructor(
    readonly activity: string,
    readonly missing: string,
  ) {
    super(`activity ${activity} is not implemented: ${missing}`);
  }
}

/** Some live application instances did not apply a flag version in time; `laggards` names them. */
export class FlagBarrierTimeoutError extends CutoverError {
  constructor(
    readonly version: number,
    readonly laggards: readonly { readonly instance: string; readonly appliedVersion: number | null }[],
    readonly waitedMs: number,
  ) {
    super(
      `flag version ${version} not applied after ${waitedMs} ms by ${laggards.length} instance(s): ` +
        laggards.map((l) => `${l.instance} (at ${l.appliedVersion ?? 'none'})`).join(', '),
    );
  }
}

/** An operator's request is not allowed in the migration's current state; `reason` says why. */
export class TransitionRefusedError extends CutoverError {
  constructor(
    readonly request: string,
    readonly phase: string,
    readonly reason: string,
  ) {
    super(`${request} refused in phase ${phase}: ${reason}`);
  }
}

/** Names of the non-retryable error classes, for activity retry policies. */
export const NON_RETRYABLE_ERROR_TYPES = [
  'ConfigError',
  'PreflightError',
  'NotImplementedError',
  'FlagBarrierTimeoutError',
  'TransitionRefusedError',
] as const;
