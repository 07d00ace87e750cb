/**
 * The load generator against real MariaDB through the direct-MySQL AppStore: several instances contend on a small
 * key space, every operation is logged, and the independent checker accepts the final state (then rejects it once
 * an acknowledged write is deliberately undone).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { assertLocalServices, NonLocalTargetError } from '../../../src/loadgen/app-store';
import { readOpLogs, runCheck } from '../../../src/checker/check';
import { buildHistories } from '../../../src/checker/history';
import { createMysqlPool } from '../../../src/infra/mysql';
import { MysqlAppStore } from '../../../src/loadgen/mysql-store';
import { runLoad, type LoadTable } from '../../../src/loadgen/generator';
import { uniqueName } from '../../support/ids';

const db = uniqueName('lg');
const admin = createMysqlPool({ database: '' });
let pool: ReturnType<typeof createMysqlPool>;
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-loadgen-'));

beforeAll(async () => {
  await admin.query(`CREATE DATABASE \`${db}\``);
  pool = createMysqlPool({ database: db, connectionLimit: 6 });
  await pool.query('CREATE TABLE kv (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, amount DECIMAL(10,2), blob_col VARBINARY(16), rev VARCHAR(96) NOT NULL)');
});

afterAll(async () => {
  await pool?.end();
  await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await admin.end();
  fs.rmSync(logDir, { recursive: true, force: true });
});

const kv: LoadTable = {
  name: 'kv',
  keySpace: 12,
  keyFor: (i) => ({ id: String(i + 1) }),
  rowFor: (key, token, r) => ({ ...key, name: `n${Math.floor(r() * 1000)}`, amount: (Math.floor(r() * 100000) / 100).toFixed(2), blob_col: { $b64: Buffer.from([Math.floor(r() * 256), 1, 2]).toString('base64') }, rev: token }),
};
const checked = [{ table: 'kv', tokenColumn: 'rev', mysql: { table: 'kv', keyColumns: ['id'] } }];

it('refuses to aim at anything but this machine', async () => {
  const remote = mysql.createPool({ host: '10.1.2.3', user: 'x' }); // never connects: the store refuses it first
  expect(() => new MysqlAppStore(remote, { kv: ['id'] })).toThrow(NonLocalTargetError);
  await remote.end();
  expect(() => assertLocalServices({ mysqlUrl: 'mysql://u:p@db.example.com:3306/x', dynamoEndpoint: 'http://127.0.0.1:18000' })).toThrow(/CUTOVER_MYSQL_URL.*db\.example\.com/);
  expect(() => assertLocalServices({ mysqlUrl: 'mysql://u:p@127.0.0.1:13306/x', dynamoEndpoint: undefined })).toThrow(NonLocalTargetError);
});

it('runs bounded load whose logs the checker accepts, and the checker catches an undone write', async () => {
  const summary = await runLoad({
    runId: 'lg',
    instances: 3,
    storeFor: () => new MysqlAppStore(pool, { kv: ['id'] }),
    tables: [kv],
    mix: { read: 2, insert: 3, update: 3, delete: 2 },
    ratePerInstance: 200,
    concurrency: 3,
    durationMs: 10_000,
    maxOpsPerInstance: 150,
    logDir,
    seed: 42,
    skew: { hotKeys: 3, probability: 0.5 }, // half the requests fight over three keys
  });
  expect(summary.requests).toBe(450);
  expect(summary.failed).toBe(0);
  expect(summary.logFiles).toHaveLength(3);
  expect(summary.read.count).toBeGreaterThan(0);

  // The run really had concurrent writes to one key (so the checker judged interleavings, not a serial history).
  const records = [];
  for await (const r of readOpLogs(summary.logFiles)) records.push(r);
  const overlapping = [...buildHistories(records, () => 'rev').tables.get('kv')!.values()].some((h) =>
    h.writes.some((a) => h.writes.some((b) => a !== b && a.start < b.end && b.start < a.end)));
  expect(overlapping).toBe(true);

  const ok = await runCheck(summary.logFiles, { tables: checked, mysql: pool, initial: 'absent' });
  expect(ok.keys).toEqual([]);
  expect(ok.passed).toBe(true);
  expect(ok.totals.ok).toBe(450);
  expect(ok.lostWrites).toBe(0);
  expect(ok.reads.checked).toBeGreaterThan(0);
  expect(ok.reads).toMatchObject({ stale: 0, phantom: 0 }); // one MySQL server: every read sees the latest write

  // Undo the effect of the last acknowledged write of some present key: restore an older token.
  const [rows] = await pool.query<RowDataPacket[]>('SELECT id, rev FROM kv ORDER BY id LIMIT 1');
  expect(rows.length).toBe(1);
  await pool.query('UPDATE kv SET rev = ? WHERE id = ?', ['lg:not-a-logged-write', rows[0].id]);
  await pool.query('DELETE FROM kv WHERE id <> ? ORDER BY id LIMIT 1', [rows[0].id]);
  const bad = await runCheck(summary.logFiles, { tables: checked, mysql: pool, initial: 'absent' });
  expect(bad.passed).toBe(false);
  expect(bad.violationsByKind['unknown-value']).toBeGreaterThanOrEqual(1);
  const kinds = bad.keys.flatMap((k) => k.violations.map((v) => v.kind));
  expect(kinds).toContain('unknown-value');
});
