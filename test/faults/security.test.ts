/**
 * Security basics, on the real stack (quick; part of `npm test`):
 * - every service of the local stack listens on the loopback address only (from /proc/net/tcp and tcp6);
 * - a MySQL password given to a component (the CDC worker, via CUTOVER_MYSQL_URL) appears in none of its output,
 *   neither when it runs nor when the server is unreachable (which must fail with a clear error);
 * - SQL identifiers from config are quoted: a database, table and columns whose names hold a backtick, a quote and
 *   a dash pass preflight, and verification reads them correctly. (Names with white space are refused by the mapping
 *   schema with a clear error.)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { createCdcParts } from '../../src/activities/parts/cdc';
import type { PartClients } from '../../src/activities/parts/common';
import { createDynamoClient } from '../../src/infra/dynamodb';
import { serviceEnv } from '../../src/infra/env';
import { mysqlConnectionParams } from '../../src/infra/mysql';
import { createSourcePool } from '../../src/pipeline/backfill/source-pool';
import { ControlStore } from '../../src/pipeline/consumer/control';
import { readColumns } from '../../src/pipeline/row/codec';
import { ensureTargetTable } from '../../src/pipeline/target/table';
import { compileMapping } from '../../src/pipeline/transform/mapping';
import { runVerify } from '../../src/pipeline/verify/verifier';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { uniqueName } from '../support/ids';

jest.setTimeout(60_000);
const ROOT = path.join(__dirname, '..', '..');

function listening(): { addr: string; port: number }[] {
  const out: { addr: string; port: number }[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(f)) continue;
    for (const line of fs.readFileSync(f, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '0A') continue; // 0A = LISTEN
      const [addr, port] = cols[1].split(':');
      out.push({ addr, port: parseInt(port, 16) });
    }
  }
  return out;
}

const LOOPBACK = new Set(['0100007F', '0000000000000000FFFF00000100007F', '00000000000000000000000001000000']);

test('the stack listens on 127.0.0.1 only', () => {
  const env = serviceEnv();
  const ports = [
    mysqlConnectionParams().port,
    ...env.kafkaBrokers.map((b) => Number(b.split(':')[1])),
    Number(new URL(env.dynamoEndpoint ?? 'http://127.0.0.1:18000').port),
    Number(env.temporalAddress.split(':')[1]),
    Number(new URL(env.temporalUi).port),
  ];
  const sockets = listening();
  for (const port of ports) {
    const on = sockets.filter((s) => s.port === port);
    expect({ port, listening: on.length > 0 }).toEqual({ port, listening: true });
    expect({ port, addrs: on.filter((s) => !LOOPBACK.has(s.addr)).map((s) => s.addr) }).toEqual({ port, addrs: [] });
  }
});

async function runCdcWorker(url: string, metaDb: string, ms: number): Promise<{ output: string; code: number | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/workers/cdc.ts', '--meta-db', metaDb, '--checkpoint-interval-ms', '200'], {
    cwd: ROOT, env: { ...process.env, CUTOVER_MYSQL_URL: url, CUTOVER_LOG_LEVEL: 'debug', LOG_LEVEL: 'debug' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  const timer = setTimeout(() => child.kill('SIGTERM'), ms);
  const code = await exited;
  clearTimeout(timer);
  return { output, code };
}

test('a MySQL password is never printed by the CDC worker, running or failing', async () => {
  const pool = createSourcePool({ connectionLimit: 1 });
  const user = `sec_${process.pid}`.slice(0, 32);
  const password = `Pw-${Math.random().toString(36).slice(2)}-unlogged`;
  const metaDb = uniqueName('sec_meta');
  const p = mysqlConnectionParams();
  try {
    await pool.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    await pool.query(`GRANT ALL PRIVILEGES ON *.* TO '${user}'@'%'`);
    await pool.query(`CREATE DATABASE \`${metaDb}\``);
    const running = await runCdcWorker(`mysql://${user}:${encodeURIComponent(password)}@${p.host}:${p.port}/cutover`, metaDb, 6_000);
    expect(running.output).toContain('cdc worker started');
    expect(running.output).not.toContain(password);

    // unreachable endpoint: a clear error naming the problem, and still no password
    const failing = await runCdcWorker(`mysql://${user}:${encodeURIComponent(password)}@127.0.0.1:1/cutover`, metaDb, 20_000);
    expect(failing.code).not.toBe(0);
    expect(failing.output).toMatch(/ECONNREFUSED|connection refused/); // the start-up wait names it in words
    expect(failing.output).not.toContain(password);

    // wrong password: access denied, named, and the attempted password not echoed
    const denied = await runCdcWorker(`mysql://${user}:${encodeURIComponent(`${password}x`)}@${p.host}:${p.port}/cutover`, metaDb, 20_000);
    expect(denied.code).not.toBe(0);
    expect(denied.output).toMatch(/access denied/i);
    expect(denied.output).not.toContain(password);
  } finally {
    await pool.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await pool.query(`DROP DATABASE IF EXISTS \`${metaDb}\``);
    await pool.end();
  }
});

test('identifiers with a backtick, a quote and a dash are quoted: preflight and verification work on them', async () => {
  const db = `${uniqueName('sec-db')}`.slice(0, 40);
  const table = "odd`na'me";
  const q = (s: string) => `\`${s.replace(/`/g, '``')}\``;
  const pool = createSourcePool({ connectionLimit: 4 });
  const client = createDynamoClient();
  const target = uniqueName('sec_target');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-ident-'));
  try {
    await pool.query(`CREATE DATABASE ${q(db)}`);
    await pool.query(`CREATE TABLE ${q(db)}.${q(table)} (id BIGINT PRIMARY KEY, ${q("a`b'c")} VARCHAR(10))`);
    await pool.query(`INSERT INTO ${q(db)}.${q(table)} VALUES (1, 'x'), (2, NULL), (3, 'z')`);
    const config = { source: `${db}.${table}`, target, partitionKey: { attribute: 'pk', template: 'K#{id}' }, nulls: 'omit' as const };
    const mappingFile = path.join(dir, 'mapping.yaml');
    fs.writeFileSync(mappingFile, YAML.stringify({ version: 1, tables: [config] }));
    const preflight = createCdcParts({ pool, dynamo: client, etlControl: new ControlStore(client) } as unknown as PartClients).preflight!;
    const r = await preflight({ ctx: { migrationId: `migrate:${db}.${table}`, source: { database: db, table }, phase: 'preflight' }, mappingFile, cdc: { source: 'builtin', topic: 'unused', partitions: 1 } });
    expect(r.primaryKey).toEqual(['id']);

    const mapping = compileMapping(config, await readColumns(pool, db, table));
    await ensureTargetTable(client, [mapping], { create: true });
    const v = await runVerify({ pool, client, mapping, appliedThrough: async () => '999999999999' }, { schema: db, table, mode: 'full', strategy: 'lookup', mismatchFile: path.join(dir, 'm.jsonl'), recheckTimeoutMs: 500, settleMs: 50 });
    expect(v.counts).toMatchObject({ rowsCompared: 3, missing: 3 }); // an empty target: every row named missing, none skipped
  } finally {
    await client.send(new DeleteTableCommand({ TableName: target })).catch(() => undefined);
    client.destroy();
    await pool.query(`DROP DATABASE IF EXISTS ${q(db)}`);
    await pool.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
