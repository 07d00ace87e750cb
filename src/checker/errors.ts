/** Errors of the checker and the load generator's harness side. */
import { CutoverError } from '../shared/errors';

/** An operation log or checker configuration is malformed; names the file and line. Not retriable. */
export class CheckerInputError extends CutoverError {
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
  ) {
    super(file ? `${file}${line !== undefined ? `:${line}` : ''}: ${message}` : message);
  }
}
