/**
 * Bad configuration fails before anything starts, with an error naming the file, table and field: proven through the
 * public entry points — the workflow's preflight activity (src/activities/parts/cdc.ts, which checks the source
 * and compiles the mapping against the real table's columns) and the CLI's migration-config loader.
 * Each case asserts that nothing was created (no topic, no target table, no CDC task).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as mysql from 'mysql2/promise';
import YAML from 'yaml';
import { createCdcParts } from '../../../src/activities/parts/cdc';
import type { PartClients } from '../../../src/activities/parts/common';
import { loadMigrationConfig, parseMigrationConfig } from '../../../src/cli/config';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { ControlStore } from '../../../src/pipeline/consumer/control';
import { ConfigError, PreflightError } from '../../../src/shared/errors';
import { MappingConfigError } from '../../../src/pipeline/transform/errors';
import { uniqueName } from '../../support/ids';

const db = uniqueName('bad_cfg');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bad-config-'));
let pool: mysql.Pool;
const dynamo = createDynamoClient();
let preflight: NonNullable<ReturnType<typeof createCdcParts>['preflight']>;

beforeAll(async () => {
  pool = createSourcePool({ connectionLimit: 2 });
  await pool.query(`CREATE DATABASE \`${db}\``);
  await pool.query(`CREATE TABLE \`${db}\`.users (id BIGINT PRIMARY KEY, email VARCHAR(64) NOT NULL, note VARCHAR(20) NULL)`);
  await pool.query(`CREATE TABLE \`${db}\`.accounts (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL)`);
  await pool.query(`CREATE TABLE \`${db}\`.lines (order_id BIGINT, line INT, sku VARCHAR(10), PRIMARY KEY (order_id, line))`);
  await pool.query(`CREATE TABLE \`${db}\`.nopk (id BIGINT, v INT)`);
  await pool.query(`CREATE TABLE \`${db}\`.geo (id BIGINT PRIMARY KEY, g POINT)`);
  // preflight reads the source pool; once its checks pass it probes the DynamoDB permissions (no item or table changes)
  preflight = createCdcParts({ pool, dynamo, etlControl: new ControlStore(dynamo) } as unknown as PartClients).preflight!;
});

afterAll(async () => {
  dynamo.destroy();
  await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await pool.end();
  fs.rmSync(dir, { recursive: true, force: true });
});

const base = (table: string, over: Record<string, unknown> = {}) => ({
  source: `${db}.${table}`,
  target: `${db}_target`,
  partitionKey: { attribute: 'pk', template: `${table.toUpperCase()}#{id}` },
  nulls: 'omit',
  ...over,
});

function mappingFile(name: string, tables: unknown[]): string {
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, YAML.stringify({ version: 1, tables }));
  return file;
}

async function preflightError(table: string, tables: unknown[], name: string): Promise<Error> {
  const file = mappingFile(name, tables);
  const err = await preflight({ ctx: { migrationId: `migrate:${db}.${table}`, source: { database: db, table }, phase: 'preflight' }, mappingFile: file, cdc: { source: 'builtin', topic: 'unused', partitions: 1 } }).then(
    () => new Error('preflight passed'),
    (e: unknown) => e as Error,
  );
  return err;
}

test('a correct mapping passes preflight (the baseline the cases below break)', async () => {
  const file = mappingFile('good', [base('users')]);
  const r = await preflight({ ctx: { migrationId: `migrate:${db}.users`, source: { database: db, table: 'users' }, phase: 'preflight' }, mappingFile: file, cdc: { source: 'builtin', topic: 'unused', partitions: 1 } });
  expect(r.checks.every((c) => c.ok)).toBe(true);
  expect(r.primaryKey).toEqual(['id']);
});

test('unknown table: named by the source check', async () => {
  const err = await preflightError('missing', [base('missing')], 'unknown-table');
  expect(err).toBeInstanceOf(PreflightError);
  expect(err.message).toContain(`${db}.missing`);
});

test('unknown column: named with the file, the table and the field', async () => {
  for (const [name, over, field] of [
    ['unknown-rename', { rename: { nickname: 'nick' } }, 'nickname'],
    ['unknown-column-spec', { columns: { balance: { type: 'number' } } }, 'balance'],
    ['unknown-exclude', { exclude: ['password_hash'] }, 'password_hash'],
  ] as const) {
    const err = await preflightError('users', [base('users', over)], name);
    expect(err).toBeInstanceOf(MappingConfigError);
    expect(err.message).toContain(`${name}.yaml`);
    expect(err.message).toContain(`${db}.users`);
    expect(err.message).toContain(field);
  }
});

test('table without a primary key', async () => {
  const err = await preflightError('nopk', [base('nopk')], 'nopk');
  expect(err).toBeInstanceOf(PreflightError);
  expect(err.message).toMatch(/no primary key/);
  expect(err.message).toContain(`${db}.nopk`);
});

test('unsupported column type for the chosen mapping, and a source type cutover cannot carry', async () => {
  const err = await preflightError('users', [base('users', { columns: { id: { type: 'datetime' } } })], 'bad-type');
  expect(err).toBeInstanceOf(MappingConfigError);
  expect(err.message).toMatch(/columns\.id\.type: conversion datetime does not apply to column "id" of type bigint/);
  expect(err.message).toContain(`${path.join(dir, 'bad-type.yaml')}: ${db}.users: columns.id.type`);

  const geo = await preflightError('geo', [base('geo')], 'geo');
  expect(geo).toBeInstanceOf(PreflightError);
  expect(geo.message).toContain(`${db}.geo`);
});

test('duplicate target keys: a key template missing a primary-key column, and two tables mapped onto the same keys', async () => {
  const partial = await preflightError('lines', [base('lines', { partitionKey: { attribute: 'pk', template: 'ORDER#{order_id}' } })], 'partial-key');
  expect(partial).toBeInstanceOf(MappingConfigError);
  expect(partial.message).toMatch(/"line".*collide/);

  const shared = await preflightError('users', [base('users', { partitionKey: { attribute: 'pk', template: 'X#{id}' } }), base('accounts', { partitionKey: { attribute: 'pk', template: 'X#{id}' } })], 'shared-keys');
  expect(shared).toBeInstanceOf(MappingConfigError);
  expect(shared.message).toContain(`${db}.accounts`);
});

test('invalid templates', async () => {
  for (const [name, template, msg] of [
    ['unbalanced', 'USER#{id', /unbalanced|invalid placeholder/],
    ['adjacent', '{id}{email}', /separated by a literal/],
    ['not-in-key', 'USER#{email}', /not in the primary key/],
  ] as const) {
    const err = await preflightError('users', [base('users', { partitionKey: { attribute: 'pk', template } })], name);
    expect(err).toBeInstanceOf(MappingConfigError);
    expect(err.message).toMatch(msg);
    expect(err.message).toContain(`${path.join(dir, `${name}.yaml`)}: ${db}.users: partitionKey.template`);
  }
});

test('the migration config file: errors name the file, the table and the field', () => {
  const file = path.join(dir, 'plan.yaml');
  const cases: [string, RegExp][] = [
    [`tables: [{ source: ${db}.users, mapping: m.yaml, readLadder: [10, 50] }]`, /readLadder: must rise strictly and end at 100/],
    [`tables: [{ source: ${db}.users, mapping: m.yaml, cdc: { partitons: 3 } }]`, /cdc/],
    [`tables: [{ source: users, mapping: m.yaml }]`, /source: database\.table/],
    [`tables: [{ source: ${db}.users, mapping: m.yaml, cdc: { source: dms } }]`, /cdc\.dms.*missing/],
    [`tables: [{ source: ${db}.users, mapping: m.yaml }, { source: ${db}.users, mapping: n.yaml }]`, /listed twice/],
    ['tables: [ { source: x.y, mapping', /not valid YAML/],
  ];
  for (const [text, msg] of cases) {
    const err = (() => {
      try {
        parseMigrationConfig(text, file);
        return new Error('accepted');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(msg);
  }
  expect(() => loadMigrationConfig(path.join(dir, 'absent.yaml'))).toThrow(/absent\.yaml: cannot read/);
});
