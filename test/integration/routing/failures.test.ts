/**
 * Failing background writes on the real stack. An application instance whose DynamoDB endpoint is a closed port
 * (mysql-primary: every shadow write fails for real) and one whose MySQL endpoint is a closed port (dynamo-primary:
 * every background MySQL write fails for real): no request fails or changes its answer; each failure is counted,
 * logged with its key, kept in failedBackgroundKeys, heartbeated and reported by the workflow's readShadowStats
 * activity; and the stores converge once the failure is gone (the CDC path for shadow writes, reconcile for
 * background writes).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as net from 'node:net';
import { Writable } from 'node:stream';
import * as mysql from 'mysql2/promise';
import pino from 'pino';
import { createRoutingParts } from '../../../src/activities/parts/routing';
import type { PartClients } from '../../../src/activities/parts/common';
import { serviceEnv } from '../../../src/infra/env';
import { ROW_QUERY_OPTIONS } from '../../../src/pipeline/row/codec';
import type { ActivityCtx } from '../../../src/shared/activity-contract';
import { routingStats } from '../../../src/routing/control';
import { DynamoSide } from '../../../src/routing/dynamo-side';
import type { WriteMode } from '../../../src/routing/flags';
import type { MigratingTable } from '../../../src/routing/migrating-table';
import { MysqlSide } from '../../../src/routing/mysql-side';
import { reconcileFromDynamo } from '../../../src/routing/reconcile';
import { TestCdcRelay } from './support/cdc-relay';
import { createFixture, type Fixture } from './support/fixture';

let fx: Fixture;
let relay: TestCdcRelay;
let closedPort: number;
const tableId = () => `${fx.db}.acct`;

/** A port on which nothing listens (bound, then released). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A pino logger whose JSON lines land in `lines`. */
function capturingLogger(lines: Record<string, unknown>[]): pino.Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return pino({ level: 'info' }, sink);
}

beforeAll(async () => {
  fx = await createFixture('rt_fail', ['CREATE TABLE acct (id INT NOT NULL PRIMARY KEY, owner VARCHAR(40) NOT NULL, balance DECIMAL(10,2) NOT NULL)'], {
    acct: { partitionKey: { attribute: 'pk', template: 'A#{id}' }, nulls: 'null' },
  });
  const { mapping, columns } = await fx.mapping('acct');
  relay = new TestCdcRelay(fx.pool, mapping, columns, fx.dynamo);
  await relay.start();
  closedPort = await freePort();
});

afterAll(async () => {
  await relay?.stop();
  await fx?.close();
});

async function setMode(to: WriteMode): Promise<void> {
  const order: WriteMode[] = ['mysql-only', 'mysql-primary', 'fenced', 'dynamo-primary', 'dynamo-only'];
  let i = order.indexOf((await fx.flagStore.get(tableId())).writeMode);
  while (i !== order.indexOf(to)) {
    i += i < order.indexOf(to) ? 1 : -1;
    await fx.flagStore.update(tableId(), { writeMode: order[i] });
  }
}

/** What the workflow's soak gate reads (the real activity, over the fixture's flag store). */
async function reportedToWorkflow() {
  const parts = createRoutingParts({ flagStore: fx.flagStore } as unknown as PartClients);
  const ctx = { source: { database: fx.db, table: 'acct' } } as unknown as ActivityCtx;
  return (parts.readShadowStats as NonNullable<typeof parts.readShadowStats>)({ ctx, since: new Date().toISOString() });
}

/** The instance's given-up background writes as sorted "kind key" strings. */
const failed = (t: MigratingTable) => t.failedBackgroundKeys.map((f) => `${f.kind} ${f.key}`).sort();

const acct = (id: number, owner: string, balance: string) => ({ id, owner, balance });

it('mysql-primary: failing DynamoDB shadow writes never fail a request, are counted, logged with the key, reported, and CDC converges the stores', async () => {
  await setMode('mysql-primary');
  const lines: Record<string, unknown>[] = [];
  const env = serviceEnv();
  const deadDynamo = new DynamoDBClient({ region: env.awsRegion, endpoint: `http://127.0.0.1:${closedPort}`, credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  const t = await fx.open('acct', { dynamo: deadDynamo, logger: capturingLogger(lines), background: { attempts: 2, baseDelayMs: 5 }, instanceId: 'dead-dynamo' });
  try {
    expect(t.flags.writeMode).toBe('mysql-primary');
    await expect(t.insert(acct(1, 'ann', '10.00'))).resolves.toEqual(acct(1, 'ann', '10.00'));
    await expect(t.put(acct(2, 'bob', '20.00'))).resolves.toBeUndefined();
    await expect(t.update({ id: 1 }, { balance: '11.50' })).resolves.toBe(true);
    await expect(t.put(acct(3, 'cy', '30.00'))).resolves.toBeUndefined();
    await expect(t.delete({ id: 3 })).resolves.toBe(true);
    expect(await t.get({ id: 1 })).toEqual(acct(1, 'ann', '11.50')); // reads MySQL (readPercent 0)
    await t.settle();

    const s = t.stats();
    expect([s.shadowWrites, s.shadowWriteErrors, s.backgroundWriteErrors]).toEqual([0, 5, 0]);
    // Tasks retry with jitter, so they fail in any order: one failure per write, each with its key.
    expect(failed(t)).toEqual(['shadowWrite [1]', 'shadowWrite [1]', 'shadowWrite [2]', 'shadowWrite [3]', 'shadowWrite [3]']);
    expect(t.failedBackgroundKeys.every((f) => /ECONNREFUSED|connect/i.test(f.error))).toBe(true);
    const logged = lines.filter((l) => /background write failed/.test(String(l.msg)));
    expect(logged.map((l) => [l.level, l.kind, l.key])).toEqual(t.failedBackgroundKeys.map((f) => [50, f.kind, f.key]));

    // Reported: the instance's heartbeat carries the counters, the workflow's activity sums them.
    expect((await routingStats(fx.flagStore, tableId())).shadowWriteErrors).toBe(5);
    expect(await reportedToWorkflow()).toMatchObject({ shadowWrites: 0, shadowWriteErrors: 5, backgroundWriteErrors: 0 });
  } finally {
    await t.close();
    deadDynamo.destroy();
  }

  // The failure is gone for the CDC path: the binlog reaches DynamoDB and the stores agree key by key.
  await relay.catchUp();
  const { mapping, columns } = await fx.mapping('acct');
  const dyn = new DynamoSide(fx.dynamo, mapping);
  const my = new MysqlSide(fx.pool, mapping, columns, fx.flagStore.rowVersionsTable);
  for (const id of [1, 2, 3]) {
    const item = (await dyn.read(mapping.keyOf({ id }))).live;
    expect(item ? mapping.toRow(item) : undefined).toEqual(await my.get({ id }));
  }
  expect(await my.get({ id: 1 })).toEqual(acct(1, 'ann', '11.50'));
  expect(await my.get({ id: 3 })).toBeUndefined();
});

it('dynamo-primary: failing MySQL background writes never fail a request, are counted, logged with the key, reported, and reconcile converges the stores', async () => {
  await relay.catchUp(); // DynamoDB holds every MySQL-primary write before DynamoDB-first writes start (as the transition waits)
  await setMode('dynamo-primary');
  const lines: Record<string, unknown>[] = [];
  const deadPool = mysql.createPool({ ...ROW_QUERY_OPTIONS, host: '127.0.0.1', port: closedPort, user: 'nobody', password: 'x', database: fx.db, connectionLimit: 2 });
  const t = await fx.open('acct', { pool: deadPool, logger: capturingLogger(lines), background: { attempts: 2, baseDelayMs: 5 }, instanceId: 'dead-mysql' });
  const before = (await routingStats(fx.flagStore, tableId())).backgroundWriteErrors;
  try {
    expect(t.flags.writeMode).toBe('dynamo-primary');
    await expect(t.update({ id: 2 }, { balance: '21.00' })).resolves.toBe(true);
    await expect(t.insert(acct(4, 'dee', '40.00'))).resolves.toEqual(acct(4, 'dee', '40.00'));
    await expect(t.delete({ id: 1 })).resolves.toBe(true);
    expect(await t.get({ id: 2 })).toEqual(acct(2, 'bob', '21.00')); // DynamoDB serves
    await t.settle();
    const s = t.stats();
    expect([s.backgroundWrites, s.backgroundWriteErrors, s.shadowWriteErrors]).toEqual([0, 3, 0]);
    expect(failed(t)).toEqual(['backgroundWrite [1]', 'backgroundWrite [2]', 'backgroundWrite [4]']);
    const logged = lines.filter((l) => /background write failed/.test(String(l.msg)));
    expect(logged.map((l) => [l.level, l.kind, l.key])).toEqual(t.failedBackgroundKeys.map((f) => [50, f.kind, f.key]));
    expect((await routingStats(fx.flagStore, tableId())).backgroundWriteErrors).toBe(before + 3);
    expect((await reportedToWorkflow()).backgroundWriteErrors).toBe(before + 3);
  } finally {
    await t.close();
    await deadPool.end();
  }

  const { mapping, columns } = await fx.mapping('acct');
  const my = new MysqlSide(fx.pool, mapping, columns, fx.flagStore.rowVersionsTable);
  expect(await my.get({ id: 2 })).toEqual(acct(2, 'bob', '20.00')); // the failed write really did not land
  const r = await reconcileFromDynamo({ pool: fx.pool, dynamo: fx.dynamo, mapping, columns, flagStore: fx.flagStore });
  expect(r.reappliedKeys).toBe(3);
  const dyn = new DynamoSide(fx.dynamo, mapping);
  for (const id of [1, 2, 3, 4]) {
    const item = (await dyn.read(mapping.keyOf({ id }))).live;
    expect(await my.get({ id })).toEqual(item ? mapping.toRow(item) : undefined);
  }
  expect(await my.get({ id: 2 })).toEqual(acct(2, 'bob', '21.00'));
});
