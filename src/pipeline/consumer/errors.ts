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
