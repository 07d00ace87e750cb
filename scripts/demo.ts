/**
 * `npm run demo [-- options]`: seeds the sample schema, runs live application load through the routing layer,
 * migrates every sample table under that load (demo plan, automatic gates, short soaks, in-process worker), checks
 * every acknowledged write with the independent checker and writes reports/demo-<time>/report.{md,json,png}
 * (scripts/demo/run.ts).
 *
 * --no-migrate runs the load against the source only (the report says so; verdict INCOMPLETE). Exit status 1 unless
 * the verdict is PASSED (a failed request, a lost write, a failed check or a migration that did not complete).
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Command, InvalidArgumentError } from 'commander';
import * as path from 'node:path';
import { loadStackEnv, serviceEnv } from '../src/infra/env';
import type { Mix } from '../src/loadgen/generator';
import { runDemo } from './demo/run';

function positive(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(n > 0)) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

/** "read=4,insert=2,update=3,delete=1" → Mix. */
function parseMix(v: string): Mix {
  const mix: Record<string, number> = { read: 0, insert: 0, update: 0, delete: 0 };
  for (const part of v.split(',')) {
    const [k, n] = part.split('=');
    if (!(k in mix) || !(Number(n) >= 0)) throw new InvalidArgumentError(`bad mix entry "${part}" (want read=N,insert=N,update=N,delete=N)`);
    mix[k] = Number(n);
  }
  return mix as Mix;
}

async function main(): Promise<void> {
  const opts = new Command()
    .name('demo')
    .option('--rows <n>', 'rows to seed over all tables', positive('--rows'), 100_000)
    .option('--instances <n>', 'application instances', positive('--instances'), 3)
    .option('--rate <n>', 'requests per second per instance', positive('--rate'), 50)
    .option('--duration <s>', 'seconds of load with --no-migrate (a migrating run loads until the migration ends)', positive('--duration'), 60)
    .option('--mix <mix>', 'request mix', parseMix, { read: 5, insert: 2, update: 2, delete: 1 })
    .option('--via <store>', 'routing (MigratingTable, the default) or mysql (direct statements, the app before cutover)')
    .option('--no-migrate', 'only run the load against the source (no migration)')
    .option('--soak <s>', 'seconds each automatic gate soaks', positive('--soak'), 5)
    .option('--timeout <s>', 'longest the migration may take', positive('--timeout'), 900)
    .option('--after <s>', 'seconds of load after the migration finished', positive('--after'), 5)
    .option('--out <dir>', 'report directory (default reports/demo-<time>)')
    .option('--check-dynamo', 'also check DynamoDB (after a migration copied the tables)', false)
    .parse()
    .opts<{ rows: number; instances: number; rate: number; duration: number; mix: Mix; via?: string; migrate: boolean; soak: number; timeout: number; after: number; out?: string; checkDynamo: boolean }>();
  const via = opts.via ?? 'routing';
  if (via !== 'mysql' && via !== 'routing') throw new InvalidArgumentError('--via must be mysql or routing');
  loadStackEnv();
  // The in-process worker's state changes would scroll the progress bars away; its warnings and errors still show.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const outDir = opts.out ?? path.join(process.cwd(), 'reports', `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  console.log(`Temporal UI: ${serviceEnv().temporalUi}`);
  const r = await runDemo({
    rows: Math.round(opts.rows),
    instances: Math.round(opts.instances),
    ratePerInstance: opts.rate,
    durationS: opts.duration,
    mix: opts.mix,
    via,
    outDir,
    migrate: opts.migrate ? { soakS: opts.soak, timeoutS: opts.timeout, afterS: opts.after } : undefined,
    checkDynamo: opts.checkDynamo,
    progress: true,
    temporalUi: serviceEnv().temporalUi,
  });
  console.log(`\n${r.verdict}: ${path.relative(process.cwd(), r.files.markdown)} (chart ${path.relative(process.cwd(), r.files.png)}, checker ${path.relative(process.cwd(), r.files.check)})`);
  if (r.verdict === 'FAILED' || (opts.migrate && r.verdict !== 'PASSED')) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
