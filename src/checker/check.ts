/**
 * The checker: from operation logs alone plus a final read of both stores, decides per key whether the final state
 * is one the acknowledged writes allow (./judge.ts), and whether the two stores agree. Independent of the code under
 * test: it imports nothing from src/pipeline, src/routing, src/workflows or src/activities.
 *
 * Guarantees: every key that appears in a log is judged in every configured store; a malformed log line or a
 * duplicate write token fails the whole check with the file and line (CheckerInputError) instead of a verdict.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Pool } from 'mysql2/promise';
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { CheckerInputError } from './errors';
import { buildHistories, type RequestTotals, type SourcedRecord } from './history';
import { judgeState, statesDisagree, type JudgeOptions, type ObservedState, type Violation, type WriteRef } from './judge';
import { opRecordSchema, type LogRow } from './log-format';
import { judgeRead, type ReadTotals } from './reads';
import { readDynamoStates, readMysqlStates, type DynamoTableRef, type MysqlTableRef } from './stores';

/** How the checker finds one logged table in the stores. */
export interface CheckedTable {
  /** The table name used in the logs. */
  readonly table: string;
  /** Column whose value is unique per write (e.g. "rev"). */
  readonly tokenColumn: string;
  readonly mysql?: MysqlTableRef;
  readonly dynamo?: DynamoTableRef;
}

/** What the checker reads: the tables (how to find them), the stores to read, and how strict to be. */
export interface CheckOptions {
  readonly tables: readonly CheckedTable[];
  readonly mysql?: Pool;
  readonly dynamo?: DynamoDBClient;
  /** Default 'unknown' (the keys held seed data the logs do not describe). */
  readonly initial?: JudgeOptions['initial'];
  /** Default true: MySQL and DynamoDB must hold the same state for every key. */
  readonly requireAgreement?: boolean;
  /** Default false: stale reads are counted but are not violations (expected while reads hit a lagging copy). */
  readonly failOnStaleReads?: boolean;
}

/** One key that failed, with what each store held and every violation found. */
export interface KeyViolations {
  readonly table: string;
  readonly key: LogRow;
  readonly states: Readonly<Record<string, ObservedState>>;
  readonly violations: readonly Violation[];
}

/** The verdict: `passed` is true exactly when no key has a violation; `keys` lists only failing keys. */
export interface CheckReport {
  readonly passed: boolean;
  readonly generatedAt: string;
  readonly logFiles: readonly string[];
  readonly stores: readonly string[];
  readonly totals: RequestTotals;
  readonly keysChecked: number;
  readonly keysWithViolations: number;
  readonly violationsByKind: Readonly<Record<Violation['kind'], number>>;
  /** Distinct acknowledged writes that some store's final state contradicts. */
  readonly lostWrites: number;
  /** Acknowledged reads judged (./reads.ts): stale ones saw an overwritten value, phantom ones an impossible one. */
  readonly reads: ReadTotals;
  readonly keys: readonly KeyViolations[];
}

/** Reads and validates every line of the given JSON Lines files. */
export async function* readOpLogs(files: readonly string[]): AsyncGenerator<SourcedRecord> {
  for (const file of files) {
    const rl = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
    let line = 0;
    for await (const text of rl) {
      line++;
      if (text.trim() === '') continue;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new CheckerInputError(`not JSON: ${(err as Error).message}`, file, line);
      }
      const parsed = opRecordSchema.safeParse(json);
      if (!parsed.success) throw new CheckerInputError(`not an operation record: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, file, line);
      yield { record: parsed.data, file, line };
    }
  }
}

/** Runs the whole check; `logFiles` are the JSON Lines operation logs of every application instance. */
export async function runCheck(logFiles: readonly string[], opts: CheckOptions): Promise<CheckReport> {
  const byName = new Map(opts.tables.map((t) => [t.table, t]));
  const records: SourcedRecord[] = [];
  for await (const r of readOpLogs(logFiles)) {
    if (!byName.has(r.record.table)) throw new CheckerInputError(`table "${r.record.table}" is not configured in the checker`, r.file, r.line);
    records.push(r);
  }
  const { tables, totals } = buildHistories(records, (t) => byName.get(t)!.tokenColumn);
  const judge: JudgeOptions = { initial: opts.initial ?? 'unknown' };
  const stores = [...(opts.mysql ? ['mysql'] : []), ...(opts.dynamo ? ['dynamodb'] : [])];
  const keys: KeyViolations[] = [];
  const lost = new Set<string>();
  const byKind: Record<Violation['kind'], number> = { 'lost-write': 0, 'resurrected-delete': 0, 'unknown-value': 0, 'stores-disagree': 0, 'phantom-read': 0, 'stale-read': 0 };
  const reads: ReadTotals = { checked: 0, stale: 0, phantom: 0 };
  let keysChecked = 0;

  for (const [table, histories] of tables) {
    const cfg = byName.get(table)!;
    const keyRows = [...histories.values()].map((h) => h.key);
    const states: Record<string, Map<string, ObservedState>> = {};
    if (opts.mysql && cfg.mysql) states.mysql = await readMysqlStates(opts.mysql, cfg.mysql, cfg.tokenColumn, keyRows);
    if (opts.dynamo && cfg.dynamo) states.dynamodb = await readDynamoStates(opts.dynamo, cfg.dynamo, keyRows);
    for (const [ks, h] of histories) {
      keysChecked++;
      const observed: Record<string, ObservedState> = {};
      const violations: Violation[] = [];
      for (const [store, m] of Object.entries(states)) {
        const s = m.get(ks)!;
        observed[store] = s;
        violations.push(...judgeState(h, s, store, judge));
      }
      if ((opts.requireAgreement ?? true) && observed.mysql && observed.dynamodb && statesDisagree(observed.mysql, observed.dynamodb)) {
        violations.push({ kind: 'stores-disagree', message: `mysql ${show(observed.mysql)} but dynamodb ${show(observed.dynamodb)}` });
      }
      for (const r of h.reads) {
        reads.checked++;
        const v = judgeRead(h, r, judge);
        if (v === 'ok') continue;
        reads[v]++;
        if (v === 'phantom' || opts.failOnStaleReads) {
          const saw = r.present ? `token ${JSON.stringify(r.token)}` : 'no row';
          violations.push({ kind: `${v}-read`, message: `read ${r.instance}#${r.op} [${r.start.toFixed(3)}, ${r.end.toFixed(3)}] saw ${saw}, which ${v === 'phantom' ? 'no write could have produced by then' : 'an acknowledged write had already replaced'}` });
        }
      }
      if (violations.length === 0) continue;
      for (const v of violations) {
        byKind[v.kind]++;
        for (const w of v.contradicts ?? []) lost.add(refId(w));
      }
      keys.push({ table, key: h.key, states: observed, violations });
    }
  }
  return {
    passed: keys.length === 0,
    generatedAt: new Date().toISOString(),
    logFiles,
    stores,
    totals,
    keysChecked,
    keysWithViolations: keys.length,
    violationsByKind: byKind,
    lostWrites: lost.size,
    reads,
    keys,
  };
}

function show(s: ObservedState): string {
  return s.present ? `holds token ${JSON.stringify(s.token)}` : 'holds no row';
}

function refId(w: WriteRef): string {
  return `${w.instance}#${w.op}`;
}
