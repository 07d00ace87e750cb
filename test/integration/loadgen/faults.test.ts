/**
 * The load generator and checker against stores with injected faults, on real MariaDB: writes that time out after
 * (or before) they were applied are indeterminate and never flagged; a store that acknowledges writes it dropped is
 * caught with the lost writes named.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCheck } from '../../../src/checker/check';
import { createMysqlPool } from '../../../src/infra/mysql';
import type { AppStore, WriteOutcome } from '../../../src/loadgen/app-store';
import { runLoad, seededRandom, type LoadTable } from '../../../src/loadgen/generator';
import { MysqlAppStore } from '../../../src/loadgen/mysql-store';
import type { Row } from '../../../src/pipeline/types';
import { uniqueName } from '../../support/ids';

const db = uniqueName('faults');
const admin = createMysqlPool({ database: '' });
let pool: ReturnType<typeof createMysqlPool>;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-faults-'));

beforeAll(async () => {
  await admin.query(`CREATE DATABASE \`${db}\``);
  pool = createMysqlPool({ database: db, connectionLimit: 6 });
  await pool.query('CREATE TABLE f (id BIGINT PRIMARY KEY, v VARCHAR(32), rev VARCHAR(96) NOT NULL)');
  await pool.query('CREATE TABLE l (id BIGINT PRIMARY KEY, v VARCHAR(32), rev VARCHAR(96) NOT NULL)');
});

afterAll(async () => {
  await pool?.end();
  await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await admin.end();
  fs.rmSync(dir, { recursive: true, force: true });
});

const table = (name: string): LoadTable => ({ name, keySpace: 6, keyFor: (i) => ({ id: String(i + 1) }), rowFor: (key, token, r) => ({ ...key, v: `v${Math.floor(r() * 100)}`, rev: token }) });

/** Applies some writes and then fails them (lost acknowledgement), fails others before applying. */
class FlakyStore implements AppStore {
  private readonly random = seededRandom(11);
  constructor(private readonly inner: AppStore) {}
  get(t: string, key: Row) {
    return this.inner.get(t, key);
  }
  private async flaky(op: () => Promise<WriteOutcome>): Promise<WriteOutcome> {
    const r = this.random();
    if (r < 0.1) throw new Error('connection reset before the request was sent');
    const out = await op();
    if (r < 0.25) throw new Error('timeout waiting for the answer');
    return out;
  }
  insert(t: string, row: Row) {
    return this.flaky(() => this.inner.insert(t, row));
  }
  update(t: string, row: Row) {
    return this.flaky(() => this.inner.update(t, row));
  }
  delete(t: string, key: Row) {
    return this.flaky(() => this.inner.delete(t, key));
  }
  close() {
    return this.inner.close();
  }
}

/** Acknowledges every insert and update of key 1 without applying it. */
class LyingStore implements AppStore {
  constructor(private readonly inner: AppStore) {}
  get(t: string, key: Row) {
    return this.inner.get(t, key);
  }
  async insert(t: string, row: Row) {
    return row.id === '1' ? { applied: true } : this.inner.insert(t, row);
  }
  async update(t: string, row: Row) {
    return row.id === '1' ? { applied: true } : this.inner.update(t, row);
  }
  delete(t: string, key: Row) {
    return this.inner.delete(t, key);
  }
  close() {
    return this.inner.close();
  }
}

const load = (name: string, wrap: (s: AppStore) => AppStore, mix = { read: 2, insert: 3, update: 4, delete: 1 }) =>
  runLoad({ runId: name, instances: 2, storeFor: () => wrap(new MysqlAppStore(pool, { [name]: ['id'] })), tables: [table(name)], mix, ratePerInstance: 300, concurrency: 3, durationMs: 10_000, maxOpsPerInstance: 120, logDir: path.join(dir, name), seed: 5 });

it('never flags writes whose outcome the application could not know', async () => {
  const s = await load('f', (inner) => new FlakyStore(inner));
  expect(s.failed).toBeGreaterThan(10);
  const r = await runCheck(s.logFiles, { tables: [{ table: 'f', tokenColumn: 'rev', mysql: { table: 'f', keyColumns: ['id'] } }], mysql: pool, initial: 'absent' });
  expect(r.keys).toEqual([]);
  expect(r.totals.failed).toBe(s.failed);
});

it('catches a store that acknowledges writes it dropped, naming the lost writes', async () => {
  const s = await load('l', (inner) => new LyingStore(inner), { read: 1, insert: 2, update: 3, delete: 0 });
  expect(s.failed).toBe(0);
  const r = await runCheck(s.logFiles, { tables: [{ table: 'l', tokenColumn: 'rev', mysql: { table: 'l', keyColumns: ['id'] } }], mysql: pool, initial: 'absent' });
  expect(r.passed).toBe(false);
  expect(r.keys.map((k) => k.key)).toEqual([{ id: '1' }]);
  expect(r.keys[0].violations.map((v) => v.kind)).toEqual(['lost-write']);
  expect(r.lostWrites).toBeGreaterThan(0);
});
