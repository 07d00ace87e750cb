/**
 * Code hooks: a module named by a mapping's `hook` field, for what the declarative mapping cannot say. It exports
 * `transform(row, item, ctx) => item` (named or default export) and optionally `toRow(item, row, ctx) => row`, the
 * inverse used by verify and routing. Hooks must be pure and synchronous: the apply may call them more than once for
 * the same event (retries, replays) and relies on getting the same item each time.
 */
import type { Item } from '../item';
import type { Row } from '../types';
import { MappingConfigError } from './errors';

/** What a hook learns about the call. */
export interface HookContext {
  readonly sourceId: string;
  readonly targetTable: string;
}

/** The functions a hook module may export. */
export interface MappingHook {
  transform?(row: Row, item: Item, ctx: HookContext): Item;
  toRow?(item: Item, row: Row, ctx: HookContext): Row;
}

/** Loads the hook module at `modulePath` (TypeScript works under tsx and jest); fails with MappingConfigError. */
export function loadHook(modulePath: string, file: string | undefined, table: string): MappingHook {
  let mod: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(modulePath) as Record<string, unknown>;
  } catch (e) {
    throw new MappingConfigError(`cannot load hook ${modulePath}: ${(e as Error).message}`, file, table, 'hook');
  }
  const def = mod.default as Record<string, unknown> | ((...a: unknown[]) => unknown) | undefined;
  const transform = mod.transform ?? (typeof def === 'function' ? def : def?.transform);
  const toRow = mod.toRow ?? (typeof def === 'object' ? def?.toRow : undefined);
  if (typeof transform !== 'function') throw new MappingConfigError(`hook ${modulePath} exports no transform function`, file, table, 'hook');
  if (toRow !== undefined && typeof toRow !== 'function') throw new MappingConfigError(`hook ${modulePath}: toRow is not a function`, file, table, 'hook');
  return { transform: transform as MappingHook['transform'], toRow: toRow as MappingHook['toRow'] };
}
