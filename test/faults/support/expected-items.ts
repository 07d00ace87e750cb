/**
 * How far a target table is from the state a list of events implies, for the ETL process fault tests
 * (test/integration/consumer/kill9 and zombie): the number of keys whose item is not exactly the expected row
 * (a deleted key must have no live item). 0 means the target is verified equal to the events.
 */
import { isDeepStrictEqual } from 'node:util';
import { isLive, type Item } from '../../../src/pipeline/item';
import type { CompiledMapping } from '../../../src/pipeline/transform/mapping';
import type { Row } from '../../../src/pipeline/types';

/** Keys of `expected` (id → final row, null = deleted) whose item under `pk(id)` differs from it. */
export function keysNotAsExpected(mapping: CompiledMapping, items: readonly Item[], expected: ReadonlyMap<number, Row | null>, pk: (id: number) => string): number {
  const byPk = new Map(items.map((i) => [i.pk?.S, i]));
  let off = 0;
  for (const [id, row] of expected) {
    const item = byPk.get(pk(id));
    if (row === null ? isLive(item) : !isLive(item) || !isDeepStrictEqual(mapping.toRow(item), row)) off += 1;
  }
  return off;
}
