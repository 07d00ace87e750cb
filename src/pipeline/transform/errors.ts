/** Errors of the transform stage: a bad mapping file (config) and a row that cannot be mapped (data). */
import { ConfigError, CutoverError } from '../../shared/errors';

/** The mapping file or one table's mapping is invalid; names the file, table and field. */
export class MappingConfigError extends ConfigError {}

/**
 * One row cannot be mapped to an item (a value of the wrong type, a number DynamoDB cannot hold, a NULL in a key
 * column). Not retriable: the apply sends the event to the dead-letter topic.
 */
export class TransformError extends CutoverError {
  constructor(
    message: string,
    readonly sourceId: string,
    readonly column?: string,
  ) {
    super(`${sourceId}${column ? `.${column}` : ''}: ${message}`);
  }
}
