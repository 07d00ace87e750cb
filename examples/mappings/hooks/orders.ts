/** Example code hook: adds a status label the declarative mapping cannot express, and removes it on the way back. */
import type { Item } from '../../../src/pipeline/item';
import type { Row } from '../../../src/pipeline/types';

export function transform(row: Row, item: Item): Item {
  const total = Number(row.total_cents ?? 0);
  return { ...item, size: { S: total >= 10_000 ? 'large' : 'small' } };
}

export function toRow(_item: Item, row: Row): Row {
  const { size: _size, ...rest } = row as Record<string, Row[string]>;
  return rest;
}
