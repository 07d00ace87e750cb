/**
 * Every migration activity's implementation, built from the worker's clients (src/workers/activities.ts passes them
 * to createMigrationActivities, which adds logs, metrics and NotImplementedError for anything missing).
 */
import type { ActivityParts } from '../migration';
import { createBackfillParts } from './backfill';
import { createCdcParts } from './cdc';
import type { PartClients } from './common';
import { createEtlParts } from './etl';
import { createRoutingParts } from './routing';
import { createTargetParts } from './target';
import { createVerifyParts } from './verify';

export type { PartClients } from './common';

/** All parts: together they cover MIGRATION_ACTIVITY_NAMES. */
export function createAllParts(c: PartClients): ActivityParts {
  return { ...createCdcParts(c), ...createTargetParts(c), ...createBackfillParts(c), ...createEtlParts(c), ...createVerifyParts(c), ...createRoutingParts(c) };
}
