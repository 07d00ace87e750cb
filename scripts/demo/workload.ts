/**
 * The demo's live load and how the checker finds its rows: load-generator tables over the seeded key space (plus
 * 10% never-seeded keys, so inserts succeed too), and the checker's explicit view of where each table lives in
 * MySQL and in DynamoDB. The DynamoDB key templates restate scripts/demo/mapping.yaml on purpose: the checker reads
 * no cutover code, and a mapping that disagrees with them shows up as violations, not as silently shared bugs.
 */
import type { CheckedTable } from '../../src/checker/check';
import type { LoadTable } from '../../src/loadgen/generator';
import { DEMO_DATABASE, DEMO_KEYS, DEMO_TABLES, LINES_PER_ORDER, demoKey, demoRow, tableSizes, type DemoTable } from './schema';

/** Load-generator tables for a database seeded with `total` rows. Weights follow a shop: mostly orders and users. */
export function demoLoadTables(total: number, tables: readonly DemoTable[] = DEMO_TABLES): LoadTable[] {
  const sizes = tableSizes(total);
  const weight: Record<DemoTable, number> = { users: 3, orders: 4, order_items: 2, attachments: 1 };
  return tables.map((table) => {
    const seeded = table === 'order_items' ? sizes.order_items + (LINES_PER_ORDER - (sizes.order_items % LINES_PER_ORDER)) % LINES_PER_ORDER : sizes[table];
    return {
      name: table,
      keySpace: Math.ceil(seeded * 1.1),
      keyFor: (i: number) => demoKey(table, i),
      rowFor: (key, token, r) => demoRow(table, key, token, r),
      weight: weight[table],
    };
  });
}

/** DynamoDB tables of the demo mapping (scripts/demo/mapping.yaml). */
export const DEMO_DYNAMO_TABLES = { app: 'cutover_demo_app', attachments: 'cutover_demo_attachments' } as const;

/** DynamoDB tables of a demo in `database`: the mapping's own for cutover_demo, `<database>_app`/`_attachments` else. */
export function demoDynamoTables(database: string): { app: string; attachments: string } {
  return database === DEMO_DATABASE ? DEMO_DYNAMO_TABLES : { app: `${database}_app`, attachments: `${database}_attachments` };
}

/** The checker's configuration for the demo tables in `database` (and the mapping's DynamoDB tables). */
export function demoCheckedTables(database: string, dynamo: { app: string; attachments: string } = demoDynamoTables(database), tables: readonly DemoTable[] = DEMO_TABLES): CheckedTable[] {
  const app = (pk: string, sk: string, attributes: Record<string, string>) => ({
    tableName: dynamo.app,
    key: [{ attribute: 'pk', type: 'S' as const, template: pk }, { attribute: 'sk', type: 'S' as const, template: sk }],
    tokenAttribute: 'rev',
    attributes,
  });
  // Plainly mapped columns the checker compares itself (JSON and datetime conversions are left to verify).
  const ddb: Record<DemoTable, CheckedTable['dynamo']> = {
    users: app('USER#{id}', 'PROFILE', { id: 'id', email: 'email', display_name: 'name' }),
    orders: app('ORDER#{id}', 'ORDER', { id: 'id', user_id: 'user_id', status: 'status', total: 'total', currency: 'currency', note: 'note' }),
    order_items: app('ORDER#{order_id}', 'LINE#{line_no}', { order_id: 'order_id', line_no: 'line_no', sku: 'sku', quantity: 'quantity', unit_price: 'unit_price' }),
    attachments: {
      tableName: dynamo.attachments,
      key: [{ attribute: 'pk', type: 'N', template: '{id}' }],
      tokenAttribute: 'rev',
      attributes: { id: 'id', order_id: 'order_id', filename: 'filename', sha256: 'sha256', content: 'content' },
    },
  };
  return tables.map((table) => ({ table, tokenColumn: 'rev', mysql: { database, table, keyColumns: DEMO_KEYS[table] }, dynamo: ddb[table] }));
}
