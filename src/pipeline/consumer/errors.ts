/** Errors of the consumer group's operator actions (replay, rebuild). */
import { CutoverError } from '../../shared/errors';

/** Why a replay or rebuild was refused; each code names what the operator must do first. */
export type ReplayRefusal =
  /** The Kafka group still has members (an ETL process runs): stop every ETL process of the group first. */
  | 'group-active'
  /** A partition lease of the group is still live (a process was killed moments ago, or a zombie still writes). */
  | 'lease-held'
  /** An explicit offset names a partition the topic does not have, or lies outside the partition's [low, high]. */
  | 'bad-offset'
  /** A rebuild deletes items: it needs the explicit truncate option. */
  | 'truncate-not-requested'
  /** Routing flags still read from or write to DynamoDB for a source of the rebuilt table. */
  | 'routing-uses-dynamo'
  /** The topic no longer holds the sources' whole history (log start > 0, or finite retention). */
  | 'history-incomplete';

/** A replay or rebuild was refused before anything changed; `code` says why, `group` and `topic` say where. */
export class ReplayRefusedError extends CutoverError {
  constructor(
    readonly code: ReplayRefusal,
    readonly group: string,
    readonly topic: string,
    detail: string,
  ) {
    super(`replay of group ${group} on topic ${topic} refused (${code}): ${detail}`);
  }
}

/** Why a DLQ redrive stopped; each code names what to check. */
export type RedriveRefusal =
  /** The DLQ topic does not exist. */
  | 'no-dlq-topic'
  /** A `--redrive-from` offset names a partition the DLQ does not have, or lies outside its [low, high]. */
  | 'bad-offset'
  /** A DLQ message is not a dead-letter record (no source topic/partition/offset). */
  | 'bad-record'
  /** Kafka acknowledged a re-dead-letter without an offset. */
  | 'publish-failed';

/** A DLQ redrive refused or stopped; `code` says why, `dlqTopic` where. Nothing past the committed position moved. */
export class RedriveRefusedError extends CutoverError {
  constructor(
    readonly code: RedriveRefusal,
    readonly dlqTopic: string,
    detail: string,
  ) {
    super(`redrive of ${dlqTopic} refused (${code}): ${detail}`);
  }
}

/**
 * A `--rebuild --truncate-target` of the group started deleting items but did not reset the group's offsets (it was
 * interrupted): consuming now would leave the deleted items missing. Finish the rebuild first.
 */
export class RebuildPendingError extends CutoverError {
  constructor(
    readonly group: string,
    readonly topic: string,
    readonly since: string,
  ) {
    super(
      `group ${group} has an unfinished rebuild (started ${since}; items were deleted but the offsets of ${topic} were not reset): ` +
        `no ETL consumer of the group may start until it is finished; run \`npm run etl -- --mapping <file> --topic ${topic} --group ${group} --rebuild --truncate-target\` again`,
    );
  }
}
