/**
 * The seam between the load generator and the data layer under test. An `AppStore` is what an application uses
 * instead of raw database calls: the direct-MySQL implementation (./mysql-store.ts) is the "before migration" app;
 * the routing layer (src/routing) plugs in behind the same interface to become the "during migration" app.
 *
 * Contract every implementation keeps:
 *  - rows are in the canonical encoding of src/pipeline/types.ts; `get` returns the full row or null;
 *  - `insert` of an existing key and `update`/`delete` of an absent key resolve with `{ applied: false }`
 *    (acknowledged, no effect) rather than throwing;
 *  - `update` replaces every non-key column given in `row` (the load generator always passes full rows);
 *  - a rejected promise means the outcome is unknown (the write may or may not have taken effect).
 */
import type { Row } from '../pipeline/types';
import { CutoverError } from '../shared/errors';

/** The outcome of an acknowledged write. */
export interface WriteOutcome {
  /** false: the store changed nothing (duplicate insert, update/delete of an absent key). */
  readonly applied: boolean;
}

/** Key-value access to a set of tables, by primary key. */
export interface AppStore {
  get(table: string, key: Row): Promise<Row | null>;
  insert(table: string, row: Row): Promise<WriteOutcome>;
  update(table: string, row: Row): Promise<WriteOutcome>;
  delete(table: string, key: Row): Promise<WriteOutcome>;
  /** Releases what the store itself opened (not clients passed in by the caller). */
  close(): Promise<void>;
}

/** The load generator aims only at local services; anything else is refused before the first request. */
export class NonLocalTargetError extends CutoverError {
  constructor(
    readonly what: string,
    readonly host: string,
  ) {
    super(`${what}: the load generator only targets 127.0.0.1, not ${host}`);
  }
}

/** Throws NonLocalTargetError unless `host` is a loopback address. */
export function assertLoopback(host: string | undefined, what: string): void {
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host ?? '')) throw new NonLocalTargetError(what, host ?? '(unknown)');
}

/** Throws unless the MySQL URL and the DynamoDB endpoint (if any) point at this machine. */
export function assertLocalServices(env: { readonly mysqlUrl: string; readonly dynamoEndpoint: string | undefined }): void {
  assertLoopback(new URL(env.mysqlUrl).hostname, 'CUTOVER_MYSQL_URL');
  if (env.dynamoEndpoint === undefined) throw new NonLocalTargetError('CUTOVER_DYNAMO_ENDPOINT', 'AWS (empty endpoint)');
  assertLoopback(new URL(env.dynamoEndpoint).hostname, 'CUTOVER_DYNAMO_ENDPOINT');
}
