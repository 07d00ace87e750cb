/**
 * The demo schema on real MariaDB: the seeder fills it, the mapping file compiles against its real columns and maps
 * every seeded row both ways, the checker's own canonical decoding agrees with the pipeline's row codec, and a
 * short demo workload leaves a state the checker accepts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FieldPacket, RowDataPacket } from 'mysql2/promise';
import { runCheck } from '../../../src/checker/check';
import { canonicalRowFromMysql, differingColumns, jsonAsText } from '../../../src/checker/canonical';
import { attributesRow, dynamoKeyOf } from '../../../src/checker/stores';
import { createMysqlPool } from '../../../src/infra/mysql';
import { runLoad } from '../../../src/loadgen/generator';
import { MysqlAppStore } from '../../../src/loadgen/mysql-store';
import { readColumns, rowFromMysql2 } from '../../../src/pipeline/row/codec';
import { loadMappingFile } from '../../../src/pipeline/transform/mapping';
import { DEMO_KEYS, DEMO_TABLES } from '../../../scripts/demo/schema';
import { seedDemo } from '../../../scripts/demo/seed';
import { DEMO_DYNAMO_TABLES, demoCheckedTables, demoLoadTables } from '../../../scripts/demo/workload';
import { uniqueName } from '../../support/ids';

const db = uniqueName('demo');
const admin = createMysqlPool({ database: '' });
let pool: ReturnType<typeof createMysqlPool>;
const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-demo-seed-'));
const TOTAL = 2000;

beforeAll(async () => {
  const r = await seedDemo(admin, { database: db, total: TOTAL });
  expect(Object.values(r.rows).reduce((a, b) => a + b, 0)).toBe(TOTAL);
  pool = createMysqlPool({ database: db, connectionLimit: 6 });
});

afterAll(async () => {
  await pool?.end();
  await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await admin.end();
  fs.rmSync(logDir, { recursive: true, force: true });
});

it('seeds every table with the requested rows and refuses to seed twice without reset', async () => {
  const [rows] = await pool.query<RowDataPacket[]>(`SELECT (SELECT COUNT(*) FROM users) u, (SELECT COUNT(*) FROM orders) o, (SELECT COUNT(*) FROM order_items) i, (SELECT COUNT(*) FROM attachments) a`);
  expect(rows[0]).toEqual({ u: '400', o: '600', i: '900', a: '100' });
  await expect(seedDemo(admin, { database: db, total: 10 })).rejects.toThrow(/already has/);
});

it('maps every seeded row with scripts/demo/mapping.yaml, and the checker decodes rows as the pipeline codec does', async () => {
  const columns = new Map<string, Awaited<ReturnType<typeof readColumns>>>(await Promise.all(DEMO_TABLES.map(async (t) => [`cutover_demo.${t}`, await readColumns(pool, db, t)] as const)));
  const mappings = loadMappingFile(path.join(__dirname, '../../../scripts/demo/mapping.yaml'), (id) => columns.get(id));
  expect(mappings.map((m) => m.sourceId).sort()).toEqual(DEMO_TABLES.map((t) => `cutover_demo.${t}`).sort());
  const checked = demoCheckedTables(db, DEMO_DYNAMO_TABLES);
  for (const m of mappings) {
    const table = m.source.table;
    const [rows, fields] = (await pool.query({ sql: `SELECT * FROM \`${table}\` LIMIT 200`, typeCast: jsonAsText } as never)) as unknown as [RowDataPacket[], FieldPacket[]];
    for (const raw of rows) {
      const viaCodec = rowFromMysql2(columns.get(m.sourceId)!, raw);
      expect(canonicalRowFromMysql(raw, fields as never)).toEqual(viaCodec);
      const item = m.toItem(viaCodec);
      expect(item.rev).toEqual({ S: viaCodec.rev });
      // The checker's own view of the demo tables in DynamoDB agrees with the mapping file.
      const cfg = checked.find((c) => c.table === table)!.dynamo!;
      expect(cfg.tableName).toBe(m.targetTable);
      expect(dynamoKeyOf(cfg.key, viaCodec)).toEqual(m.keyOf(viaCodec));
      const seen = attributesRow(item, cfg.attributes!);
      expect(differingColumns(viaCodec, seen.row, seen.numeric, true)).toEqual([]);
    }
  }
});

it('runs the demo workload against the seeded tables and the checker accepts the result', async () => {
  const summary = await runLoad({
    runId: 'seedtest',
    instances: 2,
    storeFor: () => new MysqlAppStore(pool, DEMO_KEYS),
    tables: demoLoadTables(TOTAL),
    mix: { read: 4, insert: 2, update: 3, delete: 1 },
    ratePerInstance: 150,
    durationMs: 8_000,
    maxOpsPerInstance: 200,
    logDir,
  });
  expect(summary.failed).toBe(0);
  expect(summary.requests).toBe(400);
  const report = await runCheck(summary.logFiles, { tables: demoCheckedTables(db, DEMO_DYNAMO_TABLES), mysql: pool });
  expect(report.keys).toEqual([]);
  expect(report.passed).toBe(true);
  expect(report.reads).toMatchObject({ stale: 0, phantom: 0 });
});
