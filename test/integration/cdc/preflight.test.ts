/**
 * CDC source preflight against real MariaDB with a least-privilege user created for the test, plus the settings
 * checks (which cannot be changed on the shared server) evaluated on the facts gathered from it.
 */
import * as mysql from 'mysql2/promise';
import { mysqlConnectionParams } from '../../../src/infra/mysql';
import { assertSourceReady, evaluateSource, gatherSourceFacts } from '../../../src/pipeline/cdc/preflight';
import { BuiltinCdcSource } from '../../../src/pipeline/cdc/source';
import { PreflightError } from '../../../src/shared/errors';
import { ROW_QUERY_OPTIONS } from '../../../src/pipeline/row/codec';
import { BinlogCdcReader } from '../../../src/pipeline/cdc/reader';
import { trackerOf } from '../../../src/pipeline/backfill/gtid-tracker';
import { beginSnapshot } from '../../../src/pipeline/backfill/snapshot';
import { cdcFixture, readTopic, type CdcFixture } from './support';

jest.setTimeout(60_000);

describe('CDC source preflight', () => {
  let f: CdcFixture;
  const user = `cdc_lp_${process.pid}_${Date.now().toString(36)}`.slice(0, 32);
  let lp: mysql.Pool;
  beforeAll(async () => {
    f = await cdcFixture('cdc_pre');
    await f.pool.query(`CREATE TABLE ${f.db}.good (id INT PRIMARY KEY, v VARCHAR(10))`);
    await f.pool.query(`CREATE TABLE ${f.db}.nopk (id INT, v VARCHAR(10))`);
    await f.pool.query(`CREATE TABLE ${f.db}.geo (id INT PRIMARY KEY, g POINT)`);
    await f.pool.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'pw'`);
    await f.pool.query(`GRANT SELECT ON ${f.db}.good TO '${user}'@'%'`);
    const p = mysqlConnectionParams();
    lp = mysql.createPool({ ...ROW_QUERY_OPTIONS, host: p.host, port: p.port, user, password: 'pw', connectionLimit: 1 });
  });
  afterAll(async () => {
    await lp.end();
    await f.pool.query(`DROP USER IF EXISTS '${user}'@'%'`);
    await f.close();
  });

  const failures = async (db: mysql.Pool, tables: string[]): Promise<string[]> =>
    evaluateSource(await gatherSourceFacts(db, tables.map((table) => ({ database: f.db, table })))).filter((c) => !c.ok).map((c) => c.name);

  it('passes for the stack user on a table with a primary key', async () => {
    const checks = await assertSourceReady(f.pool, [{ database: f.db, table: 'good' }]);
    expect(checks.every((c) => c.ok)).toBe(true);
    expect(checks.map((c) => c.name)).toEqual(expect.arrayContaining(['log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata', 'gtid_domain', 'privilege REPLICATION SLAVE']));
  });

  it('names the missing replication privileges of a least-privilege user, then passes once granted', async () => {
    expect(await failures(lp, ['good'])).toEqual(['privilege REPLICATION SLAVE', 'privilege REPLICATION CLIENT']);
    const err = await assertSourceReady(lp, [{ database: f.db, table: 'good' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreflightError);
    expect((err as PreflightError).check).toBe('privilege REPLICATION SLAVE');
    expect((err as Error).message).toMatch(/REPLICATION SLAVE/);

    await f.pool.query(`GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '${user}'@'%'`);
    await lp.query('SELECT 1'); // grants apply to new statements of the same connection for global privileges
    const lp2 = mysql.createPool({ ...ROW_QUERY_OPTIONS, ...hostOf(), user, password: 'pw', connectionLimit: 1 });
    try {
      expect(await failures(lp2, ['good'])).toEqual([]);
      // enough for backfill's and verify's snapshots too: BINLOG_GTID_POS once, then SHOW BINLOG EVENTS carries the
      // GTID state forward (src/pipeline/backfill/gtid-tracker.ts)
      const c = await lp2.getConnection();
      try {
        await beginSnapshot(c);
        await c.query('COMMIT');
        await f.pool.query(`CREATE TABLE \`${f.db}\`.snap_probe (id INT PRIMARY KEY)`); // a newer binlog position
        const later = await beginSnapshot(c);
        await c.query('COMMIT');
        expect(trackerOf(c).stats).toMatchObject({ full: 1, incremental: 1 });
        expect(trackerOf(c).stats.eventsRead).toBeGreaterThan(0);
        const [g] = await f.pool.query('SELECT BINLOG_GTID_POS(?, ?) AS g', [later.file, later.position]);
        expect(later.gtidState).toBe((g as { g: string }[])[0].g);
      } finally {
        c.release();
      }
      // a table the user cannot read: named
      expect(await failures(lp2, ['nopk'])).toEqual([`privilege SELECT ${f.db}.nopk`, `table ${f.db}.nopk`]);

      // and those privileges are enough to run the reader (binlog connection and metadata reads as that user)
      const source = new BuiltinCdcSource({ db: f.pool, store: f.store, kafka: f.kafka });
      const { cdcId } = await source.start({ tables: [{ database: f.db, table: 'good' }], topic: f.topic, partitions: 1 });
      const h = hostOf();
      const reader = new BinlogCdcReader({ db: lp2, store: f.store, kafka: f.kafka, mysqlUrl: `mysql://${user}:pw@${h.host}:${h.port}/${f.db}` }, { cdcId, checkpointIntervalMs: 100 });
      const done = reader.run();
      try {
        await f.pool.query(`INSERT INTO ${f.db}.good VALUES (1, 'x')`);
        const msgs = await readTopic(f.kafka, f.topic, (m) => m.length >= 1, 20_000);
        expect(msgs.map((m) => m.value.data)).toEqual([{ id: 1, v: 'x' }]);
      } finally {
        reader.stop();
        await done;
      }
    } finally {
      await lp2.end();
    }
  });

  it('names a table without a primary key and unsupported column types; start() refuses and creates nothing', async () => {
    expect(await failures(f.pool, ['nopk', 'geo', 'missing'])).toEqual([`primary key ${f.db}.nopk`, `column types ${f.db}.geo`, `table ${f.db}.missing`]);
    const source = new BuiltinCdcSource({ db: f.pool, store: f.store, kafka: f.kafka });
    const topic = `${f.topic}_nopk`;
    const err = await source.start({ tables: [{ database: f.db, table: 'nopk' }], topic, partitions: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreflightError);
    expect((err as Error).message).toContain(`table ${f.db}.nopk has no primary key`);
    const admin = f.kafka.admin();
    await admin.connect();
    expect(await admin.listTopics()).not.toContain(topic);
    await admin.disconnect();
  });

  it('evaluates each server setting and GTID domains', async () => {
    const facts = await gatherSourceFacts(f.pool, [{ database: f.db, table: 'good' }]);
    const bad = evaluateSource({
      ...facts,
      variables: { ...facts.variables, version: '8.4.3', log_bin: '0', binlog_format: 'MIXED', binlog_row_image: 'MINIMAL', binlog_row_metadata: 'NO_LOG', gtid_strict_mode: '0', gtid_binlog_pos: '0-1-5,1-1-9' },
    }).filter((c) => !c.ok);
    expect(bad.map((c) => c.name)).toEqual(['server', 'log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata', 'gtid_strict_mode', 'gtid_domain']);
    expect(bad.map((c) => c.error?.message)).toEqual([
      expect.stringContaining('supports MariaDB'), expect.stringContaining('log_bin'), expect.stringContaining('binlog_format is MIXED, must be ROW'), expect.stringContaining('binlog_row_image is MINIMAL'),
      expect.stringContaining('binlog_row_metadata is NO_LOG'), expect.stringContaining('gtid_strict_mode'), expect.stringContaining('2 GTID domains'),
    ]);
    expect(bad.every((c) => c.error instanceof PreflightError && c.error.check === c.name)).toBe(true);
  });
});

function hostOf(): { host: string; port: number } {
  const p = mysqlConnectionParams();
  return { host: p.host, port: p.port };
}
