/**
 * Source preflight for CDC: plain functions that read the server's settings, the reader's grants and the tables'
 * metadata, and return one check per requirement, each failed one with a PreflightError naming the setting,
 * privilege or table. Nothing starts unless every check passes (assertSourceReady).
 *
 * Requirements (each is what the reader or the version scheme relies on):
 *   log_bin=ON, binlog_format=ROW, binlog_row_image=FULL (full before/after images), binlog_row_metadata=FULL
 *   (column names and types in the binlog), gtid_strict_mode=ON and a single GTID domain (versions rise with the
 *   GTID sequence), privileges REPLICATION SLAVE + REPLICATION CLIENT (MariaDB ≥ 10.5: BINLOG MONITOR) + SELECT on
 *   every table, every table exists, has a primary key and only column types the codec keeps exact.
 * The evaluation is pure (evaluateSource) so every failure can be tested without changing the shared server.
 */
import { PreflightError } from '../../shared/errors';
import { primaryKeyColumns, readColumns, SUPPORTED_TYPES, type ColumnInfo, type Queryable } from '../row/codec';

export interface SourceFacts {
  readonly variables: Readonly<Record<string, string | null>>;
  /** SHOW GRANTS lines for the connected user. */
  readonly grants: readonly string[];
  readonly tables: readonly { readonly database: string; readonly table: string; readonly columns: readonly ColumnInfo[] }[];
}

export interface CdcPreflightCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly error?: PreflightError;
}

const VARS = ['log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata', 'gtid_strict_mode', 'gtid_binlog_pos', 'gtid_domain_id', 'server_id', 'version'];

/** Reads what evaluateSource needs from the server, as the user of `db`. */
export async function gatherSourceFacts(db: Queryable, tables: readonly { database: string; table: string }[]): Promise<SourceFacts> {
  const [vrows] = await db.query(`SELECT ${VARS.map((v) => `@@GLOBAL.${v} AS ${v}`).join(', ').replace('@@GLOBAL.version', '@@version')}`).catch(async () => {
    // MySQL has no binlog_row_metadata before 8.0.14 / gtid_* variables differ: read what exists
    const [rows] = await db.query(`SHOW GLOBAL VARIABLES WHERE Variable_name IN (${VARS.map(() => '?').join(',')})`, VARS);
    const o: Record<string, string> = {};
    for (const r of rows as { Variable_name: string; Value: string }[]) o[r.Variable_name] = r.Value;
    return [[o]];
  });
  const variables = Object.fromEntries(Object.entries((vrows as Record<string, unknown>[])[0]).map(([k, v]) => [k, v === null || v === undefined ? null : String(v)]));
  const [grows] = await db.query('SHOW GRANTS FOR CURRENT_USER()');
  const grants = (grows as Record<string, string>[]).map((r) => Object.values(r)[0]);
  const out: SourceFacts['tables'][number][] = [];
  for (const t of tables) out.push({ ...t, columns: await readColumns(db, t.database, t.table) });
  return { variables, grants, tables: out };
}

function check(name: string, ok: boolean, detail: string, failure: string): CdcPreflightCheck {
  return ok ? { name, ok, detail } : { name, ok, detail: failure, error: new PreflightError(failure, name) };
}

const on = (v: string | null | undefined): boolean => v !== null && v !== undefined && ['1', 'ON', 'on', 'true'].includes(v);
const eq = (v: string | null | undefined, want: string): boolean => (v ?? '').toUpperCase() === want;

/** Privileges granted on `scope` ("*.*", "`db`.*", "`db`.`t`") by the grant lines; ALL covers everything. */
function privilegesOn(grants: readonly string[], scopes: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const g of grants) {
    const m = /^GRANT (.+?) ON (\S+) TO /i.exec(g);
    if (!m) continue;
    const scope = m[2].replace(/["`']/g, '').toLowerCase();
    if (!scopes.includes(scope)) continue;
    for (const p of m[1].split(',')) out.add(p.trim().toUpperCase().replace(/\(.*\)$/, '').trim());
  }
  return out;
}

/** Evaluates every requirement; pure. */
export function evaluateSource(f: SourceFacts): CdcPreflightCheck[] {
  const v = f.variables;
  const checks: CdcPreflightCheck[] = [
    check('server', /mariadb/i.test(v.version ?? ''), `MariaDB ${v.version}`,
      `the server is ${v.version ?? 'unknown'}: the built-in reader supports MariaDB 10.5+ (MySQL GTIDs are not implemented); use the AWS DMS source`),
    check('log_bin', on(v.log_bin), 'binary log on', `the binary log is off (log_bin=${v.log_bin}); start the server with log_bin`),
    check('binlog_format', eq(v.binlog_format, 'ROW'), 'binlog_format=ROW', `binlog_format is ${v.binlog_format}, must be ROW`),
    check('binlog_row_image', eq(v.binlog_row_image, 'FULL'), 'binlog_row_image=FULL', `binlog_row_image is ${v.binlog_row_image}, must be FULL`),
    check('binlog_row_metadata', eq(v.binlog_row_metadata, 'FULL'), 'binlog_row_metadata=FULL', `binlog_row_metadata is ${v.binlog_row_metadata ?? 'unsupported'}, must be FULL`),
    check('gtid_strict_mode', on(v.gtid_strict_mode), 'gtid_strict_mode=ON', `gtid_strict_mode is ${v.gtid_strict_mode ?? 'unsupported'}, must be ON (versions rely on rising GTID sequence numbers)`),
  ];
  const domains = new Set((v.gtid_binlog_pos ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((g) => g.split('-')[0]));
  if (v.gtid_domain_id !== null && v.gtid_domain_id !== undefined) domains.add(v.gtid_domain_id);
  checks.push(check('gtid_domain', domains.size <= 1, `single GTID domain ${[...domains].join('') || '0'}`, `the binlog has ${domains.size} GTID domains (${[...domains].join(', ')}); cutover supports one`));

  const global = privilegesOn(f.grants, ['*.*']);
  const all = global.has('ALL PRIVILEGES') || global.has('ALL');
  const has = (p: string): boolean => all || global.has(p) || global.has('SUPER');
  checks.push(check('privilege REPLICATION SLAVE', has('REPLICATION SLAVE'), 'REPLICATION SLAVE granted', 'the user lacks REPLICATION SLAVE (needed to read the binlog): GRANT REPLICATION SLAVE ON *.*'));
  checks.push(check('privilege REPLICATION CLIENT', has('REPLICATION CLIENT') || has('BINLOG MONITOR'), 'REPLICATION CLIENT / BINLOG MONITOR granted',
    'the user lacks REPLICATION CLIENT (MariaDB ≥ 10.5: BINLOG MONITOR), needed for SHOW BINARY LOGS / positions: GRANT BINLOG MONITOR ON *.*'));
  for (const t of f.tables) {
    const name = `${t.database}.${t.table}`;
    const privs = new Set([...global, ...privilegesOn(f.grants, [`${t.database.toLowerCase()}.*`, `${t.database.toLowerCase()}.${t.table.toLowerCase()}`])]);
    const canSelect = all || privs.has('SELECT') || privs.has('ALL PRIVILEGES') || privs.has('ALL');
    checks.push(check(`privilege SELECT ${name}`, canSelect, `SELECT on ${name}`, `the user lacks SELECT on ${name}`));
    if (t.columns.length === 0) {
      checks.push(check(`table ${name}`, false, '', `table ${name} does not exist (or is not visible to the user)`));
      continue;
    }
    const pk = primaryKeyColumns(t.columns);
    checks.push(check(`primary key ${name}`, pk.length > 0, `primary key (${pk.map((c) => c.name).join(', ')})`, `table ${name} has no primary key; CDC keys every event by it`));
    const bad = t.columns.filter((c) => !SUPPORTED_TYPES.has(c.dataType));
    checks.push(check(`column types ${name}`, bad.length === 0, 'all column types supported',
      `table ${name} has column types cutover cannot carry exactly: ${bad.map((c) => `${c.name} ${c.columnType}`).join(', ')}`));
  }
  return checks;
}

/** Gathers and evaluates; throws the first failure's PreflightError (its message names the setting/privilege/table). */
export async function assertSourceReady(db: Queryable, tables: readonly { database: string; table: string }[]): Promise<CdcPreflightCheck[]> {
  const checks = evaluateSource(await gatherSourceFacts(db, tables));
  const failed = checks.find((c) => !c.ok);
  if (failed?.error) throw failed.error;
  return checks;
}
