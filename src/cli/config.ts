/**
 * The migration config file (YAML), validated with zod and turned into the plain, parsed config the workflows take.
 * Errors are ConfigError naming the file, the table and the field. Format (every key but `tables` optional):
 *
 *   plan: shop                     # plan name (cutover plan start)
 *   concurrency: 2                 # tables migrated at once by the plan
 *   defaults:                      # anything a table may set, applied to every table
 *     cdc: { source: builtin, partitions: 6 }
 *     readLadder: [1, 10, 50, 100]
 *     soak: { readStep: 10m, shadowWrites: 30m, flipWrites: 30m }
 *     gates: { reads: manual, readSteps: auto, shadowWrites: manual, flipWrites: manual, dynamoOnly: manual }
 *     thresholds: { maxShadowReadMismatches: 0, maxShadowWriteErrors: 0, maxDlqEvents: 0 }
 *   tables:
 *     - source: shop.orders        # database.table
 *       mapping: mappings/orders.yaml   # relative to this file
 *       cdc: { topic: cutover.shop.orders, partitions: 12 }   # topic default: cutover.<db>.<table>
 *       etl: { group: cutover-etl.shop.orders, runner: workflow, consumers: 2 }
 *       backfill: { maxRowsPerSecond: 5000, maxLag: 30s, maxLagMessages: 200000 }   # copy waits while lag exceeds
 *
 * Durations are numbers of milliseconds or strings like "500ms", "30s", "10m", "2h".
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../shared/errors';
import { CONFIG_DEFAULTS, type MigrationPlanConfig, type TableMigrationConfig } from '../shared/migration-config';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const duration = z.union([
  z.number().int().nonnegative(),
  z.string().regex(/^\d+(\.\d+)?(ms|s|m|h|d)$/, 'a duration like "30s", "10m" or "2h"').transform((s) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(s) as RegExpExecArray;
    return Math.round(Number(m[1]) * UNITS[m[2]]);
  }),
]);
const gate = z.enum(['auto', 'manual']);
const percent = z.number().min(0).max(100);

const tableFields = {
  mapping: z.string().min(1),
  createTarget: z.boolean(),
  cdc: z.object({
    source: z.enum(['builtin', 'dms']),
    topic: z.string().min(1),
    partitions: z.number().int().positive(),
    dms: z.object({ replicationInstanceArn: z.string(), sourceEndpointArn: z.string(), targetEndpointArn: z.string(), taskIdentifier: z.string().optional() }).strict().optional(),
  }).strict().partial(),
  etl: z.object({ group: z.string().min(1), runner: z.enum(['workflow', 'external']), consumers: z.number().int().positive() }).strict().partial(),
  backfill: z.object({ maxRowsPerSecond: z.number().positive(), parallelism: z.number().int().positive(), targetChunk: duration, maxLag: duration, maxLagMessages: z.number().int().nonnegative() }).strict().partial(),
  verify: z.object({ mode: z.enum(['full', 'sampled']), sampleFraction: z.number().gt(0).max(1), repairAttempts: z.number().int().nonnegative() }).strict().partial(),
  readLadder: z.array(percent).min(1).refine((l) => l.every((p, i) => i === 0 || p > l[i - 1]) && l[l.length - 1] === 100, 'must rise strictly and end at 100'),
  soak: z.object({ readStep: duration, shadowWrites: duration, flipWrites: duration }).strict().partial(),
  gates: z.object({ reads: gate, readSteps: gate, shadowWrites: gate, flipWrites: gate, dynamoOnly: gate }).strict().partial(),
  thresholds: z.object({
    maxShadowReadMismatches: z.number().int().nonnegative(),
    maxShadowReadMismatchRate: z.number().min(0).max(1),
    maxShadowWriteErrors: z.number().int().nonnegative(),
    maxVerifyMismatches: z.number().int().nonnegative(),
    maxDlqEvents: z.number().int().nonnegative(),
    maxCatchUpLagEvents: z.number().int().nonnegative(),
  }).strict().partial(),
  shadowReadFraction: z.number().min(0).max(1),
  barrierTimeout: duration,
  fenceTimeout: duration,
  drainQuiet: duration,
  monitorInterval: duration,
  slice: duration,
};

const tableSchema = z.object({ source: z.string().regex(/^[^.\s]+\.[^.\s]+$/, 'database.table'), ...tableFields }).partial().required({ source: true, mapping: true }).strict();
const defaultsSchema = z.object(tableFields).partial().strict();
const fileSchema = z.object({
  plan: z.string().min(1).optional(),
  concurrency: z.number().int().positive().optional(),
  defaults: defaultsSchema.optional(),
  tables: z.array(tableSchema).min(1),
}).strict();

type TableEntry = z.infer<typeof tableSchema>;
type Defaults = z.infer<typeof defaultsSchema>;

function fail(file: string, issue: z.core.$ZodIssue, tables: unknown): never {
  const p = issue.path;
  let table: string | undefined;
  if (p[0] === 'tables' && typeof p[1] === 'number') table = String((tables as { source?: unknown }[] | undefined)?.[p[1]]?.source ?? `tables[${p[1]}]`);
  const field = (table !== undefined ? p.slice(2) : p).join('.') || undefined;
  throw new ConfigError(issue.message, file, table, field);
}

function buildTable(file: string, d: Defaults, t: TableEntry): TableMigrationConfig {
  const [database, table] = t.source.split('.');
  const pick = <K extends keyof Defaults>(k: K) => ({ ...(d[k] as object), ...(t[k] as object) });
  const cdc = pick('cdc') as Partial<TableMigrationConfig['cdc']>;
  const etl = pick('etl') as Partial<TableMigrationConfig['etl']>;
  const bf = pick('backfill') as { maxRowsPerSecond?: number; parallelism?: number; targetChunk?: number; maxLag?: number; maxLagMessages?: number };
  const soak = pick('soak') as { readStep?: number; shadowWrites?: number; flipWrites?: number };
  const source = cdc.source ?? 'builtin';
  if (source === 'dms' && !cdc.dms) throw new ConfigError('cdc.source is dms but cdc.dms (replication instance and endpoint ARNs) is missing', file, t.source, 'cdc.dms');
  const mapping = t.mapping ?? '';
  return {
    source: { database, table },
    mappingFile: path.resolve(path.dirname(file), mapping),
    createTarget: t.createTarget ?? d.createTarget ?? CONFIG_DEFAULTS.createTarget,
    cdc: { source, topic: cdc.topic ?? `cutover.${database}.${table}`, partitions: cdc.partitions ?? 6, ...(cdc.dms ? { dms: cdc.dms } : {}) },
    etl: { group: etl.group ?? `cutover-etl.${database}.${table}`, runner: etl.runner ?? CONFIG_DEFAULTS.etl.runner, consumers: etl.consumers ?? CONFIG_DEFAULTS.etl.consumers },
    backfill: { maxRowsPerSecond: bf.maxRowsPerSecond, parallelism: bf.parallelism ?? CONFIG_DEFAULTS.backfill.parallelism, targetChunkMs: bf.targetChunk ?? CONFIG_DEFAULTS.backfill.targetChunkMs,
      maxLagMs: bf.maxLag ?? CONFIG_DEFAULTS.backfill.maxLagMs,
      maxLagMessages: bf.maxLagMessages ?? CONFIG_DEFAULTS.backfill.maxLagMessages,
    },
    verify: { ...CONFIG_DEFAULTS.verify, ...(pick('verify') as object) } as TableMigrationConfig['verify'],
    readLadder: t.readLadder ?? d.readLadder ?? CONFIG_DEFAULTS.readLadder,
    soak: {
      readStepMs: soak.readStep ?? CONFIG_DEFAULTS.soak.readStepMs,
      shadowWritesMs: soak.shadowWrites ?? CONFIG_DEFAULTS.soak.shadowWritesMs,
      flipWritesMs: soak.flipWrites ?? CONFIG_DEFAULTS.soak.flipWritesMs,
    },
    gates: { ...CONFIG_DEFAULTS.gates, ...(pick('gates') as object) },
    thresholds: { ...CONFIG_DEFAULTS.thresholds, ...(pick('thresholds') as object) },
    shadowReadFraction: t.shadowReadFraction ?? d.shadowReadFraction ?? CONFIG_DEFAULTS.shadowReadFraction,
    barrierTimeoutMs: t.barrierTimeout ?? d.barrierTimeout ?? CONFIG_DEFAULTS.barrierTimeoutMs,
    fenceTimeoutMs: t.fenceTimeout ?? d.fenceTimeout ?? CONFIG_DEFAULTS.fenceTimeoutMs,
    drainQuietMs: t.drainQuiet ?? d.drainQuiet ?? CONFIG_DEFAULTS.drainQuietMs,
    monitorIntervalMs: t.monitorInterval ?? d.monitorInterval ?? CONFIG_DEFAULTS.monitorIntervalMs,
    sliceMs: t.slice ?? d.slice ?? CONFIG_DEFAULTS.sliceMs,
  };
}

/** Parses config text (from `file`, for messages and relative mapping paths) into a plan of table configs. */
export function parseMigrationConfig(text: string, file: string): MigrationPlanConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`not valid YAML: ${(err as Error).message}`, file);
  }
  const r = fileSchema.safeParse(raw);
  if (!r.success) fail(file, r.error.issues[0], (raw as { tables?: unknown })?.tables);
  const d = r.data.defaults ?? {};
  const tables = r.data.tables.map((t) => buildTable(file, d, t));
  const seen = new Set<string>();
  for (const t of tables) {
    const id = `${t.source.database}.${t.source.table}`;
    if (seen.has(id)) throw new ConfigError('listed twice', file, id, 'source');
    seen.add(id);
  }
  return { name: r.data.plan ?? path.basename(file).replace(/\.ya?ml$/, ''), concurrency: r.data.concurrency ?? 1, tables };
}

/** Reads and parses the config file at `file`. */
export function loadMigrationConfig(file: string): MigrationPlanConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read: ${(err as Error).message}`, file);
  }
  return parseMigrationConfig(text, path.resolve(file));
}
