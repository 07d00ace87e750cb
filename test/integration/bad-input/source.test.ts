/**
 * Bad source settings, on a real private MariaDB (test/support/private-stack.ts; the shared server is never
 * reconfigured): binlog_format not ROW, binlog_row_image not FULL, and the binary log switched off (the server
 * restarted with --skip-log-bin). Each fails the preflight activity with a PreflightError naming the setting, before
 * any CDC task, topic or table exists. (Missing privileges: test/integration/cdc/preflight.test.ts.)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as mysql from 'mysql2/promise';
import YAML from 'yaml';
import { createCdcParts } from '../../../src/activities/parts/cdc';
import type { PartClients } from '../../../src/activities/parts/common';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { ControlStore } from '../../../src/pipeline/consumer/control';
import { PreflightError } from '../../../src/shared/errors';
import { startPrivateStack, type PrivateStack } from '../../support/private-stack';

jest.setTimeout(120_000);

let stack: PrivateStack;
let mappingFile: string;

beforeAll(async () => {
  stack = await startPrivateStack('bad-source-');
  stack.applyEnv();
  const pool = createSourcePool({ connectionLimit: 1 });
  await pool.query('CREATE DATABASE shop');
  await pool.query('CREATE TABLE shop.users (id BIGINT PRIMARY KEY, email VARCHAR(64))');
  await pool.end();
  mappingFile = path.join(stack.dir, 'mapping.yaml');
  fs.writeFileSync(mappingFile, YAML.stringify({ version: 1, tables: [{ source: 'shop.users', target: 'users', partitionKey: { attribute: 'pk', template: 'U#{id}' }, nulls: 'omit' }] }));
}, 120_000);

afterAll(async () => {
  await stack?.down();
});

async function preflightWith(pool: mysql.Pool): Promise<Error | undefined> {
  // A passing preflight goes on to probe the DynamoDB permissions (on the private stack's dynalite; nothing changes).
  const dynamo = createDynamoClient();
  const preflight = createCdcParts({ pool, dynamo, etlControl: new ControlStore(dynamo) } as unknown as PartClients).preflight!;
  return preflight({ ctx: { migrationId: 'migrate:shop.users', source: { database: 'shop', table: 'users' }, phase: 'preflight' }, mappingFile, cdc: { source: 'builtin', topic: 'unused', partitions: 1 } })
    .then(() => undefined, (e: unknown) => e as Error)
    .finally(() => dynamo.destroy());
}

test('binlog_format STATEMENT / MIXED and binlog_row_image MINIMAL are refused by name', async () => {
  const admin = createSourcePool({ connectionLimit: 1 });
  try {
    expect(await preflightWith(admin)).toBeUndefined(); // the private server as configured passes
    for (const [setting, value, msg] of [
      ['binlog_format', 'STATEMENT', /binlog_format is STATEMENT, must be ROW/],
      ['binlog_format', 'MIXED', /binlog_format is MIXED, must be ROW/],
      ['binlog_row_image', 'MINIMAL', /binlog_row_image is MINIMAL/],
    ] as const) {
      await admin.query(`SET GLOBAL ${setting} = '${value}'`);
      const pool = createSourcePool({ connectionLimit: 1 }); // GLOBAL applies to new sessions
      try {
        const err = await preflightWith(pool);
        expect(err).toBeInstanceOf(PreflightError);
        expect((err as PreflightError).check).toBe(setting);
        expect(err!.message).toMatch(msg);
      } finally {
        await pool.end();
        await admin.query(`SET GLOBAL ${setting} = '${setting === 'binlog_format' ? 'ROW' : 'FULL'}'`);
      }
    }
  } finally {
    await admin.end();
  }
});

test('the binary log switched off (server restarted with --skip-log-bin) is refused by name', async () => {
  await stack.stop('mariadb');
  const mariadbd = fs.existsSync('/usr/sbin/mariadbd') ? '/usr/sbin/mariadbd' : 'mariadbd';
  const child = spawn(mariadbd, [`--defaults-file=${path.join(stack.dir, 'mariadb.cnf')}`, '--skip-log-bin'], { stdio: 'ignore' });
  try {
    let pool: mysql.Pool | undefined;
    const deadline = Date.now() + 60_000;
    for (;;) {
      pool = createSourcePool({ connectionLimit: 1 });
      if (await pool.query('SELECT 1').then(() => true, () => false)) break;
      await pool.end().catch(() => undefined);
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('private mariadbd --skip-log-bin did not start');
      await new Promise((r) => setTimeout(r, 300));
    }
    try {
      const [v] = await pool.query('SELECT @@log_bin AS b');
      expect(Number((v as { b: number }[])[0].b)).toBe(0);
      const err = await preflightWith(pool);
      expect(err).toBeInstanceOf(PreflightError);
      expect((err as PreflightError).check).toBe('log_bin');
      expect(err!.message).toMatch(/log_bin/);
    } finally {
      await pool.end();
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  }
});
