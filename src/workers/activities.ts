/** Builds every activity from real clients: the only place (with the CLI) where clients are created. */
import { createDynamoClient } from '../infra/dynamodb';
import { createMysqlPool } from '../infra/mysql';
import { createSmokeActivities } from '../activities/smoke';
import { createMigrationActivities, type ActivityParts } from '../activities/migration';
import type { Logger } from '../infra/logger';
import type { CutoverMetrics } from '../infra/metrics';

/** The clients the activities share, and how to close them. */
export interface WorkerDeps {
  readonly activities: Record<string, (...args: never[]) => Promise<unknown>>;
  close(): Promise<void>;
}

/**
 * The migration activities' implementations, built from the worker's clients by their owning modules. Not wired
 * yet: every activity not listed here fails with NotImplementedError naming its owner (see ACTIVITY_OWNERS).
 */
function migrationParts(): ActivityParts {
  return {};
}

/** Smoke and migration activities; `logger`/`metrics` are optional so scripts can build a bare worker. */
export function buildActivities(opts: { logger?: Logger; metrics?: CutoverMetrics } = {}): WorkerDeps {
  const mysql = createMysqlPool();
  const dynamo = createDynamoClient();
  const migration = opts.logger ? createMigrationActivities({ parts: migrationParts(), logger: opts.logger, metrics: opts.metrics }) : {};
  return {
    activities: { ...createSmokeActivities({ mysql, dynamo }), ...(migration as unknown as WorkerDeps['activities']) },
    async close() {
      await mysql.end();
      dynamo.destroy();
    },
  };
}
