/**
 * `npx tsx src/checker/main.ts --config checker.json --out DIR [--stores mysql,dynamodb] [--initial unknown|absent]
 * LOG...` (a LOG may be a directory of *.jsonl): runs the checker on operation logs against the live stores and writes
 * DIR/check.{json,md}. Exit status 0 when the check passed, 1 when it found violations, 2 on bad input.
 *
 * The config file is JSON: `{ "tables": [CheckedTable without itemToRow] }` (see ./check.ts and ./stores.ts).
 */
import { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { createDynamoClient } from '../infra/dynamodb';
import { loadStackEnv } from '../infra/env';
import { createMysqlPool } from '../infra/mysql';
import { runCheck, type CheckedTable } from './check';
import { CheckerInputError } from './errors';
import { checkReportMarkdown, writeCheckReport } from './report';

const ident = z.string().min(1);
/** The checker's JSON config file. */
export const checkerConfigSchema = z.strictObject({
  tables: z.array(z.strictObject({
    table: ident,
    tokenColumn: ident,
    mysql: z.strictObject({ database: ident.optional(), table: ident, keyColumns: z.array(ident).min(1) }).optional(),
    dynamo: z.strictObject({
      tableName: ident,
      key: z.array(z.strictObject({ attribute: ident, type: z.enum(['S', 'N', 'B']), template: ident })).min(1).max(2),
      tokenAttribute: ident,
      tombstoneAttribute: ident.optional(),
      attributes: z.record(ident, ident).optional(),
    }).optional(),
  })).min(1),
});

/** Reads and validates a checker config file. */
export function loadCheckerConfig(file: string): CheckedTable[] {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CheckerInputError(`cannot read checker config: ${(e as Error).message}`, file);
  }
  const r = checkerConfigSchema.safeParse(raw);
  if (!r.success) throw new CheckerInputError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), file);
  return r.data.tables;
}

/** Log files named by `args`: files as given, directories expanded to their *.jsonl files. */
export function expandLogArgs(args: readonly string[]): string[] {
  return args.flatMap((a) => (fs.statSync(a).isDirectory() ? fs.readdirSync(a).filter((f) => f.endsWith('.jsonl')).sort().map((f) => path.join(a, f)) : [a]));
}

async function main(): Promise<number> {
  const program = new Command()
    .name('checker')
    .argument('<logs...>', 'operation logs (files or directories of *.jsonl)')
    .requiredOption('--config <file>', 'checker config (JSON)')
    .requiredOption('--out <dir>', 'where check.json and check.md go')
    .option('--stores <list>', 'stores to read: mysql, dynamodb or both', 'mysql,dynamodb')
    .option('--initial <state>', 'what keys held before the logs: unknown or absent', 'unknown')
    .parse();
  const o = program.opts<{ config: string; out: string; stores: string; initial: string }>();
  if (o.initial !== 'unknown' && o.initial !== 'absent') throw new CheckerInputError(`--initial must be unknown or absent, not ${o.initial}`);
  const stores = o.stores.split(',').map((s) => s.trim());
  loadStackEnv();
  const mysql = stores.includes('mysql') ? createMysqlPool() : undefined;
  const dynamo = stores.includes('dynamodb') ? createDynamoClient() : undefined;
  try {
    const report = await runCheck(expandLogArgs(program.args), { tables: loadCheckerConfig(o.config), mysql, dynamo, initial: o.initial });
    writeCheckReport(report, o.out);
    process.stdout.write(checkReportMarkdown(report, 10));
    return report.passed ? 0 : 1;
  } finally {
    await mysql?.end();
    dynamo?.destroy();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err instanceof CheckerInputError ? err.message : err);
      process.exit(2);
    },
  );
}
