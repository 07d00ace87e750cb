/** Errors of the apply stage. */
import { CutoverError } from '../../shared/errors';

/** Why an event went to the dead-letter topic instead of the table. */
export type DeadLetterReason = 'unparseable' | 'unmapped-table' | 'transform' | 'item-too-large' | 'validation' | 'control';

/** This consumer no longer holds (or never got) the partition's write lease; nothing more may be written blind. */
export class LeaseLostError extends CutoverError {
  /** Another holder took over; a retry re-acquires the lease once it is free. */
  override readonly retriable = true;
  constructor(
    readonly group: string,
    readonly partition: number,
    reason: string,
  ) {
    super(`lease of ${group} partition ${partition} lost: ${reason}`);
  }
}

/** The target table does not match the mapping, or a destructive change was not allowed. */
export class TargetTableError extends CutoverError {
  constructor(
    message: string,
    readonly table: string,
  ) {
    super(`target table ${table}: ${message}`);
  }
}

/** The consumer stopped because too many events were dead-lettered; `reason` says how many of how many. */
export class DlqThresholdError extends CutoverError {
  constructor(readonly reason: string) {
    super(`dead-letter threshold passed: ${reason}`);
  }
}
