/** Every activity of the migration contract has a part: the worker never serves a NotImplementedError. */
import { createAllParts, type PartClients } from '../../../src/activities/parts/index';
import { MIGRATION_ACTIVITY_NAMES } from '../../../src/shared/activity-contract';

it('createAllParts implements every activity of MIGRATION_ACTIVITY_NAMES (building them does no I/O)', () => {
  const parts = createAllParts({ flagStore: { schema: 'cutover_control' } } as unknown as PartClients);
  expect(MIGRATION_ACTIVITY_NAMES.filter((n) => typeof parts[n] !== 'function')).toEqual([]);
});
