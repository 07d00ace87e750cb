/**
 * Raw store baselines that every other benchmark compares with: what the endpoints themselves do with direct driver
 * calls (AWS SDK against dynalite, mysql2 against MariaDB), with no cutover code in the path. Each figure is set
 * beside a related raw figure so the ratio says something (single PutItem vs BatchWriteItem, conditional vs plain
 * PutItem, GetItem vs a MySQL point select). Latencies are sequential calls (no queueing), percentiles from hdr.
 */
import { GetItemCommand, PutItemCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { RowDataPacket } from 'mysql2/promise';
import { createDynamoClient } from '../../src/infra/dynamodb';
import { loadStackEnv } from '../../src/infra/env';
import { createMysqlPool } from '../../src/infra/mysql';
import { batchWriteIngest, latencies, p50p99, sampleItem, scratchTable, throughput } from './harness-baselines';
import type { BenchContext, BenchFigure } from './types';

/** Measures the raw store baselines; creates and drops its own DynamoDB table and MySQL database. */
export async function run(ctx: BenchContext): Promise<BenchFigure[]> {
  loadStackEnv();
  const n = Math.max(500, Math.round(20_000 * ctx.scale));
  const calls = Math.max(200, Math.round(2_000 * ctx.scale));
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const client = createDynamoClient();
  const table = `bench_stores_${suffix}`;
  const dropTable = await scratchTable(client, table);
  const db = `bench_stores_${suffix}`;
  const admin = createMysqlPool({ database: '' });
  await admin.query(`CREATE DATABASE \`${db}\``);
  const pool = createMysqlPool({ database: db, connectionLimit: 8 });
  try {
    ctx.log(`BatchWriteItem ingest of ${n} items`);
    const batch = await batchWriteIngest(client, table, Array.from({ length: n }, (_, i) => sampleItem(i)));
    ctx.log(`PutItem x ${calls}`);
    await throughput(100, 8, (i) => client.send(new PutItemCommand({ TableName: table, Item: sampleItem(i, 'warm') }))); // JIT and connection warm-up
    // Plain and conditional puts overwrite the same existing items, interleaved in rounds (order swapped each round)
    // so that warm-up, compaction and the neighbours' load fall on both alike.
    const plainPut = (i: number) => client.send(new PutItemCommand({ TableName: table, Item: { ...sampleItem(i), email: { S: `p${i}@example.com` } } }));
    const condPut = (i: number) => client.send(new PutItemCommand({
      TableName: table,
      Item: { ...sampleItem(i), _v: { N: String(2_000_000_000 + i) } },
      ConditionExpression: 'attribute_not_exists(pk) OR #v < :v',
      ExpressionAttributeNames: { '#v': '_v' },
      ExpressionAttributeValues: { ':v': { N: String(2_000_000_000 + i) } },
    }));
    let plainS = 0;
    let condS = 0;
    const round = 200;
    for (let r = 0; r * round < calls; r++) {
      const base = (r * round) % n;
      const timed = async (fn: (i: number) => Promise<unknown>): Promise<number> => round / (await throughput(round, 8, (i) => fn(base + i)));
      if (r % 2 === 0) {
        plainS += await timed(plainPut);
        condS += await timed(condPut);
      } else {
        condS += await timed(condPut);
        plainS += await timed(plainPut);
      }
    }
    const rounds = Math.ceil(calls / round);
    const put = (rounds * round) / plainS;
    const cond = (rounds * round) / condS;
    ctx.log(`GetItem x ${calls}`);
    const get = p50p99(await latencies(calls, (i) => client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: `k#${(i * 7919) % n}` } }, ConsistentRead: true }))));
    ctx.log('Scan');
    const scanned = await timedScan(client, table);

    ctx.log(`MySQL: multi-row INSERT of ${n} rows, point selects, single inserts, full scan`);
    const [[durability]] = await pool.query<RowDataPacket[]>('SELECT @@sync_binlog AS sb, @@innodb_flush_log_at_trx_commit AS fl');
    await pool.query('CREATE TABLE t (id BIGINT PRIMARY KEY, email VARCHAR(191), total DECIMAL(12,2), status VARCHAR(16), profile JSON, created_at DATETIME(6))');
    const t0 = performance.now();
    for (let i = 0; i < n; i += 1000) {
      const rows = Array.from({ length: Math.min(1000, n - i) }, (_, j) => [i + j, `user${i + j}@example.com`, ((i + j) % 100000) / 100, 'paid', '{"city":"Lisbon"}', '2026-11-25 08:00:00.123456']);
      await pool.query('INSERT INTO t VALUES ?', [rows]);
    }
    const mysqlBulk = n / ((performance.now() - t0) / 1000);
    const sel = p50p99(await latencies(calls, (i) => pool.query('SELECT * FROM t WHERE id = ?', [(i * 7919) % n])));
    const ins = p50p99(await latencies(calls, (i) => pool.query('INSERT INTO t VALUES (?, ?, 1.00, ?, ?, ?)', [n + i, `x${i}@example.com`, 'new', '{}', '2026-11-25 08:00:00.000000'])));
    const s0 = performance.now();
    const [all] = await pool.query<RowDataPacket[]>('SELECT * FROM t');
    const mysqlScan = all.length / ((performance.now() - s0) / 1000);

    const note = `${n} items of ~200 B; ${calls} sequential calls for latencies`;
    return [
      { name: 'DynamoDB BatchWriteItem ingest', value: batch, unit: 'items/s', baselineName: 'MySQL multi-row INSERT (1000 rows/statement)', baseline: mysqlBulk, higherIsBetter: true, note },
      { name: 'DynamoDB PutItem (8 in flight, overwrites)', value: put, unit: 'items/s', baselineName: 'BatchWriteItem ingest', baseline: batch, higherIsBetter: true },
      { name: 'DynamoDB conditional PutItem (version check)', value: cond, unit: 'items/s', baselineName: 'plain PutItem of the same items, interleaved', baseline: put, higherIsBetter: true },
      { name: 'DynamoDB GetItem p50', value: get.p50, unit: 'ms', baselineName: 'mysql2 point SELECT p50', baseline: sel.p50, higherIsBetter: false },
      { name: 'DynamoDB GetItem p99', value: get.p99, unit: 'ms', baselineName: 'mysql2 point SELECT p99', baseline: sel.p99, higherIsBetter: false },
      { name: 'mysql2 single-row INSERT p50', value: ins.p50, unit: 'ms', baselineName: 'mysql2 point SELECT p50', baseline: sel.p50, higherIsBetter: false, note: `commits not fsynced: sync_binlog=${durability.sb}, innodb_flush_log_at_trx_commit=${durability.fl}` },
      { name: 'mysql2 single-row INSERT p99', value: ins.p99, unit: 'ms', baselineName: 'mysql2 point SELECT p99', baseline: sel.p99, higherIsBetter: false },
      { name: 'DynamoDB Scan', value: scanned, unit: 'items/s', baselineName: 'MySQL full-table SELECT', baseline: mysqlScan, higherIsBetter: true },
    ];
  } finally {
    await dropTable();
    client.destroy();
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await admin.end();
  }
}

async function timedScan(client: ReturnType<typeof createDynamoClient>, table: string): Promise<number> {
  const t0 = performance.now();
  let count = 0;
  let start: Record<string, AttributeValue> | undefined;
  do {
    const res = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    count += res.Count ?? 0;
    start = res.LastEvaluatedKey;
  } while (start);
  return count / ((performance.now() - t0) / 1000);
}
