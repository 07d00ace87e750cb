/** A new demo run clears the previous run's routing rows for its database, and nothing else. */
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createMysqlPool } from '../../../src/infra/mysql';
import { FlagStore } from '../../../src/routing/flag-store';
import { resetMigrationState } from '../../../scripts/demo/run';
import { uniqueName } from '../../support/ids';

const control = uniqueName('demo_ctl');
const pool = createMysqlPool({ database: '' });
const dynamo = createDynamoClient();

afterAll(async () => {
  await pool.query(`DROP DATABASE IF EXISTS \`${control}\``);
  await pool.end();
  dynamo.destroy();
});

it('deletes the routing rows of the demo database only', async () => {
  const flags = new FlagStore(pool, control);
  await flags.ensureSchema();
  await flags.update('demo_x.users', { readPercent: 10 });
  await flags.update('other_db.users', { readPercent: 20 });
  await pool.query(`CREATE TABLE \`${control}\`.cutover_unrelated (id INT PRIMARY KEY)`);
  await resetMigrationState(pool, dynamo, 'demo_x', control, { app: uniqueName('absent') }); // a missing table is fine
  expect((await flags.get('demo_x.users')).readPercent).toBe(0);
  expect((await flags.get('other_db.users')).readPercent).toBe(20);
});
