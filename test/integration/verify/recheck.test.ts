/**
 * The recheck rule on real MariaDB + dynalite, including the snapshot anomaly the backfill already guards against:
 * a consistent snapshot whose reported binlog position runs ahead of its read view. The anomaly is injected by a
 * connection wrapper (a real connection; only the reported GTID state is moved ahead, to a transaction committed
 * after the read view was fixed). Such a snapshot must not turn an applied change into a reported mismatch; a real
 * mismatch on a recently written item is still confirmed; a key whose target stays ahead ends inconclusive after
 * the round cap instead of looping; repair never publishes a row read in such a snapshot at its reported position.
 */
import { DeleteTableCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type * as mysql from 'mysql2/promise';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { tableSpec, type TableSpec } from '../../../src/pipeline/backfill/keyset';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';
import type { SnapshotConnection } from '../../../src/pipeline/backfill/snapshot';
import type { Item } from '../../../src/pipeline/item';
import { readColumns } from '../../../src/pipeline/row/codec';
import { ensureTargetTable } from '../../../src/pipeline/target/table';
import { compileMapping, type CompiledMapping } from '../../../src/pipeline/transform/mapping';
import { changeVersion, loadVersion } from '../../../src/pipeline/version';
import { recheck, VerifyInconclusiveError, type RecheckContext } from '../../../src/pipeline/verify/recheck';
import { repairMismatches } from '../../../src/pipeline/verify/repair';
import { plainKey } from '../../../src/pipeline/verify/report';
import { MemorySink } from '../../../src/pipeline/backfill/sink';
import { uniqueName } from '../../support/ids';

const db = uniqueName('rc_src');
const target = uniqueName('rc_target');
let pool: mysql.Pool;
let client: DynamoDBClient;
let mapping: CompiledMapping;
let spec: TableSpec;
const everythingApplied = async (): Promise<string> => '999999999999';

beforeAll(async () => {
  pool = createSourcePool({ connectionLimit: 4 });
  client = createDynamoClient();
  await pool.query(`CREATE DATABASE \`${db}\``);
  await pool.query(`CREATE TABLE \`${db}\`.t (id BIGINT PRIMARY KEY, v VARCHAR(20) NOT NULL)`);
  await pool.query(`INSERT INTO \`${db}\`.t VALUES (1, 'a'), (2, 'a'), (3, 'a'), (4, 'a')`);
  const columns = await readColumns(pool, db, 't');
  spec = tableSpec(db, 't', columns);
  mapping = compileMapping({ source: `${db}.t`, target, partitionKey: { attribute: 'pk', template: 'T#{id}' }, nulls: 'omit' }, columns);
  await ensureTargetTable(client, [mapping], { create: true });
});

afterAll(async () => {
  await client.send(new DeleteTableCommand({ TableName: target })).catch(() => undefined);
  await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
  await pool.end();
  client.destroy();
});

/** Commits `sql` on its own connection and returns the GTID it got ("d-s-seq"). */
async function commit(sql: string): Promise<string> {
  const c = await pool.getConnection();
  try {
    await c.query(sql);
    const [r] = await c.query('SELECT @@last_gtid AS g');
    return (r as { g: string }[])[0].g;
  } finally {
    c.release();
  }
}

const seqOf = (gtid: string): bigint => BigInt(gtid.split('-')[2]);

async function putItem(id: number, v: string, version: string): Promise<void> {
  await client.send(new PutItemCommand({ TableName: target, Item: { ...mapping.toItem({ id: String(id), v }), _v: { N: version }, _src: { S: mapping.sourceId } } }));
}

/**
 * A real connection whose first snapshot is inexact: right after its read view is fixed, `afterView` commits a
 * transaction elsewhere, and the snapshot then reports that transaction's GTID as its position (one ahead).
 */
function inexactOnce(conn: mysql.PoolConnection, afterView: () => Promise<string>): SnapshotConnection {
  let reported: string | undefined;
  let used = false;
  const query = (async (sql: string, values?: Parameters<mysql.PoolConnection['query']>[1]) => {
    const res = (await conn.query(sql, values)) as [unknown, unknown];
    if (!used && sql.startsWith('START TRANSACTION WITH CONSISTENT SNAPSHOT')) reported = await afterView();
    if (!used && reported && sql.startsWith('SELECT BINLOG_GTID_POS')) {
      used = true;
      const [domain] = reported.split('-');
      const state = (res[0] as { g: string }[])[0].g.split(',').map((g) => (g.trim().split('-')[0] === domain ? reported : g.trim()));
      return [[{ g: state.join(',') }], res[1]];
    }
    return res;
  }) as SnapshotConnection['query'];
  return { query };
}

const keyItem = (id: number): Item => mapping.keyOf({ id: String(id) });
const ctxOf = (conn: SnapshotConnection): RecheckContext => ({ conn, client, mapping, spec, keyNames: ['pk'], appliedThrough: everythingApplied });

test('a snapshot reporting a position ahead of its read view does not turn an applied change into a mismatch', async () => {
  await putItem(1, 'a', loadVersion(1));
  const conn = await pool.getConnection();
  // Read view: the current value. Then an update commits (seq q), the ETL applies it, and the snapshot reports q.
  const applyDuringView = (v: string) => async (): Promise<string> => {
    const gtid = await commit(`UPDATE \`${db}\`.t SET v = '${v}' WHERE id = 1`);
    await putItem(1, v, changeVersion(seqOf(gtid), 0));
    return gtid;
  };
  const suspect = { kind: 'different' as const, sourceKey: ['1'], itemKey: keyItem(1), seenAtSeq: '0' };
  try {
    // One round only: the old rule confirmed this (the item's version is not above loadVersion(q)); now it is
    // undecided, and undecided is never reported.
    await expect(recheck(ctxOf(inexactOnce(conn, applyDuringView('b'))), [suspect], { timeoutMs: 30_000, settleMs: 50, maxRounds: 1 })).rejects.toBeInstanceOf(VerifyInconclusiveError);
    // With more rounds, a later (exact) snapshot sees the update: resolved, nothing reported.
    const r = await recheck(ctxOf(inexactOnce(conn, applyDuringView('c'))), [suspect], { timeoutMs: 30_000, settleMs: 50 });
    expect(r).toEqual({ confirmed: [], resolved: 1 });
  } finally {
    conn.release();
  }
});

test('a real mismatch on a recently written item is still confirmed (the same version seen a settle later)', async () => {
  const gtid = await commit(`UPDATE \`${db}\`.t SET v = 'x' WHERE id = 2`);
  await putItem(2, 'corrupted', changeVersion(seqOf(gtid), 0)); // within the margin of every snapshot from now on
  const conn = await pool.getConnection();
  try {
    const r = await recheck(ctxOf(conn), [{ kind: 'different', sourceKey: ['2'], itemKey: keyItem(2), seenAtSeq: '0' }], { timeoutMs: 30_000, settleMs: 50 });
    expect(r.resolved).toBe(0);
    expect(r.confirmed).toHaveLength(1);
    expect(r.confirmed[0]).toMatchObject({ kind: 'different', sourceKey: ['2'], itemVersion: changeVersion(seqOf(gtid), 0), diff: [{ attribute: 'v', expected: 'S"x"', actual: 'S"corrupted"' }] });
  } finally {
    conn.release();
  }
});

test('a target that stays ahead of every snapshot ends inconclusive after the round cap, not in a loop', async () => {
  await putItem(3, 'future', loadVersion(10n ** 15n)); // above every snapshot this server will report
  const conn = await pool.getConnection();
  try {
    // The recheck timeout is longer than the test's: only the round cap can end it.
    await expect(recheck(ctxOf(conn), [{ kind: 'different', sourceKey: ['3'], itemKey: keyItem(3), seenAtSeq: '0' }], { timeoutMs: 600_000, settleMs: 20, maxRounds: 4 })).rejects.toBeInstanceOf(VerifyInconclusiveError);
  } finally {
    conn.release();
  }
});

test('repair never claims the reported position for rows read in a snapshot that may lag it', async () => {
  await putItem(4, 'corrupted', loadVersion(1));
  let q = 0n;
  // The pool's first snapshot is inexact: the key changes (and the ETL applies it) after its read view was fixed.
  let first = true;
  const lagging = {
    query: pool.query.bind(pool),
    getConnection: async () => {
      const c = await pool.getConnection();
      const w = first
        ? inexactOnce(c, async () => {
            const gtid = await commit(`UPDATE \`${db}\`.t SET v = 'b' WHERE id = 4`);
            q = seqOf(gtid);
            await putItem(4, 'b', changeVersion(q, 0));
            return gtid;
          })
        : c;
      first = false;
      return Object.assign(Object.create(c) as mysql.PoolConnection, { query: w.query, release: () => c.release() });
    },
  } as unknown as mysql.Pool;
  const sink = new MemorySink();
  const r = await repairMismatches(
    { pool: lagging, client, mapping, sink, appliedThrough: everythingApplied },
    { schema: db, table: 't', mismatches: [{ kind: 'different', sourceKey: ['4'], itemKey: plainKey(keyItem(4)), seenAtSeq: '0', itemVersion: loadVersion(1) }], settleMs: 50, recheckTimeoutMs: 10_000 },
  );
  expect(q).toBeGreaterThan(0n);
  // Whatever it claims, the load must not carry the pre-update row above the update's version (it would undo it).
  const [load] = sink.events;
  expect(load).toMatchObject({ operation: 'load' });
  expect(load.data.v === 'b' || BigInt(load.version) < BigInt(changeVersion(q, 0))).toBe(true);
  expect(r).toMatchObject({ loads: 1, notRepairable: [], remaining: [] });
});
