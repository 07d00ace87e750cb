/**
 * Shadow reads whose secondary store hangs or throws, on the real stack. The response is the primary's result (or
 * the primary's error) unchanged, and it does not wait for the shadow: each test records the order of events — the
 * response arrives while the secondary's request is provably still outstanding (a DynamoDB endpoint that accepts
 * and never answers; a MySQL read blocked by LOCK TABLES … WRITE, seen in the processlist) and only afterwards is the
 * secondary released. No wall-clock thresholds. A secondary that fails is counted as a shadow-read error, never as a
 * mismatch or a comparison.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as net from 'node:net';
import type { RowDataPacket } from 'mysql2/promise';
import { serviceEnv } from '../../../src/infra/env';
import type { WriteMode } from '../../../src/routing/flags';
import type { MigratingTable } from '../../../src/routing/migrating-table';
import { MysqlSide } from '../../../src/routing/mysql-side';
import type { ShadowResult } from '../../../src/routing/shadow-read';
import { createFixture, type Fixture } from './support/fixture';

let fx: Fixture;
const tableId = () => `${fx.db}.acct`;
const acct = (id: number, owner: string) => ({ id, owner });

/** A TCP endpoint that accepts connections and never answers, until `release()` resets them all. */
class BlackHole {
  private readonly server = net.createServer((s) => {
    this.sockets.add(s);
    s.on('data', () => this.waiters.splice(0).forEach((w) => w()));
    s.on('error', () => undefined);
  });
  private readonly sockets = new Set<net.Socket>();
  private waiters: Array<() => void> = [];
  port = 0;
  requests = 0;

  async listen(): Promise<void> {
    this.server.on('connection', (s) => s.on('data', () => this.requests++));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Resolves once a request's bytes have arrived (at once if one already did and is unanswered). */
  request(): Promise<void> {
    return this.requests > 0 ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  release(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.requests = 0;
  }

  close(): Promise<void> {
    this.release();
    return new Promise((r) => this.server.close(() => r()));
  }
}

function dynamoAt(port: number): DynamoDBClient {
  const env = serviceEnv();
  return new DynamoDBClient({ region: env.awsRegion, endpoint: `http://127.0.0.1:${port}`, credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
}

async function setFlags(writeMode: WriteMode, readPercent: number): Promise<void> {
  const order: WriteMode[] = ['mysql-only', 'mysql-primary', 'fenced', 'dynamo-primary', 'dynamo-only'];
  let i = order.indexOf((await fx.flagStore.get(tableId())).writeMode);
  while (i !== order.indexOf(writeMode)) {
    i += i < order.indexOf(writeMode) ? 1 : -1;
    await fx.flagStore.update(tableId(), { writeMode: order[i] });
  }
  await fx.flagStore.update(tableId(), { readPercent, shadowReadFraction: 1 });
}

/** Opens an instance on the fixture table whose shadow outcomes are appended to `events`. */
async function openRecording(events: string[], results: ShadowResult[], extra: Parameters<Fixture['open']>[1] = {}): Promise<MigratingTable> {
  return fx.open('acct', {
    ...extra,
    shadow: {
      recheckDelayMs: 0,
      onResult: (r) => {
        results.push(r);
        events.push(`shadow ${r.outcome}`);
      },
    },
  });
}

const counts = (t: MigratingTable) => {
  const s = t.stats();
  return { readsCompared: s.readsCompared, readMismatches: s.readMismatches, shadowReadErrors: s.shadowReadErrors };
};

beforeAll(async () => {
  fx = await createFixture('rt_shfail', ['CREATE TABLE acct (id INT NOT NULL PRIMARY KEY, owner VARCHAR(40) NOT NULL)'], {
    acct: { partitionKey: { attribute: 'pk', template: 'A#{id}' }, nulls: 'null' },
  });
  const writer = await fx.open('acct');
  await setFlags('dynamo-primary', 0);
  await writer.refreshFlags();
  for (const id of [1, 2, 3]) await writer.put(acct(id, `o${id}`)); // DynamoDB first, MySQL in the background
  await writer.settle();
});

afterAll(() => fx?.close());

describe('MySQL primary, DynamoDB secondary', () => {
  const hole = new BlackHole();
  beforeAll(async () => {
    await hole.listen();
    await setFlags('mysql-primary', 0);
  });
  afterAll(() => hole.close());

  it('a hung secondary: get and query answer with MySQL while the DynamoDB request is outstanding; released, it counts as an error', async () => {
    const events: string[] = [];
    const results: ShadowResult[] = [];
    const client = dynamoAt(hole.port);
    const t = await openRecording(events, results, { dynamo: client });
    try {
      expect(t.flags).toMatchObject({ writeMode: 'mysql-primary', readPercent: 0, shadowReadFraction: 1 });
      for (const [name, read, expected] of [
        ['get', () => t.get({ id: 1 }), acct(1, 'o1')],
        ['query', () => t.query({ id: 2 }), [acct(2, 'o2')]],
      ] as const) {
        const before = counts(t);
        expect(await read()).toEqual(expected);
        events.push(`${name} answered`);
        await hole.request(); // the shadow's DynamoDB request has arrived and is unanswered
        events.push(`${name} shadow outstanding`);
        expect(counts(t)).toEqual(before); // nothing compared or counted yet: the shadow is still pending
        hole.release();
        events.push(`${name} shadow released`);
        await t.settle();
        expect(counts(t)).toEqual({ ...before, shadowReadErrors: before.shadowReadErrors + 1 });
      }
      expect(events).toEqual(['get answered', 'get shadow outstanding', 'get shadow released', 'shadow error', 'query answered', 'query shadow outstanding', 'query shadow released', 'shadow error']);
      expect(results.map((r) => [r.outcome, r.primaryStore, r.key, r.columns])).toEqual([
        ['error', 'mysql', '[1]', []],
        ['error', 'mysql', '[2]', []],
      ]);
    } finally {
      hole.release();
      await t.close();
      client.destroy();
    }
  });

  it('a throwing secondary (closed port): the primary result is returned, an error is counted, not a mismatch', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const events: string[] = [];
    const results: ShadowResult[] = [];
    const client = dynamoAt(port);
    const t = await openRecording(events, results, { dynamo: client });
    try {
      for (let i = 0; i < 5; i++) expect(await t.get({ id: 3 })).toEqual(acct(3, 'o3'));
      expect(await t.get({ id: 99 })).toBeUndefined();
      await t.settle();
      expect(counts(t)).toEqual({ readsCompared: 0, readMismatches: 0, shadowReadErrors: 6 });
      expect(results.every((r) => r.outcome === 'error' && /ECONNREFUSED|connect/i.test(r.error ?? ''))).toBe(true);
    } finally {
      await t.close();
      client.destroy();
    }
  });

  it("the primary's error is returned unchanged, and no shadow read is started for it", async () => {
    const events: string[] = [];
    const client = dynamoAt(hole.port);
    const t = await openRecording(events, [], { dynamo: client });
    const { mapping, columns } = await fx.mapping('acct');
    const direct = new MysqlSide(fx.pool, mapping, columns, fx.flagStore.rowVersionsTable);
    await fx.pool.query('RENAME TABLE acct TO acct_hidden');
    try {
      const expected = await direct.get({ id: 1 }).then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string },
      );
      expect(expected?.code).toBe('ER_NO_SUCH_TABLE');
      const got = await t.get({ id: 1 }).then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string },
      );
      expect([got?.constructor, got?.name, got?.code, got?.message]).toEqual([expected?.constructor, expected?.name, expected?.code, expected?.message]);
      await t.settle();
      expect(hole.requests).toBe(0);
      expect(events).toEqual([]);
      expect(counts(t)).toEqual({ readsCompared: 0, readMismatches: 0, shadowReadErrors: 0 });
    } finally {
      await fx.pool.query('RENAME TABLE acct_hidden TO acct');
      await t.close();
      client.destroy();
    }
  });
});

describe('DynamoDB primary, MySQL secondary', () => {
  it('a MySQL shadow read blocked by a table lock: the DynamoDB answer comes first; the comparison completes after the lock is released', async () => {
    await setFlags('dynamo-primary', 0);
    const events: string[] = [];
    const results: ShadowResult[] = [];
    const pool = fx.newPool(2);
    const t = await openRecording(events, results, { pool });
    const locker = await fx.pool.getConnection();
    try {
      expect(t.flags.writeMode).toBe('dynamo-primary');
      await locker.query('LOCK TABLES acct WRITE');
      expect(await t.get({ id: 2 })).toEqual(acct(2, 'o2'));
      events.push('get answered');
      // The shadow's SELECT is now waiting for the lock: wait until MariaDB shows it so.
      for (;;) {
        const [rows] = await fx.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE LIKE 'Waiting for table%lock'", [fx.db]);
        if (Number(rows[0].n) > 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      events.push('shadow blocked');
      expect(counts(t)).toEqual({ readsCompared: 0, readMismatches: 0, shadowReadErrors: 0 });
      await locker.query('UNLOCK TABLES');
      events.push('lock released');
      await t.settle();
      expect(events).toEqual(['get answered', 'shadow blocked', 'lock released', 'shadow match']);
      expect(results.map((r) => [r.outcome, r.primaryStore, r.key])).toEqual([['match', 'dynamodb', '[2]']]);
      expect(counts(t)).toEqual({ readsCompared: 1, readMismatches: 0, shadowReadErrors: 0 });
    } finally {
      await locker.query('UNLOCK TABLES');
      locker.release();
      await t.close();
      await pool.end();
    }
  });
});
