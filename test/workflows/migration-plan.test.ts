/** The plan workflow: children with a concurrency limit, aggregated status, pause/resume and abort fan-out. */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { abortUpdate, pauseSignal, planStatusQuery, resumeSignal, statusQuery } from '../../src/shared/messages';
import { migrationWorkflowId } from '../../src/shared/task-queues';
import { migrationPlanWorkflow } from '../../src/workflows';
import { uniqueName } from '../support/ids';
import { createEnv, FakeActivities, makeWorker, testConfig } from './support/harness';

describe('migration-plan workflow', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createEnv();
  });
  afterAll(() => env?.teardown());

  async function until(cond: () => Promise<boolean>, what: string, fake?: FakeActivities): Promise<void> {
    for (let i = 0; i < 400; i++) {
      if (await cond()) return;
      if (fake && fake.busy > 0) await new Promise((r) => setTimeout(r, 50));
      else await env.sleep(1_000);
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  it('runs at most `concurrency` children at a time and completes every table', async () => {
    const fake = new FakeActivities();
    const { worker, taskQueue } = await makeWorker(env, fake);
    const tables = [uniqueName('a'), uniqueName('b'), uniqueName('c')].map((t) => testConfig(t));
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(migrationPlanWorkflow, { taskQueue, workflowId: uniqueName('plan'), args: [{ name: 'p1', concurrency: 2, tables }] });
      let maxRunning = 0;
      let states: string[] = [];
      await until(async () => {
        const st = await handle.query(planStatusQuery);
        states = st.tables.map((t) => t.state);
        maxRunning = Math.max(maxRunning, states.filter((x) => x === 'running').length);
        return states.every((x) => x !== 'pending' && x !== 'running');
      }, 'every table done');
      const out = await handle.result();
      expect(out.tables.map((t) => t.state)).toEqual(['complete', 'complete', 'complete']);
      expect(maxRunning).toBeLessThanOrEqual(2);
      expect(fake.count('preflight')).toBe(3);
    });
  });

  it('fans pause, resume and abort out to its running children and starts no new ones', async () => {
    const fake = new FakeActivities();
    fake.hold('runBackfill');
    const { worker, taskQueue } = await makeWorker(env, fake);
    const tables = [uniqueName('a'), uniqueName('b'), uniqueName('c')].map((t) => testConfig(t));
    const ids = tables.map((t) => migrationWorkflowId(t.source.database, t.source.table));
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(migrationPlanWorkflow, { taskQueue, workflowId: uniqueName('plan'), args: [{ name: 'p2', concurrency: 2, tables }] });
      await until(async () => fake.count('runBackfill') >= 2, 'two children backfilling', fake);
      await handle.signal(pauseSignal, { by: 'ops' });
      await until(async () => (await Promise.all(ids.slice(0, 2).map((id) => env.client.workflow.getHandle(id).query(statusQuery)))).every((s) => s.paused), 'children paused', fake);
      expect((await handle.query(planStatusQuery)).paused).toBe(true);
      await handle.signal(resumeSignal, { by: 'ops' });
      await until(async () => (await Promise.all(ids.slice(0, 2).map((id) => env.client.workflow.getHandle(id).query(statusQuery)))).every((s) => !s.paused), 'children resumed', fake);
      await handle.executeUpdate(abortUpdate, { args: [{ by: 'ops', reason: 'change of plan' }] });
      const out = await handle.result();
      expect(out.tables.map((t) => t.state)).toEqual(['aborted', 'aborted', 'aborted']);
      expect(fake.count('preflight')).toBe(2); // the third table never started
      expect(fake.count('abortCleanup')).toBe(2);
    });
  });
});
