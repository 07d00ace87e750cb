/**
 * DynamoDB permission preflight on the real stack. dynalite does not enforce IAM, so the shared proxy bed
 * (test/integration/apply/proxy-bed.ts) puts a fault-injecting HTTP proxy in front of the real dynalite that answers
 * the actions the test denies (by X-Amz-Target) with AWS's own AccessDeniedException (HTTP 400,
 * `com.amazon.coral.service#AccessDeniedException`) and forwards everything else. The bed's table (hash key `pk`, S)
 * serves as the ETL control table; the target is a second real table with a composite key.
 * Asserts: all permissions present → passes, every permission listed, no item of either table changed; PutItem and
 * DescribeTable denied → one DynamoPermissionError naming both; and through the real workflow on a real worker the
 * migration stops at preflight with that message, before ensureTarget or CDC is ever scheduled.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { CreateTableCommand, DeleteTableCommand, PutItemCommand, waitUntilTableExists, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Worker } from '@temporalio/worker';
import { createMigrationActivities } from '../../../src/activities/migration';
import { createCdcParts } from '../../../src/activities/parts/cdc';
import type { PartClients } from '../../../src/activities/parts/common';
import { createTargetParts } from '../../../src/activities/parts/target';
import { loadMigrationConfig } from '../../../src/cli/config';
import { createLogger } from '../../../src/infra/logger';
import { createTemporalClient, createWorkerConnection } from '../../../src/infra/temporal';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { ControlStore } from '../../../src/pipeline/consumer/control';
import { DynamoPermissionError, migrationPermissionTargets, probeDynamoPermissions, assertDynamoPermissions } from '../../../src/pipeline/target/permissions';
import { PreflightError } from '../../../src/shared/errors';
import { statusQuery } from '../../../src/shared/messages';
import { migrationWorkflowId } from '../../../src/shared/task-queues';
import { workflowBundle } from '../../../src/workers/bundle';
import { tableMigrationWorkflow } from '../../../src/workflows';
import { scanAll } from '../consumer/support';
import { startProxyBed, type ProxyBed } from '../apply/proxy-bed';
import { uniqueName } from '../../support/ids';

jest.setTimeout(60_000);

const controlTable = uniqueName('perm_ctl');
const target = uniqueName('perm_target');
/** Denied actions: `Action` on every table, or `Action:table`. */
const denied = new Set<string>();
const seen: string[] = [];
let bed: ProxyBed;
let direct: DynamoDBClient;
let proxied: DynamoDBClient;

/** AWS's answer to an unauthorised DynamoDB call (status, headers and body as the service sends them). */
function accessDenied(res: http.ServerResponse, action: string, table: string): void {
  const body = JSON.stringify({
    __type: 'com.amazon.coral.service#AccessDeniedException',
    message: `User: arn:aws:iam::123456789012:user/cutover-test is not authorized to perform: dynamodb:${action} on resource: arn:aws:dynamodb:us-east-1:123456789012:table/${table} because no identity-based policy allows the dynamodb:${action} action`,
  });
  res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'TESTDENIED', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

beforeAll(async () => {
  bed = await startProxyBed(controlTable, (upstream) => (req, res) => {
    const action = String(req.headers['x-amz-target'] ?? '').replace(/^DynamoDB_\d+\./, '');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push(action);
      const table = (JSON.parse(body.toString('utf8') || '{}') as { TableName?: string }).TableName ?? '*';
      if (denied.has(action) || denied.has(`${action}:${table}`)) {
        accessDenied(res, action, table);
        return;
      }
      const up = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 500, r.headers);
        r.pipe(res);
      });
      up.end(body);
    });
  });
  ({ direct, proxied } = bed);
  await direct.send(new CreateTableCommand({
    TableName: target,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
  }));
  await waitUntilTableExists({ client: direct, maxWaitTime: 60 }, { TableName: target });
  for (let i = 0; i < 3; i++) {
    await direct.send(new PutItemCommand({ TableName: target, Item: { pk: { S: `P#${i}` }, sk: { N: String(i) }, v: { S: `v${i}` }, _v: { N: '7' } } }));
    await direct.send(new PutItemCommand({ TableName: controlTable, Item: { pk: { S: `group|g${i}` }, mode: { S: 'exclusive' }, modeVersion: { N: '1' } } }));
  }
});

afterAll(async () => {
  await direct.send(new DeleteTableCommand({ TableName: target })).catch(() => undefined);
  await bed.close();
});

beforeEach(() => {
  denied.clear();
  seen.length = 0;
});

const targets = () =>
  migrationPermissionTargets({ table: target, partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' }, billingMode: 'PAY_PER_REQUEST', gsis: [] }, controlTable);

it('passes when every permission is present, lists each, and changes no item of either table', async () => {
  const before = [await scanAll(direct, target), await scanAll(direct, controlTable)];
  const checks = await assertDynamoPermissions(proxied, targets());
  expect(checks.every((c) => c.granted)).toBe(true);
  const names = checks.map((c) => `${c.action} ${c.table}`);
  for (const a of ['DescribeTable', 'Scan', 'BatchGetItem', 'PutItem', 'DeleteItem', 'BatchWriteItem']) expect(names).toContain(`${a} ${target}`);
  for (const a of ['DescribeTable', 'GetItem', 'BatchGetItem', 'Scan', 'PutItem', 'UpdateItem', 'DeleteItem']) expect(names).toContain(`${a} ${controlTable}`);
  expect(names).not.toContain(`CreateTable ${target}`); // an existing table is never created
  expect(names).not.toContain(`CreateTable ${controlTable}`);
  expect(checks.filter((c) => c.probed).every((c) => c.detail === 'answered' || /ConditionalCheckFailed/.test(c.detail))).toBe(true);
  expect(checks.find((c) => c.action === 'PutItem')?.detail).toMatch(/ConditionalCheckFailedException/);
  expect(seen).toEqual(expect.arrayContaining(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem'])); // really sent through the proxy
  expect(seen).not.toContain('CreateTable');
  expect([await scanAll(direct, target), await scanAll(direct, controlTable)]).toEqual(before);
});

it('names PutItem and DescribeTable together when both are denied', async () => {
  denied.add('PutItem').add('DescribeTable');
  const before = await scanAll(direct, target);
  const err = await assertDynamoPermissions(proxied, targets()).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DynamoPermissionError);
  expect(err).toBeInstanceOf(PreflightError);
  const e = err as DynamoPermissionError;
  expect(e.name).toBe('DynamoPermissionError');
  expect(e.check).toBe('dynamodb permissions');
  expect(e.missing.map((m) => `${m.action} ${m.table}`).sort()).toEqual([`DescribeTable ${controlTable}`, `DescribeTable ${target}`, `PutItem ${controlTable}`, `PutItem ${target}`].sort());
  expect(e.message).toContain(`dynamodb:PutItem on table ${target}`);
  expect(e.message).toContain(`dynamodb:DescribeTable on table ${target}`);
  expect(e.message).toContain(`dynamodb:PutItem on table ${controlTable}`);
  expect(e.message).toMatch(/AccessDeniedException from PutItem/);
  expect(await scanAll(direct, target)).toEqual(before);
});

it('a target that does not exist yet: data permissions proven (ResourceNotFound), CreateTable and DeleteTable reported as not probed', async () => {
  const missing = uniqueName('perm_absent');
  const [t] = migrationPermissionTargets({ table: missing, partitionKey: { name: 'id', type: 'N' }, billingMode: 'PAY_PER_REQUEST', gsis: [] }, controlTable);
  const checks = await probeDynamoPermissions(proxied, [t]);
  expect(checks.filter((c) => c.probed).every((c) => c.granted && /ResourceNotFoundException/.test(c.detail))).toBe(true);
  expect(checks.filter((c) => !c.probed).map((c) => c.action)).toEqual(['CreateTable', 'DeleteTable']);
  denied.add('BatchWriteItem');
  expect((await probeDynamoPermissions(proxied, [t])).filter((c) => !c.granted).map((c) => c.action)).toEqual(['BatchWriteItem']);
});

it('the real workflow stops at preflight with the message, before anything is created or started', async () => {
  denied.add('PutItem').add('DescribeTable');
  const db = uniqueName('permwf').toLowerCase();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-perm-'));
  const pool = createSourcePool({ connectionLimit: 2 });
  await pool.query(`CREATE DATABASE \`${db}\``);
  await pool.query(`CREATE TABLE \`${db}\`.people (id INT PRIMARY KEY, name VARCHAR(64))`);
  fs.writeFileSync(path.join(dir, 'map.yaml'), `version: 1\ntables:\n  - source: ${db}.people\n    target: ${target}\n    partitionKey: { attribute: pk, template: "P#{id}" }\n    sortKey: { attribute: sk, type: N, template: "{id}" }\n    nulls: omit\n`);
  fs.writeFileSync(path.join(dir, 'm.yaml'), `tables:\n  - source: ${db}.people\n    mapping: map.yaml\n`);
  const config = loadMigrationConfig(path.join(dir, 'm.yaml')).tables[0];
  const clients = { pool, dynamo: proxied, etlControl: new ControlStore(proxied, controlTable) } as unknown as PartClients;
  const parts = { ...createCdcParts(clients), ...createTargetParts(clients) };
  const activities = createMigrationActivities({ parts: { preflight: parts.preflight, ensureTarget: parts.ensureTarget }, logger: createLogger('perm', new Writable({ write: (_c, _e, cb) => cb() })) });
  const taskQueue = uniqueName('perm-q');
  const connection = await createWorkerConnection();
  const worker = await Worker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities });
  const client = await createTemporalClient();
  const workflowId = `${migrationWorkflowId(db, 'people')}:${uniqueName('p')}`;
  try {
    const { history, status } = await worker.runUntil(async () => {
      const handle = await client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId, args: [{ config }] });
      for (let i = 0; i < 200; i++) {
        const s = await handle.query(statusQuery);
        if (s.awaiting?.problem) return { history: await handle.fetchHistory(), status: s };
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error('the workflow never stopped for an operator');
    });
    const failures = (history.events ?? []).flatMap((e) => [e.activityTaskFailedEventAttributes?.failure]).filter(Boolean);
    expect(failures.map((f) => f?.applicationFailureInfo?.type)).toEqual(['DynamoPermissionError']); // once: not retried
    expect(failures[0]?.applicationFailureInfo?.nonRetryable).toBe(true);
    expect(failures[0]?.message).toContain(`dynamodb:PutItem on table ${target}`);
    expect(failures[0]?.message).toContain(`dynamodb:DescribeTable on table ${target}`);
    const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    expect(scheduled).toEqual(['preflight']); // no ensureTarget, no startCdc
    expect(status.phase).toBe('preflight');
    expect(status.awaiting?.reason).toContain(`dynamodb:PutItem on table ${target}`);
  } finally {
    await client.workflow.getHandle(workflowId).terminate('permission test done').catch(() => undefined);
    await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await pool.end();
    await connection.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('ensureTarget names a denied CreateTable of a missing target (the one permission preflight cannot prove), creating nothing', async () => {
  const db = uniqueName('permcr').toLowerCase();
  const absent = uniqueName('perm_new');
  denied.add(`CreateTable:${absent}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-perm-'));
  const pool = createSourcePool({ connectionLimit: 2 });
  try {
    await pool.query(`CREATE DATABASE \`${db}\``);
    await pool.query(`CREATE TABLE \`${db}\`.people (id INT PRIMARY KEY)`);
    const mappingFile = path.join(dir, 'map.yaml');
    fs.writeFileSync(mappingFile, `version: 1\ntables:\n  - source: ${db}.people\n    target: ${absent}\n    partitionKey: { attribute: pk, template: "P#{id}" }\n    nulls: omit\n`);
    const clients = { pool, dynamo: proxied, etlControl: new ControlStore(proxied, controlTable) } as unknown as PartClients;
    const ctx = { migrationId: `migrate:${db}.people`, source: { database: db, table: 'people' }, phase: 'preflight' as const };
    const checks = (await createCdcParts(clients).preflight!({ ctx, mappingFile, cdc: { source: 'builtin', topic: 'unused', partitions: 1 } })).checks;
    expect(checks.find((c) => c.name === `dynamodb:CreateTable on table ${absent}`)?.detail).toMatch(/^not probed: the table does not exist/);
    expect(checks.find((c) => c.name === `dynamodb:CreateTable on table ${controlTable}`)).toBeUndefined(); // exists: described, never created
    const err = await createTargetParts(clients).ensureTarget!({ ctx, mappingFile, create: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DynamoPermissionError);
    expect((err as Error).message).toContain(`dynamodb:CreateTable on table ${absent}`);
    expect(await probeDynamoPermissions(direct, migrationPermissionTargets({ table: absent, partitionKey: { name: 'pk', type: 'S' }, billingMode: 'PAY_PER_REQUEST', gsis: [] }, controlTable).slice(0, 1)))
      .toEqual(expect.arrayContaining([expect.objectContaining({ action: 'DescribeTable', detail: expect.stringMatching(/ResourceNotFoundException/) })])); // still absent
  } finally {
    await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await pool.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
