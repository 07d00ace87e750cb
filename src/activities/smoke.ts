/** Activities for the smoke workflow, built from the clients they use. */
import { ListTablesCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Pool, RowDataPacket } from 'mysql2/promise';

export interface SmokeDeps {
  readonly mysql: Pool;
  readonly dynamo: DynamoDBClient;
}

export function createSmokeActivities({ mysql, dynamo }: SmokeDeps) {
  return {
    /** Reads the source's version and the number of target tables: proof that both stores answer. */
    async describeServices(): Promise<{ mysqlVersion: string; dynamoTables: number }> {
      const [rows] = await mysql.query<RowDataPacket[]>('SELECT VERSION() AS v');
      const tables = await dynamo.send(new ListTablesCommand({}));
      return { mysqlVersion: String(rows[0].v), dynamoTables: tables.TableNames?.length ?? 0 };
    },
  };
}
