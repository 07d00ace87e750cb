/**
 * The plan workflow (id `plan:<name>`): migrates a list of tables as child table-migration workflows (ids
 * `migrate:<db>.<table>`, so a table is never migrated twice at once), at most `concurrency` at a time, in the
 * listed order. Pause, resume and abort fan out to the running children (and pause/abort stop new ones starting);
 * `planStatus` lists every table's state (the CLI adds each child's own status).
 */
import {
  condition,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { abortSignal, abortUpdate, CUTOVER_TABLE, pauseSignal, planStatusQuery, resumeSignal, type PlanStatus } from '../shared/messages';
import type { MigrationPlanConfig } from '../shared/migration-config';
import { migrationWorkflowId } from '../shared/task-queues';
import { tableMigrationWorkflow } from './table-migration';

type Entry = { -readonly [K in keyof PlanStatus['tables'][number]]: PlanStatus['tables'][number][K] };

/** What the plan returns: each table's final state. */
export interface PlanOutcome {
  readonly plan: string;
  readonly tables: readonly { readonly table: string; readonly state: Entry['state']; readonly error?: string }[];
}

/** Migrates the plan's tables; see the file comment. */
export async function migrationPlanWorkflow(plan: MigrationPlanConfig): Promise<PlanOutcome> {
  const entries: Entry[] = plan.tables.map((t) => ({
    table: `${t.source.database}.${t.source.table}`,
    workflowId: migrationWorkflowId(t.source.database, t.source.table),
    state: 'pending',
  }));
  let paused = false;
  let aborted = false;
  const running = () => entries.filter((e) => e.state === 'running');
  const fanOut = async (send: (id: string) => Promise<void>) => {
    await Promise.all(running().map((e) => send(e.workflowId).catch(() => undefined)));
  };

  setHandler(pauseSignal, (r) => {
    paused = true;
    void fanOut((id) => getExternalWorkflowHandle(id).signal(pauseSignal, { ...r, reason: `plan ${plan.name}: ${r?.reason ?? 'paused'}` }));
  });
  setHandler(resumeSignal, (r) => {
    paused = false;
    void fanOut((id) => getExternalWorkflowHandle(id).signal(resumeSignal, { ...r, reason: `plan ${plan.name}: ${r?.reason ?? 'resumed'}` }));
  });
  setHandler(abortUpdate, (r) => {
    aborted = true;
    void fanOut((id) => getExternalWorkflowHandle(id).signal(abortSignal, { ...r, reason: `plan ${plan.name}: ${r?.reason ?? 'aborted'}` }));
    return { accepted: true, phase: 'aborted' };
  });
  setHandler(planStatusQuery, () => ({ plan: plan.name, concurrency: plan.concurrency, paused, aborted, tables: entries.map((e) => ({ ...e })) }));

  const children: Promise<void>[] = [];
  for (let i = 0; i < plan.tables.length; i++) {
    await condition(() => aborted || (!paused && running().length < plan.concurrency));
    if (aborted) break;
    const entry = entries[i];
    const config = plan.tables[i];
    entry.state = 'running';
    const child = await startChild(tableMigrationWorkflow, {
      workflowId: entry.workflowId,
      args: [{ config }],
      taskQueue: workflowInfo().taskQueue,
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [{ key: CUTOVER_TABLE, value: entry.table }],
      staticSummary: `migrate ${entry.table} (plan ${plan.name})`,
    });
    children.push(
      child.result().then(
        (out) => {
          entry.state = out.phase === 'complete' ? 'complete' : out.phase === 'aborted' ? 'aborted' : 'failed';
        },
        (err: unknown) => {
          entry.state = 'failed';
          entry.error = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
        },
      ),
    );
  }
  for (const e of entries) if (e.state === 'pending') e.state = 'aborted';
  await Promise.all(children);
  return { plan: plan.name, tables: entries.map((e) => ({ table: e.table, state: e.state, error: e.error })) };
}
