/**
 * OpenFeature in both directions, so teams can drive cutover's routing flags from their own flag service:
 *
 *  - CutoverFlagProvider: an OpenFeature provider serving the flag store's state. Keys: `cutover.<schema>.<table>`
 *    (object: the whole TableFlags) and `cutover.<schema>.<table>.<field>` for writeMode (string), readPercent,
 *    shadowReadFraction and version (numbers).
 *  - OpenFeatureFlagSource: a FlagSource for MigratingTable that reads the object flag `cutover.<schema>.<table>`
 *    from any OpenFeature client. The flag service must publish the whole document, including a `version` that
 *    rises with every change (the barrier compares versions); instances still heartbeat to the FlagStore so that
 *    `awaitBarrier` works unchanged.
 *
 * Guarantee: an evaluation error or a defaulted value is never taken for a flag state — OpenFeature answers errors
 * with the caller's default, which here would silently send writes back to MySQL. OpenFeatureFlagSource throws
 * instead, and the watcher keeps the last good flags (and stops writes once they are stale, see ./flag-watcher.ts).
 */
import { FlagNotFoundError, StandardResolutionReasons, TypeMismatchError, type Client, type JsonValue, type Provider, type ResolutionDetails } from '@openfeature/server-sdk';
import { FlagError } from './errors';
import type { FlagSource } from './flag-watcher';
import type { FlagStore } from './flag-store';
import { DEFAULT_FLAGS, parseFlags, type TableFlags } from './flags';

/** The OpenFeature key of a table's flag document. */
export function flagKeyOf(tableId: string): string {
  return `cutover.${tableId}`;
}

const FIELDS = ['writeMode', 'readPercent', 'shadowReadFraction', 'version'] as const;
type Field = (typeof FIELDS)[number];

function parseKey(flagKey: string): { tableId: string; field?: Field } {
  const parts = flagKey.split('.');
  if (parts[0] !== 'cutover' || parts.length < 3 || parts.length > 4) throw new FlagNotFoundError(`${flagKey} is not a cutover flag (cutover.<schema>.<table>[.<field>])`);
  const field = parts[3] as Field | undefined;
  if (field !== undefined && !FIELDS.includes(field)) throw new FlagNotFoundError(`${flagKey}: unknown field ${field}`);
  return { tableId: `${parts[1]}.${parts[2]}`, field };
}

/** An OpenFeature provider over the flag store (reads are strongly consistent; no caching here). */
export class CutoverFlagProvider implements Provider {
  readonly metadata = { name: 'cutover-flag-store' } as const;
  readonly runsOn = 'server' as const;

  constructor(private readonly store: FlagStore) {}

  private async resolve(flagKey: string, type: 'string' | 'number' | 'object'): Promise<ResolutionDetails<JsonValue>> {
    const { tableId, field } = parseKey(flagKey);
    const flags = await this.store.get(tableId);
    const value: JsonValue = field === undefined ? { ...flags } : flags[field];
    if ((field === undefined ? 'object' : typeof value) !== type) throw new TypeMismatchError(`${flagKey} is ${field === undefined ? 'an object' : `a ${typeof value}`}`);
    return {
      value,
      variant: `v${flags.version}`,
      reason: flags.version === 0 ? StandardResolutionReasons.DEFAULT : StandardResolutionReasons.STATIC,
      flagMetadata: { version: flags.version },
    };
  }

  async resolveBooleanEvaluation(flagKey: string): Promise<ResolutionDetails<boolean>> {
    throw new TypeMismatchError(`${flagKey}: cutover has no boolean flags`);
  }

  async resolveStringEvaluation(flagKey: string): Promise<ResolutionDetails<string>> {
    return (await this.resolve(flagKey, 'string')) as ResolutionDetails<string>;
  }

  async resolveNumberEvaluation(flagKey: string): Promise<ResolutionDetails<number>> {
    return (await this.resolve(flagKey, 'number')) as ResolutionDetails<number>;
  }

  async resolveObjectEvaluation<T extends JsonValue>(flagKey: string): Promise<ResolutionDetails<T>> {
    return (await this.resolve(flagKey, 'object')) as ResolutionDetails<T>;
  }
}

/** Reads a table's flags from an OpenFeature client (see the module comment for the contract). */
export class OpenFeatureFlagSource implements FlagSource {
  constructor(private readonly client: Client) {}

  async get(tableId: string): Promise<TableFlags> {
    const d = await this.client.getObjectDetails(flagKeyOf(tableId), { ...DEFAULT_FLAGS, version: -1 });
    if (d.errorCode !== undefined || d.reason === StandardResolutionReasons.ERROR) {
      throw new FlagError(`OpenFeature evaluation of ${flagKeyOf(tableId)} failed: ${d.errorCode ?? ''} ${d.errorMessage ?? ''}`.trim(), tableId);
    }
    return parseFlags(tableId, d.value);
  }
}
