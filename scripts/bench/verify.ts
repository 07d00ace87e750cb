/**
 * Verification benchmark: a full verification (the default scan strategy: the source read once in key order and
 * mapped, the target scanned once, per-bucket digests compared) of N rows (150k at --scale 1) beside a plain scan of
 * both sides in the same run, concurrently as verification reads them (keyset SELECT of every source row in the same
 * chunk size, beside a Scan of every target item with the same number of segments). Best of two alternated runs
 * each. Goal ≥ 0.8.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchWriteItemCommand, DeleteTableCommand, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../../src/infra/dynamodb';
import { loadStackEnv } from '../../src/infra/env';
import { readChunk } from '../../src/pipeline/verify/source';
import { keyOfRow, tableSpec } from '../../src/pipeline/backfill/keyset';
import { createSourcePool } from '../../src/pipeline/backfill/source-pool';
import { readColumns, rowFromMysql2 } from '../../src/pipeline/row/codec';
import { ensureTargetTable } from '../../src/pipeline/target/table';
import { compileMapping } from '../../src/pipeline/transform/mapping';
import { loadVersion } from '../../src/pipeline/version';
import { runVerify } from '../../src/pipeline/verify/verifier';
import { scanSourcePage } from '../../src/pipeline/verify/target';
import type { Item } from '../../src/pipeline/item';
import type { BenchContext, BenchFigure } from './types';

const CHUNK = 1_000;
const SEGMENTS = 4;

export async function run(ctx: BenchContext): Promise<BenchFigure[]> {
  loadStackEnv();
  const n = Math.max(5_000, Math.round(150_000 * ctx.scale));
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const db = `bench_verify_${suffix}`;
  const target = `bench_verify_${suffix}`;
  const pool = createSourcePool({ connectionLimit: 8 });
  const client = createDynamoClient();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-verify-'));
  try {
    await pool.query(`CREATE DATABASE ${db}`);
    await pool.query(`CREATE TABLE ${db}.orders (id BIGINT PRIMARY KEY, email VARCHAR(191), total DECIMAL(12,2), status VARCHAR(16), created_at DATETIME(6))`);
    for (let i = 0; i < n; i += 100_000) {
      await pool.query(`INSERT INTO ${db}.orders SELECT seq, CONCAT('user', seq, '@example.com'), seq / 100, ELT(1 + seq % 3, 'new', 'paid', 'shipped'), '2026-11-25 08:00:00.123456' FROM ${db}.seq_${i + 1}_to_${Math.min(n, i + 100_000)}`);
    }
    const columns = await readColumns(pool, db, 'orders');
    const spec = tableSpec(db, 'orders', columns);
    const mapping = compileMapping({ source: `${db}.orders`, target, partitionKey: { attribute: 'pk', template: 'ORDER#{id}' }, nulls: 'omit' }, columns);
    await ensureTargetTable(client, [mapping], { create: true });
    ctx.log(`loading ${n} items into the target`);
    const conn = await pool.getConnection();
    let after: unknown[] | null = null;
    for (;;) {
      const { rows } = await readChunk(conn, spec, { after: after as never, through: null }, 5_000);
      const items: Item[] = rows.map((r) => ({ ...mapping.toItem(r), _v: { N: loadVersion(1) }, _src: { S: mapping.sourceId } }));
      const batches: WriteRequest[][] = [];
      for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })));
      await Promise.all(Array.from({ length: 8 }, async () => {
        for (let b = batches.shift(); b; b = batches.shift()) {
          let pending: WriteRequest[] = b;
          while (pending.length) pending = (await client.send(new BatchWriteItemCommand({ RequestItems: { [target]: pending } }))).UnprocessedItems?.[target] ?? [];
        }
      }));
      if (rows.length < 5_000) break;
      after = keyOfRow(spec, rows[rows.length - 1]) as unknown[];
    }
    conn.release();

    // Baseline: plain scan of both sides, concurrently (as verification reads them): a keyset SELECT of every source
    // row in the same chunk size (decoded as verification decodes them) beside a parallel Scan of every target item.
    const sides: string[] = []; // when each side of the plain scan finished (source/target, s)
    const plainScan = async (): Promise<number> => {
      const t0 = performance.now();
      const source = async (): Promise<number> => {
        const walk = await pool.getConnection();
        let rowsSeen = 0;
        let last: unknown = null;
        try {
          for (;;) {
            const [rows] = await walk.query(`SELECT * FROM ${db}.orders WHERE ${last === null ? '1' : `id > ${String(last)}`} ORDER BY id LIMIT ${CHUNK}`);
            const rs = rows as Record<string, unknown>[];
            for (const r of rs) rowFromMysql2(columns, r);
            rowsSeen += rs.length;
            if (rs.length < CHUNK) return rowsSeen;
            last = rs[rs.length - 1].id;
          }
        } finally {
          walk.release();
        }
      };
      let tgtItems = 0;
      const targetScan = Promise.all(Array.from({ length: SEGMENTS }, async (_, segment) => {
        let start: Item | undefined;
        do {
          const page = await scanSourcePage(client, target, mapping.sourceId, start, { segment, totalSegments: SEGMENTS });
          tgtItems += page.items.length;
          start = page.next;
        } while (start);
      }));
      const at = (): number => (performance.now() - t0) / 1000;
      const [[srcRows, srcSeconds], [, tgtSeconds]] = await Promise.all([source().then((r) => [r, at()]), targetScan.then(() => [0, at()])]);
      if (srcRows !== n || tgtItems !== n) throw new Error(`plain scan saw ${srcRows} rows and ${tgtItems} items, expected ${n}`);
      sides.push(`${srcSeconds.toFixed(1)}/${tgtSeconds.toFixed(1)}`);
      return at();
    };
    const verify = async (i: number): Promise<number> => {
      const t1 = performance.now();
      const p = await runVerify({ pool, client, mapping, appliedThrough: async () => '999999999999' }, { schema: db, table: 'orders', mode: 'full', mismatchFile: path.join(dir, `m${i}.jsonl`), chunkRows: CHUNK, scanSegments: SEGMENTS, concurrency: 8 });
      const seconds = (performance.now() - t1) / 1000;
      if (p.counts.rowsCompared !== n || p.counts.itemsScanned !== n || p.counts.missing + p.counts.extra + p.counts.different !== 0) throw new Error(`verification of a clean copy was not clean: ${JSON.stringify(p.counts)}`);
      return seconds;
    };
    // Alternated and repeated (best of two each): the machine is shared, so single runs are noisy.
    const plain: number[] = [];
    const verified: number[] = [];
    for (let i = 0; i < 2; i += 1) {
      ctx.log(`baseline: plain scan of both sides (${i + 1}/2)`);
      plain.push(await plainScan());
      ctx.log(`full verification (${i + 1}/2)`);
      verified.push(await verify(i));
    }
    const plainSeconds = Math.min(...plain);
    const verifySeconds = Math.min(...verified);
    const plainRate = n / plainSeconds;
    const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join('/');

    const note = `${n} rows, scan strategy, best of 2: ${verifySeconds.toFixed(1)} s vs ${plainSeconds.toFixed(1)} s (runs ${fmt(verified)} s vs ${fmt(plain)} s; plain source/target sides done at ${sides.join(', ')} s)`;
    ctx.log(note);
    return [
      {
        name: 'verify (full)',
        value: n / verifySeconds,
        unit: 'rows/s',
        baselineName: 'plain scan of both sides, concurrently (keyset SELECT + parallel Scan)',
        baseline: plainRate,
        higherIsBetter: true,
        goalRatio: 0.8,
        note,
      },
    ];
  } finally {
    await client.send(new DeleteTableCommand({ TableName: target })).catch(() => undefined);
    await pool.query(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
    await pool.end();
    client.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
