/**
 * CDC error classes. `name` is the class name (what Temporal records); context is in readonly fields.
 * Non-retryable: BinlogPurgedError, MalformedCdcMessageError, CdcLeaseLostError, DmsTaskError (unless marked).
 * Retryable: KafkaUnavailableError (a TransientError).
 */
import { CutoverError, TransientError } from '../../shared/errors';

/**
 * The binlog the reader needs (from `position` on) is no longer on the server. Nothing can be resumed: take a new
 * snapshot (re-run the backfill and start CDC "from now").
 */
export class BinlogPurgedError extends CutoverError {
  constructor(
    readonly position: string,
    readonly detail: string,
  ) {
    super(
      `binlog purged: the source no longer has the binlog needed to resume from ${position} (${detail}); ` +
        're-snapshot required: restart CDC from "now" and run the backfill again',
    );
  }
}

/** A Kafka message that is neither a cutover/DMS record nor a Debezium envelope, or misses a required field. */
export class MalformedCdcMessageError extends CutoverError {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: string,
    readonly reason: string,
  ) {
    super(`malformed CDC message at ${topic}[${partition}]@${offset}: ${reason}`);
  }
}

/** Kafka did not acknowledge a batch; the reader keeps retrying and the checkpoint stays where it was. */
export class KafkaUnavailableError extends TransientError {
  constructor(
    readonly topic: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`kafka unavailable for topic ${topic}: ${message}`, options);
  }
}

/** Another reader took over this CDC task (its lease expired); this one must stop without writing. */
export class CdcLeaseLostError extends CutoverError {
  /** Another holder took over; a retry re-acquires the lease once it is free. */
  override readonly retriable = true;
  constructor(
    readonly cdcId: string,
    readonly owner: string,
  ) {
    super(`CDC ${cdcId}: lease lost to ${owner}; stopping this reader`);
  }
}

/** The checkpoint or task record is missing or inconsistent with what the caller asked. */
export class CdcStateError extends CutoverError {
  constructor(
    readonly cdcId: string,
    message: string,
  ) {
    super(`CDC ${cdcId}: ${message}`);
  }
}

/** An AWS DMS call failed or the replication task is in a state that cannot serve the request. */
export class DmsTaskError extends CutoverError {
  override readonly retriable: boolean;
  constructor(
    readonly taskIdentifier: string,
    message: string,
    retriable = false,
    options?: { cause?: unknown },
  ) {
    super(`DMS task ${taskIdentifier}: ${message}`, options);
    this.retriable = retriable;
  }
}
