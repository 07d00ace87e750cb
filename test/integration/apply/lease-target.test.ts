/**
 * On real dynalite: the partition lease fences blind writers (a paused holder's guard closes before anyone may take
 * over; its renewal then fails), the mode switch waits for live holders, the target table is created from the
 * mapping or checked against it (a non-empty table is never dropped without dropNonEmpty), and tombstone cleanup
 * removes only tombstones.
 */
import { DeleteTableCommand, DescribeTableCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { Applier } from '../../../src/pipeline/apply/apply';
import { cleanupTombstones } from '../../../src/pipeline/apply/cleanup';
import { LeaseLostError, TargetTableError } from '../../../src/pipeline/apply/errors';
import { ControlStore } from '../../../src/pipeline/consumer/control';
import { ensureTargetTable } from '../../../src/pipeline/target/table';
import { compileMapping } from '../../../src/pipeline/transform/mapping';
import { scanAll } from '../consumer/support';
import { uniqueName } from '../../support/ids';

let client: DynamoDBClient;
const tables: string[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(() => {
  client = createDynamoClient();
});
afterAll(async () => {
  await Promise.all(tables.map((t) => client.send(new DeleteTableCommand({ TableName: t })).catch(() => undefined)));
  client.destroy();
});

test('a lease fences a paused holder before a successor may write', async () => {
  const name = uniqueName('lease_control');
  tables.push(name);
  const control = new ControlStore(client, name, { durationMs: 1_500, marginMs: 500, skewMs: 300 });
  await control.ensureTable();
  const a = await control.acquire('g', 't', 0, 'A', async () => undefined);
  expect(a.firstEver).toBe(true);
  const guardA = control.guardOf(a.lease);
  expect(() => guardA()).not.toThrow();

  // B must wait: A's lease is live. It gets it only after expiry + skew.
  const t0 = Date.now();
  let waited = 0;
  const bP = control.acquire('g', 't', 0, 'B', async () => void waited++);
  await sleep(1_200); // A is "paused": no renewal. Its blind-write window (duration − margin) closes first.
  expect(() => guardA()).toThrow(LeaseLostError);
  const b = await bP;
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1_500 + 300 - 100);
  expect(waited).toBeGreaterThan(0);
  expect(b.lease.epoch).toBe(2);
  expect(b.firstEver).toBe(false);
  await expect(control.renew(a.lease)).rejects.toThrow(LeaseLostError); // the zombie cannot come back

  // the mode switch waits for live holders
  await control.initGroup('g', { mode: 'exclusive', fresh: true });
  const v = await control.setMode('g', 'shared');
  const early = await control.awaitMode('g', v, 300);
  expect(early.laggards).toEqual(['B']);
  await control.ackMode('g', 'B', 'shared', v);
  expect((await control.awaitMode('g', v, 1_000)).laggards).toEqual([]);
  expect((await control.getGroup('g'))?.everShared).toBe(true);

  // a released lease is free at once
  await control.release(b.lease);
  const c = await control.acquire('g', 't', 0, 'C', async () => undefined);
  expect(c.lease.epoch).toBe(3);
});

test('target table: created from the mapping, checked, never dropped while it holds items', async () => {
  const table = uniqueName('apply_target');
  tables.push(table);
  const m = compileMapping({
    source: 's.users',
    target: { table, billingMode: 'PAY_PER_REQUEST', gsis: [{ name: 'byEmail', partitionKey: { name: 'email', type: 'S' }, projection: 'KEYS_ONLY' }] },
    partitionKey: { attribute: 'pk', template: 'U#{id}' },
    sortKey: { attribute: 'sk', template: 'PROFILE' },
    nulls: 'omit',
  });
  await expect(ensureTargetTable(client, [m])).rejects.toThrow(/does not exist/);
  const created = await ensureTargetTable(client, [m], { create: true });
  expect(created).toMatchObject({ created: true, emptyForSources: true });
  const d = (await client.send(new DescribeTableCommand({ TableName: table }))).Table;
  expect(d?.GlobalSecondaryIndexes?.[0]?.IndexName).toBe('byEmail');
  expect((await ensureTargetTable(client, [m])).created).toBe(false);

  const other = compileMapping({ source: 's.users', target: table, partitionKey: { attribute: 'n', template: '{id}', type: 'N' }, nulls: 'omit' });
  await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'U#1' }, sk: { S: 'PROFILE' }, _src: { S: 's.users' } } }));
  await expect(ensureTargetTable(client, [other], { create: true, recreateIfEmpty: true })).rejects.toThrow(TargetTableError);
  await expect(ensureTargetTable(client, [other], { recreateIfEmpty: true })).rejects.toThrow(/holds items and is never dropped/);
  expect((await ensureTargetTable(client, [m])).emptyForSources).toBe(false);
  expect(await scanAll(client, table)).toHaveLength(1);
});

test('cleanupTombstones removes tombstones of its sources only', async () => {
  const table = uniqueName('apply_cleanup');
  tables.push(table);
  const m = compileMapping({ source: 's.a', target: table, partitionKey: { attribute: 'pk', template: 'A#{id}' }, nulls: 'omit' });
  await ensureTargetTable(client, [m], { create: true });
  const applier = new Applier({ client, mappings: [m], mode: 'shared' });
  await applier.apply([1, 2, 3].map((id) => ({ operation: 'insert' as const, schema: 's', table: 'a', data: { id }, version: '10' })));
  await applier.apply([{ operation: 'delete', schema: 's', table: 'a', data: { id: 2 }, version: '11' }]);
  await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'B#1' }, _v: { N: '1' }, _del: { BOOL: true }, _src: { S: 's.b' } } }));
  expect(await cleanupTombstones(client, [m])).toMatchObject({ removed: 1 });
  expect((await scanAll(client, table)).map((i) => i.pk.S).sort()).toEqual(['A#1', 'A#3', 'B#1']);
});
