/** Builds every activity from real clients: the only place (with the CLI) where clients are created. */
import { createDynamoClient } from '../infra/dynamodb';
import { createMysqlPool } from '../infra/mysql';
import { createSmokeActivities } from '../activities/smoke';

/** The clients the activities share, and how to close them. */
export interface WorkerDeps {
  readonly activities: Record<string, (...args: never[]) => Promise<unknown>>;
  close(): Promise<void>;
}

export function buildActivities(): WorkerDeps {
  const mysql = createMysqlPool();
  const dynamo = createDynamoClient();
  return {
    activities: { ...createSmokeActivities({ mysql, dynamo }) },
    async close() {
      await mysql.end();
      dynamo.destroy();
    },
  };
}
