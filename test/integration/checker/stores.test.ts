/**
 * The checker on real stores: operation logs written by hand, final states in real MariaDB and dynalite. A
 * composite key (order_id, line_no) maps to a single-table item (pk "ORDER#<order_id>", sk "ITEM#<line_no>").
 */
import { CreateTableCommand, DeleteTableCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCheck, type CheckedTable } from '../../../src/checker/check';
import type { OpRecord } from '../../../src/checker/log-format';
import { writeCheckReport } from '../../../src/checker/report';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createMysqlPool } from '../../../src/infra/mysql';
import { uniqueName } from '../../support/ids';

const db = uniqueName('chk');
const TableName = uniqueName('chk');
const admin = createMysqlPool({ database: '' });
const dynamo = createDynamoClient();
let pool: ReturnType<typeof createMysqlPool>;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-checker-'));

const tables: CheckedTable[] = [{
  table: 'order_items',
  tokenColumn: 'rev',
  mysql: { table: 'order_items', keyColumns: ['order_id', 'line_no'] },
  dynamo: {
    tableName: TableName,
    key: [{ attribute: 'pk', type: 'S', template: 'ORDER#{order_id}' }, { attribute: 'sk', type: 'S', template: 'ITEM#{line_no}' }],
    tokenAttribute: 'rev',
    attributes: { order_id: 'order_id', sku: 'sku', price: 'price' },
  },
}];

beforeAll(async () => {
  await admin.query(`CREATE DATABASE \`${db}\``);
  pool = createMysqlPool({ database: db });
  await pool.query('CREATE TABLE order_items (order_id BIGINT, line_no INT, sku VARCHAR(32), price DECIMAL(12,2), rev VARCHAR(64), PRIMARY KEY (order_id, line_no))');
  await dynamo.send(new CreateTableCommand({
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
  }));
});

afterAll(async () => {
  await dynamo.send(new DeleteTableCommand({ TableName })).catch(() => undefined);
  dynamo.destroy();
  await pool?.end();
  await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await admin.end();
  fs.rmSync(dir, { recursive: true, force: true });
});

let op = 0;
function logWrite(lines: OpRecord[], kind: 'insert' | 'update' | 'delete', key: { order_id: string; line_no: number }, start: number, end: number, rev?: string): void {
  const id = ++op;
  const value = rev ? { ...key, sku: `sku-${rev}`, price: '10.50', rev } : undefined;
  const base = { v: 1 as const, instance: 'app-1', op: id, kind, table: 'order_items', key, start };
  lines.push({ ...base, phase: 'invoke', value }, { ...base, phase: 'complete', end, result: 'ok', applied: true, value });
}

async function putItem(order: string, line: number, item: Record<string, AttributeValue>): Promise<void> {
  await dynamo.send(new PutItemCommand({ TableName, Item: { pk: { S: `ORDER#${order}` }, sk: { S: `ITEM#${line}` }, ...item } }));
}

it('passes consistent stores and reports lost writes, resurrected deletes and disagreement with evidence', async () => {
  const lines: OpRecord[] = [];
  const k1 = { order_id: '9007199254740993', line_no: 1 };
  const k2 = { order_id: '9007199254740993', line_no: 2 };
  logWrite(lines, 'insert', k1, 1000, 1001, 'r1');
  logWrite(lines, 'update', k1, 1002, 1003, 'r2');
  logWrite(lines, 'insert', k2, 1000, 1001, 'r3');
  logWrite(lines, 'delete', k2, 1004, 1005);
  const log = path.join(dir, 'app-1.jsonl');
  fs.writeFileSync(log, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');

  // Consistent: k1 holds r2 in both stores; k2 is gone from MySQL and a tombstone in DynamoDB.
  await pool.query("INSERT INTO order_items VALUES ('9007199254740993', 1, 'sku-r2', '10.50', 'r2')");
  await putItem(k1.order_id, 1, { rev: { S: 'r2' }, _v: { N: '5' }, order_id: { N: k1.order_id }, sku: { S: 'sku-r2' }, price: { N: '10.5' } });
  await putItem(k2.order_id, 2, { rev: { S: 'r3' }, _v: { N: '6' }, _del: { BOOL: true } });
  const good = await runCheck([log], { tables, mysql: pool, dynamo, initial: 'absent' });
  expect(good.keys).toEqual([]);
  expect(good.passed).toBe(true);
  expect(good.keysChecked).toBe(2);
  expect(good.totals.acknowledgedWrites).toBe(4);

  // The right token over a wrong attribute is caught (the update's other columns were lost).
  await putItem(k1.order_id, 1, { rev: { S: 'r2' }, _v: { N: '5' }, order_id: { N: k1.order_id }, sku: { S: 'sku-r1' }, price: { N: '10.50' } });
  const mixed = await runCheck([log], { tables, mysql: pool, dynamo, initial: 'absent' });
  expect(mixed.keys.flatMap((k) => k.violations.map((v) => [v.store, v.kind, v.differingColumns]))).toEqual([['dynamodb', 'unknown-value', ['sku']]]);

  // DynamoDB drops the update of k1 (holds r1) and resurrects k2 (live r3); MySQL lost a column of k1.
  await putItem(k1.order_id, 1, { rev: { S: 'r1' }, _v: { N: '5' }, order_id: { N: k1.order_id }, sku: { S: 'sku-r1' }, price: { N: '10.5' } });
  await putItem(k2.order_id, 2, { rev: { S: 'r3' }, _v: { N: '6' }, order_id: { N: k2.order_id }, sku: { S: 'sku-r3' }, price: { N: '10.5' } });
  await pool.query("UPDATE order_items SET sku = 'tampered' WHERE line_no = 1");
  const bad = await runCheck([log], { tables, mysql: pool, dynamo, initial: 'absent' });
  expect(bad.passed).toBe(false);
  const byKey = Object.fromEntries(bad.keys.map((k) => [k.key.line_no, k.violations.map((v) => `${v.store ?? '-'}:${v.kind}`).sort()]));
  expect(byKey).toEqual({
    1: ['-:stores-disagree', 'dynamodb:lost-write', 'mysql:unknown-value'],
    2: ['-:stores-disagree', 'dynamodb:resurrected-delete'],
  });
  expect(bad.lostWrites).toBe(2);
  const files = writeCheckReport(bad, dir);
  expect(fs.readFileSync(files.markdown, 'utf8')).toMatch(/Consistency check: FAILED[\s\S]*resurrected-delete/);
  expect(JSON.parse(fs.readFileSync(files.json, 'utf8')).lostWrites).toBe(2);
});

it('fails fast on a malformed log line, naming the file and line', async () => {
  const log = path.join(dir, 'bad.jsonl');
  fs.writeFileSync(log, '{"v":1,"instance":"a","op":1,"phase":"complete","kind":"read","table":"order_items","key":{},"start":1}\n');
  await expect(runCheck([log], { tables, mysql: pool })).rejects.toThrow(/bad\.jsonl:1: not an operation record: end/);
});
