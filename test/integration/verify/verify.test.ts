/**
 * Verification on real MariaDB + dynalite, through the ETL's compiled mapping: an item that differs in one
 * attribute, a missing item, a tombstoned live row and an extra item are each found (and nothing else: tombstones of
 * deleted rows, other tables' items and representation-only differences are not mismatches); sampled and resumed
 * runs agree with the full run; the scan and lookup strategies find the same mismatches; the JSON report, the readable table and the JSONL list are complete.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchWriteItemCommand, DeleteItemCommand, DeleteTableCommand, PutItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type * as mysql from 'mysql2/promise';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import { readColumns } from '../../../src/pipeline/row/codec';
import { ensureTargetTable } from '../../../src/pipeline/target/table';
import { compileMapping, type CompiledMapping } from '../../../src/pipeline/transform/mapping';
import { loadVersion } from '../../../src/pipeline/version';
import { readMismatches, renderReport } from '../../../src/pipeline/verify/report';
import { runVerify } from '../../../src/pipeline/verify/verifier';
import type { Item } from '../../../src/pipeline/item';
import { uniqueName } from '../../support/ids';

const db = uniqueName('vf_src');
const target = uniqueName('vf_target');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-'));
let pool: mysql.Pool;
let client: DynamoDBClient;
let mapping: CompiledMapping;
const everythingApplied = async (): Promise<string> => '999999999999';

beforeAll(async () => {
  pool = createSourcePool({ connectionLimit: 8 });
  client = createDynamoClient();
  await pool.query(`CREATE DATABASE \`${db}\``);
  await pool.query(`CREATE TABLE \`${db}\`.orders (tenant VARCHAR(8) NOT NULL, id BIGINT NOT NULL, amount DECIMAL(10,2) NOT NULL, note VARCHAR(40) NULL, PRIMARY KEY (tenant, id))`);
  await pool.query(`INSERT INTO \`${db}\`.orders SELECT IF(seq % 3 = 0, 'eu', 'us'), seq, seq * 1.5, IF(seq % 7 = 0, NULL, CONCAT('n', seq)) FROM \`${db}\`.seq_1_to_600`);
  const columns = await readColumns(pool, db, 'orders');
  mapping = compileMapping({ source: `${db}.orders`, target, partitionKey: { attribute: 'pk', template: 'T#{tenant}' }, sortKey: { attribute: 'sk', template: 'O#{id}' }, rename: { note: 'memo' }, nulls: 'omit' }, columns);
  await ensureTargetTable(client, [mapping], { create: true });
  // The target as the apply would leave it after a backfill at snapshot 100.
  const [rows] = await pool.query(`SELECT * FROM \`${db}\`.orders`);
  const { rowFromMysql2 } = await import('../../../src/pipeline/row/codec');
  const items: Item[] = (rows as Record<string, unknown>[]).map((r) => ({ ...mapping.toItem(rowFromMysql2(columns, r)), _v: { N: loadVersion(100) }, _src: { S: mapping.sourceId } }));
  for (let i = 0; i < items.length; i += 25) {
    await client.send(new BatchWriteItemCommand({ RequestItems: { [target]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
  }
});

afterAll(async () => {
  await client.send(new DeleteTableCommand({ TableName: target })).catch(() => undefined);
  await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await pool.end();
  client.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

const deps = () => ({ pool, client, mapping, appliedThrough: everythingApplied });
const opts = (name: string) => ({ schema: db, table: 'orders', mismatchFile: path.join(dir, `${name}.jsonl`), chunkRows: 97, recheckTimeoutMs: 5_000, settleMs: 100 });

test('a clean copy verifies with 0 mismatches', async () => {
  const p = await runVerify(deps(), { ...opts('clean'), mode: 'full' });
  expect(p.done).toBe(true);
  expect(p.counts).toMatchObject({ rowsCompared: 600, itemsScanned: 600, missing: 0, extra: 0, different: 0 });
  expect(renderReport(p.report)).toMatch(/: OK/);
});

test('flags one differing attribute, a missing item, a tombstoned live row and an extra item, and nothing else', async () => {
  const key = (tenant: string, id: number) => ({ pk: { S: `T#${tenant}` }, sk: { S: `O#${id}` } });
  // one attribute differs
  await client.send(new UpdateItemCommand({ TableName: target, Key: key('us', 10), UpdateExpression: 'SET memo = :m', ExpressionAttributeValues: { ':m': { S: 'tampered' } } }));
  // missing
  await client.send(new DeleteItemCommand({ TableName: target, Key: key('us', 11) }));
  // a live row whose item is a tombstone: missing too
  await client.send(new PutItemCommand({ TableName: target, Item: { ...key('us', 13), _v: { N: loadVersion(100) }, _del: { BOOL: true }, _src: { S: mapping.sourceId } } }));
  // extra: no such source row
  await client.send(new PutItemCommand({ TableName: target, Item: { ...mapping.toItem({ tenant: 'eu', id: '9999', amount: '1.00', note: 'ghost' }), _v: { N: loadVersion(100) }, _src: { S: mapping.sourceId } } }));
  // not mismatches: a tombstone of a deleted row, another table's item, a number written in another form
  await client.send(new PutItemCommand({ TableName: target, Item: { ...key('eu', 5000), _v: { N: loadVersion(100) }, _del: { BOOL: true }, _src: { S: mapping.sourceId } } }));
  await client.send(new PutItemCommand({ TableName: target, Item: { pk: { S: 'T#eu' }, sk: { S: 'O#7777' }, _src: { S: `${db}.other` }, x: { S: '1' } } }));
  await client.send(new UpdateItemCommand({ TableName: target, Key: key('us', 20), UpdateExpression: 'SET amount = :a', ExpressionAttributeValues: { ':a': { N: '030.000' } } }));


  const lookup = await runVerify(deps(), { ...opts('lookup'), mode: 'full', strategy: 'lookup' });
  const reportFile = path.join(dir, 'report.json');
  const p = await runVerify(deps(), { ...opts('full'), mode: 'full', strategy: 'scan', reportFile });
  expect(JSON.parse(fs.readFileSync(reportFile, 'utf8'))).toMatchObject({ done: true, mismatchesTotal: 4, counts: { missing: 2, extra: 1, different: 1 } });
  for (const r of [p, lookup]) expect(r.counts).toMatchObject({ rowsCompared: 600, missing: 2, extra: 1, different: 1 });
  expect(lookup.report.mismatches.map((m) => `${m.kind}:${JSON.stringify(m.sourceKey)}`).sort()).toEqual(p.report.mismatches.map((m) => `${m.kind}:${JSON.stringify(m.sourceKey)}`).sort());
  const byKind = Object.fromEntries(p.report.mismatches.map((m) => [`${m.kind}:${JSON.stringify(m.sourceKey)}`, m]));
  expect(Object.keys(byKind).sort()).toEqual(['different:["us","10"]', 'extra:["eu","9999"]', 'missing:["us","11"]', 'missing:["us","13"]']);
  expect(byKind['different:["us","10"]'].diff).toEqual([{ attribute: 'memo', expected: 'S"n10"', actual: 'S"tampered"' }]);
  expect(readMismatches(p.report.mismatchFile)).toHaveLength(4);
  const table = renderReport(p.report);
  expect(table).toMatch(/MISMATCHES/);
  expect(table).toMatch(/different +\["us","10"\] +memo/);
  expect(JSON.parse(JSON.stringify(p.report)).counts.different).toBe(1);

  // resumed in slices of one chunk: same result, and the last slice's report lists every mismatch of the run
  let cursor: string | null = null;
  let before;
  let slices = 0;
  let last: Awaited<ReturnType<typeof runVerify>> | undefined;
  for (;;) {
    const s: Awaited<ReturnType<typeof runVerify>> = await runVerify(deps(), { ...opts('sliced'), mode: cursor ? 'resume' : 'full', strategy: 'lookup', cursor, before, sliceMs: 1 });
    slices += 1;
    cursor = s.cursor;
    before = s.counts;
    last = s;
    if (s.done) break;
    expect(s.stoppedBy).toBe('slice-elapsed');
  }
  expect(slices).toBeGreaterThan(5);
  expect(before).toMatchObject({ rowsCompared: 600, missing: 2, extra: 1, different: 1 });
  expect(last!.report.mismatches.map((m) => `${m.kind}:${JSON.stringify(m.sourceKey)}`).sort()).toEqual(Object.keys(byKind).sort());

  // sampled: a deterministic subset, never a false mismatch
  const s = await runVerify(deps(), { ...opts('sampled'), mode: 'sampled', sampleFraction: 0.25 });
  expect(s.counts.rowsCompared).toBeGreaterThan(80);
  expect(s.counts.rowsCompared).toBeLessThan(250);
  for (const m of s.report.mismatches) expect(Object.keys(byKind)).toContain(`${m.kind}:${JSON.stringify(m.sourceKey)}`);
});

test('the scan strategy resumes: in slices, and from its last heartbeat after a kill, to the same report', async () => {
  const expected = ['different:["us","10"]', 'extra:["eu","9999"]', 'missing:["us","11"]', 'missing:["us","13"]'];
  const keysOf = (file: string): string[] => [...new Set(readMismatches(file).map((m) => `${m.kind}:${JSON.stringify(m.sourceKey)}`))].sort();
  type Run = Awaited<ReturnType<typeof runVerify>>;

  // Slices of ~one chunk: the digest stage, then the reconcile stage, each over several slices.
  // (Few runs on purpose: each run reads the columns from information_schema, which is slow on a shared server.)
  const sliced = { ...opts('scan-sliced'), strategy: 'scan' as const, scanSegments: 2, chunkRows: 150 };
  let s: Run = await runVerify(deps(), { ...sliced, mode: 'full', sliceMs: 1 });
  let slices = 1;
  const stages = new Set<string>();
  while (!s.done) {
    expect(s.stoppedBy).toBe('slice-elapsed');
    stages.add((JSON.parse(s.cursor) as { scan: { stage: string } }).scan.stage);
    s = await runVerify(deps(), { ...sliced, mode: 'resume', cursor: s.cursor, before: s.counts, sliceMs: 1 });
    slices += 1;
    if (slices > 40) throw new Error(`no end after ${slices} slices: ${s.cursor.slice(0, 300)}`);
  }
  expect(slices).toBeGreaterThan(5);
  expect([...stages].sort()).toEqual(['digest', 'reconcile']);
  expect(s.counts).toMatchObject({ rowsCompared: 600, itemsScanned: 599, missing: 2, extra: 1, different: 1 });
  expect(keysOf(sliced.mismatchFile)).toEqual(expected);
  expect(s.report.mismatches.map((m) => `${m.kind}:${JSON.stringify(m.sourceKey)}`).sort()).toEqual(expected); // from every slice

  // Killed: a run aborted at random after a few heartbeats; its return value is thrown away (a killed worker
  // returns nothing) and the next run resumes from the last heartbeat, as the activity does.
  const killed = { ...opts('scan-killed'), strategy: 'scan' as const, scanSegments: 2, heartbeatMs: 0, chunkRows: 100 };
  let heartbeat = null as Run | null;
  let kills = 0;
  for (;;) {
    const ac = new AbortController();
    let beats = 0;
    const killAfter = 1 + Math.floor(Math.random() * 4);
    const r: Run = await runVerify(
      { ...deps(), signal: ac.signal, onProgress: (p) => {
        heartbeat = p;
        if ((beats += 1) >= killAfter && kills < 3) ac.abort();
      } },
      { ...killed, mode: heartbeat ? 'resume' : 'full', cursor: heartbeat?.cursor ?? null, before: heartbeat?.counts },
    );
    if (r.done) {
      expect(r.counts).toMatchObject({ rowsCompared: 600, itemsScanned: 599, missing: 2, extra: 1, different: 1 });
      break;
    }
    expect(r.stoppedBy).toBe('cancelled');
    kills += 1;
    if (kills > 10) throw new Error(`no end after ${kills} runs`);
  }
  expect(kills).toBeGreaterThan(1);
  expect(keysOf(killed.mismatchFile)).toEqual(expected);

  // A scan cursor is not a lookup cursor.
  await expect(runVerify(deps(), { ...opts('wrong'), mode: 'resume', strategy: 'lookup', cursor: JSON.stringify({ v: 1, table: `${db}.orders`, phase: 'scan', after: null, scan: {} }) })).rejects.toThrow(/scan strategy/);
});
