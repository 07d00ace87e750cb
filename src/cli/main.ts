/**
 * `cutover`: the operator's command line. Every command talks to Temporal only (start, signal, update, query), so it
 * is exactly equivalent to the `temporal workflow …` commands shown in the README. `--json` prints machine-readable
 * output. Exit codes: 0 ok, 1 error, 2 refused by the workflow (the reason is printed), 3 no such migration.
 */
import { Command, Option } from 'commander';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { loadStackEnv, serviceEnv } from '../infra/env';
import { assertServicesReady, EnvironmentNotReadyError, type ServiceName } from '../infra/reachability';
import { createTemporalClient } from '../infra/temporal';
import { ConfigError } from '../shared/errors';
import {
  abortUpdate, approveSignal, CUTOVER_PHASE, CUTOVER_TABLE, pauseSignal, planStatusQuery, resumeSignal, rollbackUpdate,
  setReadPercentUpdate, statusQuery, type MigrationStatus,
} from '../shared/messages';
import { ROLLBACK_TARGETS, type RollbackTarget } from '../shared/phases';
import { migrationWorkflowId, planWorkflowId, TASK_QUEUE } from '../shared/task-queues';
import { loadMigrationConfig } from './config';
import { describeStatus, StatusBars } from './render';

class CliError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

interface Globals { json?: boolean; by?: string }

function out(g: Globals, human: string, data: unknown): void {
  console.log(g.json ? JSON.stringify(data, null, 2) : human);
}

function tableId(spec: string): { id: string; table: string } {
  const m = /^([^.\s]+)\.([^.\s]+)$/.exec(spec);
  if (!m) throw new CliError(`--table must be database.table, got "${spec}"`, 1);
  return { id: migrationWorkflowId(m[1], m[2]), table: spec };
}

function uiLink(workflowId: string): string {
  const env = serviceEnv();
  return `${env.temporalUi}/namespaces/${env.temporalNamespace}/workflows/${encodeURIComponent(workflowId)}`;
}

/** Throws the operator's message for a migration that has ended (exit 3); resolves if it runs or is unknown. */
async function assertRunning(client: Client, id: string): Promise<void> {
  const d = await client.workflow.getHandle(id).describe().catch(() => undefined);
  if (!d || d.status.name === 'RUNNING') return;
  const phase = d.typedSearchAttributes.get(CUTOVER_PHASE) ?? 'unknown';
  const closed = d.closeTime ? ` at ${d.closeTime.toISOString()}` : '';
  throw new CliError(`migration ${id} has finished: ${d.status.name.toLowerCase()} in phase ${phase}${closed}; it takes no more requests (see ${uiLink(id)})`, 3);
}

/**
 * Translates Temporal's errors into messages an operator can act on. A request to a migration that has ended says so
 * (its final status, phase and close time, from the workflow's description) instead of Temporal's raw message; one
 * that never started says that.
 */
async function explain(err: unknown, target: string, client?: Client): Promise<never> {
  if (err instanceof CliError) throw err;
  if (err instanceof WorkflowNotFoundError || (err instanceof Error && /not found|already completed/i.test(err.message))) {
    if (client) await assertRunning(client, target);
    throw new CliError(`no running migration ${target} (it was never started, or it has ended: see cutover status --table or the UI)`, 3);
  }
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure && cause.type === 'TransitionRefusedError') throw new CliError(`refused: ${cause.message}`, 2);
    throw new CliError(`the workflow rejected the request: ${cause?.message ?? err.message}`, 2);
  }
  throw err;
}

/**
 * Every command connects through here: Temporal (and, when starting migrations, the services the workers will use)
 * must answer within seconds, else the command fails with one error naming the service, endpoint and setting.
 */
async function withClient<T>(fn: (c: Client) => Promise<T>, alsoCheck: readonly ServiceName[] = []): Promise<T> {
  await assertServicesReady(['temporal', ...alsoCheck]);
  const client = await createTemporalClient();
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

async function statuses(client: Client, table?: string): Promise<MigrationStatus[]> {
  const ids: string[] = [];
  if (table) ids.push(tableId(table).id);
  else for await (const w of client.workflow.list({ query: `WorkflowType = 'tableMigrationWorkflow' AND ExecutionStatus = 'Running'` })) ids.push(w.workflowId);
  const all = await Promise.all(ids.map((id) => client.workflow.getHandle(id).query(statusQuery).catch((err: unknown) => explain(err, id, client))));
  return all.sort((a, b) => a.table.localeCompare(b.table));
}

/** What `start` checks besides Temporal: the services the migration will use (as seen from this machine). */
function envServices(check: boolean, dms: boolean): ServiceName[] {
  return check ? ['mysql', 'kafka', 'dynamodb', ...(dms ? (['dms'] as const) : [])] : [];
}

function program(): Command {
  const cli = new Command('cutover').description('zero-downtime MySQL → DynamoDB table migrations').showHelpAfterError();
  cli.option('--json', 'machine-readable output').option('--by <name>', 'who is acting (recorded in the migration history)', process.env.USER);
  const g = (): Globals => cli.opts<Globals>();
  const by = () => g().by;

  cli.command('start').description('start the migration of every table in the config (or one)')
    .requiredOption('-c, --config <file>', 'migration config (YAML)').option('-t, --table <db.table>', 'only this table')
    .option('--no-env-check', 'skip checking MySQL, Kafka and DynamoDB from this machine (the workers\' preflight still checks)')
    .action(async (o: { config: string; table?: string; envCheck: boolean }) => {
      const plan = loadMigrationConfig(o.config);
      const tables = plan.tables.filter((t) => !o.table || `${t.source.database}.${t.source.table}` === o.table);
      if (!tables.length) throw new CliError(`table ${o.table} is not in ${o.config}`, 1);
      await withClient(async (client) => {
        const started = [];
        for (const config of tables) {
          const label = `${config.source.database}.${config.source.table}`;
          const workflowId = migrationWorkflowId(config.source.database, config.source.table);
          try {
            await client.workflow.start('tableMigrationWorkflow', {
              taskQueue: TASK_QUEUE, workflowId, args: [{ config }],
              typedSearchAttributes: [{ key: CUTOVER_TABLE, value: label }, { key: CUTOVER_PHASE, value: 'preflight' }],
              staticSummary: `migrate ${label}`,
            });
          } catch (err) {
            if (err instanceof WorkflowExecutionAlreadyStartedError) throw new CliError(`a migration of ${label} is already running (${workflowId}): see cutover status --table ${label}`, 1);
            throw err;
          }
          started.push({ table: label, workflowId, ui: uiLink(workflowId) });
        }
        out(g(), started.map((s) => `started ${s.table}: ${s.workflowId}\n  history: ${s.ui}`).join('\n'), started);
      }, envServices(o.envCheck, tables.some((t) => t.cdc.source === 'dms')));
    });

  const plan = cli.command('plan').description('migrate several tables as one plan');
  plan.command('start').requiredOption('-c, --config <file>', 'migration config (YAML)')
    .option('--no-env-check', 'skip checking MySQL, Kafka and DynamoDB from this machine (the workers\' preflight still checks)')
    .action(async (o: { config: string; envCheck: boolean }) => {
    const p = loadMigrationConfig(o.config);
    await withClient(async (client) => {
      const workflowId = planWorkflowId(p.name);
      try {
        await client.workflow.start('migrationPlanWorkflow', { taskQueue: TASK_QUEUE, workflowId, args: [p], staticSummary: `plan ${p.name}: ${p.tables.length} tables, ${p.concurrency} at a time` });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) throw new CliError(`plan ${p.name} is already running (${workflowId})`, 1);
        throw err;
      }
      out(g(), `started plan ${p.name} (${p.tables.length} tables, ${p.concurrency} at a time): ${workflowId}\n  history: ${uiLink(workflowId)}`, { plan: p.name, workflowId });
    }, envServices(o.envCheck, p.tables.some((t) => t.cdc.source === 'dms')));
  });
  plan.command('status').requiredOption('--plan <name>', 'plan name').action(async (o: { plan: string }) => {
    await withClient(async (client) => {
      const id = planWorkflowId(o.plan);
      const s = await client.workflow.getHandle(id).query(planStatusQuery).catch((err: unknown) => explain(err, id, client));
      out(g(), [`plan ${s.plan}${s.paused ? ' (PAUSED)' : ''}${s.aborted ? ' (ABORTED)' : ''}`, ...s.tables.map((t) => `  ${t.table.padEnd(30)} ${t.state}${t.error ? `: ${t.error}` : ''}`)].join('\n'), s);
    });
  });

  cli.command('status').description('phase, modes, progress, lag and waiting gates of one or every running migration')
    .option('-t, --table <db.table>').option('-w, --watch', 'refresh with progress bars until interrupted').option('--interval <seconds>', 'watch refresh', '2')
    .action(async (o: { table?: string; watch?: boolean; interval: string }) => {
      await withClient(async (client) => {
        if (!o.watch) {
          const all = await statuses(client, o.table);
          out(g(), all.length ? all.map(describeStatus).join('\n\n') : 'no running migrations', all);
          return;
        }
        const bars = new StatusBars();
        let stop = false;
        process.once('SIGINT', () => (stop = true));
        while (!stop) {
          const all = await statuses(client, o.table);
          if (g().json) console.log(JSON.stringify(all));
          else bars.update(all);
          await new Promise((r) => setTimeout(r, Number(o.interval) * 1000));
        }
        bars.stop();
      });
    });

  const target = (c: Command) => c.option('-t, --table <db.table>', 'the migration').option('--plan <name>', 'a plan (pause/resume/abort fan out to its tables)').option('-r, --reason <text>', 'why (recorded)');
  const handleOf = (client: Client, o: { table?: string; plan?: string }) => {
    if (o.plan) return { id: planWorkflowId(o.plan), h: client.workflow.getHandle(planWorkflowId(o.plan)) };
    if (!o.table) throw new CliError('give --table database.table (or --plan name)', 1);
    const { id } = tableId(o.table);
    return { id, h: client.workflow.getHandle(id) };
  };

  target(cli.command('pause').description('pause: long work stops within one chunk, no flag changes until resume'))
    .option('--etl', 'also stop the ETL consumers (only while nothing is served from DynamoDB)')
    .action(async (o: { table?: string; plan?: string; reason?: string; etl?: boolean }) => withClient(async (client) => {
      const { id, h } = handleOf(client, o);
      await h.signal(pauseSignal, { by: by(), reason: o.reason, etl: o.etl }).catch((err: unknown) => explain(err, id, client));
      out(g(), `pause sent to ${id}`, { workflowId: id, signal: 'pause' });
    }));
  target(cli.command('resume')).action(async (o: { table?: string; plan?: string; reason?: string }) => withClient(async (client) => {
    const { id, h } = handleOf(client, o);
    await h.signal(resumeSignal, { by: by(), reason: o.reason }).catch((err: unknown) => explain(err, id, client));
    out(g(), `resume sent to ${id}`, { workflowId: id, signal: 'resume' });
  }));
  target(cli.command('approve').description('approve the gate the migration waits on (or retry a failed step)'))
    .option('-g, --gate <name>', 'only if it waits on this gate (see status)')
    .action(async (o: { table?: string; reason?: string; gate?: string }) => withClient(async (client) => {
      const { id, h } = handleOf(client, { table: o.table });
      await assertRunning(client, id);
      const s = await h.query(statusQuery).catch((err: unknown) => explain(err, id, client));
      if (!s.awaiting && !s.etlProblem) throw new CliError(`${s.table} is not waiting for approval (phase ${s.phase})`, 2);
      await h.signal(approveSignal, { by: by(), reason: o.reason, gate: o.gate });
      const gate = o.gate ?? (s.etlProblem ? 'etl' : s.awaiting?.gate);
      out(g(), `approved ${gate} on ${s.table}`, { workflowId: id, gate });
    }));
  target(cli.command('abort').description('route back to MySQL, stop CDC, remove what the migration created (source untouched)'))
    .option('--drop-target', 'also drop the target table if this migration created it')
    .action(async (o: { table?: string; plan?: string; reason?: string; dropTarget?: boolean }) => withClient(async (client) => {
      const { id, h } = handleOf(client, o);
      const r = await h.executeUpdate(abortUpdate, { args: [{ by: by(), reason: o.reason, dropTarget: o.dropTarget }] }).catch((err: unknown) => explain(err, id, client));
      out(g(), `abort accepted by ${id} (was in ${r.phase}); follow it with cutover status`, r);
    }));
  target(cli.command('rollback').description('roll back to an earlier phase (writes reversed before reads)'))
    .addOption(new Option('--to <phase>', 'target phase').choices([...ROLLBACK_TARGETS]).makeOptionMandatory())
    .action(async (o: { table?: string; to: RollbackTarget; reason?: string }) => withClient(async (client) => {
      const { id, h } = handleOf(client, { table: o.table });
      const r = await h.executeUpdate(rollbackUpdate, { args: [{ to: o.to, by: by(), reason: o.reason }] }).catch((err: unknown) => explain(err, id, client));
      out(g(), `rolled back ${id} from ${r.from} to ${r.to}: reads ${r.readPercent}%, writes ${r.writeMode} (flags v${r.flagVersion})`, r);
    }));
  target(cli.command('read-percent').description('set the share of reads served by DynamoDB during the read cut-over').argument('<percent>'))
    .action(async (percent: string, o: { table?: string; reason?: string }) => withClient(async (client) => {
      const { id, h } = handleOf(client, { table: o.table });
      const n = Number(percent);
      if (!Number.isFinite(n)) throw new CliError(`not a number: ${percent}`, 1);
      const r = await h.executeUpdate(setReadPercentUpdate, { args: [{ percent: n, by: by(), reason: o.reason }] }).catch((err: unknown) => explain(err, id, client));
      out(g(), `${id}: ${r.readPercent}% of reads now served by DynamoDB (flags v${r.flagVersion})`, r);
    }));
  return cli;
}

/** Runs the CLI with `argv`; resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  loadStackEnv();
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`cutover: ${err.message}`);
      return err.code;
    }
    if (err instanceof EnvironmentNotReadyError) {
      console.error(`cutover: nothing was started: ${err.message}`);
      return 1;
    }
    if (err instanceof ConfigError) {
      console.error(`cutover: config error: ${err.message}`);
      return 1;
    }
    console.error(`cutover: ${(err as Error)?.stack ?? String(err)}`);
    return 1;
  }
}

if (require.main === module) {
  void run(process.argv).then((code) => process.exit(code));
}
