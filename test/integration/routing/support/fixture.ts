/** A throwaway MariaDB database + dynalite table + flag store + mapping for one routing test file. */
import { CreateTableCommand, DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as mysql from 'mysql2/promise';
import { createDynamoClient } from '../../../../src/infra/dynamodb';
import { createMysqlPool, mysqlConnectionParams } from '../../../../src/infra/mysql';
import { readColumns, ROW_QUERY_OPTIONS, type ColumnInfo } from '../../../../src/pipeline/row/codec';
import { compileMapping, type TableMappingConfig } from '../../../../src/pipeline/transform/mapping';
import { FlagStore } from '../../../../src/routing/flag-store';
import { MigratingTable, type MigratingTableOptions } from '../../../../src/routing/migrating-table';
import type { RoutingMapping } from '../../../../src/routing/mapping';
import { uniqueName } from '../../../support/ids';

export interface Fixture {
  readonly db: string;
  readonly dynamoTable: string;
  readonly pool: mysql.Pool;
  readonly dynamo: DynamoDBClient;
  readonly flagStore: FlagStore;
  mapping(table: string): Promise<{ mapping: RoutingMapping; columns: ColumnInfo[] }>;
  /** A MigratingTable for `table` with test-speed timings. */
  open(table: string, extra?: Partial<MigratingTableOptions>): Promise<MigratingTable>;
  /** A new pool on the fixture database, owned by the caller. */
  newPool(connectionLimit?: number): mysql.Pool;
  close(): Promise<void>;
}

/** Mapping configs per source table name (source/target filled in by the fixture). */
export type MappingSpecs = Record<string, Omit<TableMappingConfig, 'source' | 'target'>>;

export async function createFixture(prefix: string, ddl: string[], specs: MappingSpecs, keySchema: { pk: 'S' | 'N'; sk?: 'S' | 'N' } = { pk: 'S' }): Promise<Fixture> {
  const db = uniqueName(prefix);
  const dynamoTable = uniqueName(prefix);
  const admin = createMysqlPool({ database: '' });
  await admin.query(`CREATE DATABASE \`${db}\``);
  await admin.end();
  const newPool = (connectionLimit = 4) => {
    const p = mysqlConnectionParams();
    return mysql.createPool({ ...ROW_QUERY_OPTIONS, host: p.host, port: p.port, user: p.user, password: p.password, database: db, connectionLimit });
  };
  const pool = newPool(8);
  for (const s of ddl) await pool.query(s);
  const dynamo = createDynamoClient();
  await dynamo.send(
    new CreateTableCommand({
      TableName: dynamoTable,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: keySchema.pk }, ...(keySchema.sk ? [{ AttributeName: 'sk', AttributeType: keySchema.sk }] : [])],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, ...(keySchema.sk ? [{ AttributeName: 'sk', KeyType: 'RANGE' as const }] : [])],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  const flagStore = new FlagStore(pool, db);
  await flagStore.ensureSchema();
  const mappings = new Map<string, { mapping: RoutingMapping; columns: ColumnInfo[] }>();
  const mappingOf = async (table: string) => {
    let m = mappings.get(table);
    if (!m) {
      const columns = await readColumns(pool, db, table);
      m = { mapping: compileMapping({ ...specs[table], source: `${db}.${table}`, target: dynamoTable } as TableMappingConfig, columns), columns };
      mappings.set(table, m);
    }
    return m;
  };
  const opened: MigratingTable[] = [];
  return {
    db,
    dynamoTable,
    pool,
    dynamo,
    flagStore,
    mapping: mappingOf,
    newPool,
    async open(table, extra = {}) {
      const { mapping, columns } = await mappingOf(table);
      const t = await MigratingTable.open({ pool, dynamo, mapping, columns, flagStore, intervalMs: 50, staleMs: 3000, fenceTimeoutMs: 15_000, ...extra });
      opened.push(t);
      return t;
    },
    async close() {
      for (const t of opened) await t.close().catch(() => undefined);
      await dynamo.send(new DeleteTableCommand({ TableName: dynamoTable })).catch(() => undefined);
      await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
      await pool.end();
      dynamo.destroy();
    },
  };
}
