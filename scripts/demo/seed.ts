/**
 * Creates the demo schema (./schema.ts) and seeds it fast with multi-row INSERTs (1000 rows per statement).
 * Deterministic: the same `total` and `seed` give the same rows. `reset` drops the tables first; without it an
 * existing, non-empty table is an error (the seeder never mixes two seeds).
 *
 * Run alone: `npx tsx scripts/demo/seed.ts [--rows 100000] [--database cutover_demo]`.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { loadStackEnv } from '../../src/infra/env';
import { createMysqlPool } from '../../src/infra/mysql';
import { seededRandom } from '../../src/loadgen/generator';
import type { ColumnValue } from '../../src/pipeline/types';
import { DEMO_DATABASE, DEMO_DDL, DEMO_TABLES, demoKey, demoRow, tableSizes, type DemoTable } from './schema';

/** Where and how much to seed. */
export interface SeedOptions {
  readonly database?: string;
  /** Total rows over all tables (default 100 000). */
  readonly total?: number;
  readonly reset?: boolean;
  readonly seed?: number;
  readonly batchRows?: number;
  onProgress?(table: DemoTable, done: number, of: number): void;
}

/** Rows seeded per table and the time it took. */
export interface SeedResult {
  readonly database: string;
  readonly rows: Record<DemoTable, number>;
  readonly seconds: number;
}

const param = (v: ColumnValue): unknown => (v !== null && typeof v === 'object' ? Buffer.from(v.$b64, 'base64') : v);

/** Creates the database and tables in it and inserts the rows; `admin` is a pool not bound to the database. */
export async function seedDemo(admin: Pool, opts: SeedOptions = {}): Promise<SeedResult> {
  const database = opts.database ?? DEMO_DATABASE;
  const sizes = tableSizes(opts.total ?? 100_000);
  const batch = opts.batchRows ?? 1000;
  const t0 = performance.now();
  const conn = await admin.getConnection();
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4`);
    await conn.query(`USE \`${database}\``);
    for (const table of DEMO_TABLES) {
      if (opts.reset) await conn.query(`DROP TABLE IF EXISTS \`${table}\``);
      await conn.query(DEMO_DDL[table].replace(/^CREATE TABLE/, 'CREATE TABLE IF NOT EXISTS'));
      const [[{ n }]] = await conn.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${table}\``);
      if (Number(n) > 0) throw new Error(`${database}.${table} already has ${n} rows: seed with reset to start over`);
    }
    for (const table of DEMO_TABLES) {
      const random = seededRandom((opts.seed ?? 7) * 31 + DEMO_TABLES.indexOf(table));
      const size = sizes[table];
      for (let i = 0; i < size; i += batch) {
        const rows = Array.from({ length: Math.min(batch, size - i) }, (_, j) => {
          const key = demoKey(table, i + j);
          return demoRow(table, key, `seed:${table}:${Object.values(key).join('-')}`, random);
        });
        const cols = Object.keys(rows[0]);
        await conn.query(`INSERT INTO \`${table}\` (${cols.map((c) => `\`${c}\``).join(', ')}) VALUES ?`, [rows.map((r) => cols.map((c) => param(r[c])))]);
        opts.onProgress?.(table, Math.min(size, i + batch), size);
      }
    }
  } finally {
    conn.release();
  }
  return { database, rows: sizes, seconds: (performance.now() - t0) / 1000 };
}

async function main(): Promise<void> {
  loadStackEnv();
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const admin = createMysqlPool({ database: '' });
  try {
    const r = await seedDemo(admin, { total: Number(arg('rows') ?? 100_000), database: arg('database'), reset: true });
    console.log(`seeded ${r.database}: ${JSON.stringify(r.rows)} in ${r.seconds.toFixed(1)} s`);
  } finally {
    await admin.end();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
