/**
 * A pause that reaches a verification as it finishes (the activity completes its last chunk instead of stopping) keeps
 * the finished result: on resume the workflow judges it (patch 'keep-finished-verify') instead of verifying the whole
 * table again. A pause during the ETL catch-up after a repair still leads to a fresh verification on resume (the
 * repaired run is never judged twice).
 */
import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { MigrationActivities, VerifyProgress } from '../../src/shared/activity-contract';
import { pauseSignal, resumeSignal } from '../../src/shared/messages';
import { workflowBundle } from '../../src/workers/bundle';
import { tableMigrationWorkflow } from '../../src/workflows';
import { uniqueName } from '../support/ids';
import { createEnv, FakeActivities, testConfig, waitForStatus } from './support/harness';

describe('table-migration workflow: a pause as verification finishes', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createEnv();
  });
  afterAll(() => env?.teardown());

  async function workerWith(fake: FakeActivities, verify: (n: number) => Promise<VerifyProgress>, extra: Partial<MigrationActivities> = {}): Promise<{ worker: Worker; taskQueue: string; calls: () => number }> {
    let calls = 0;
    const taskQueue = uniqueName('wf-verify-pause');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: { ...fake.activities(), ...extra, verify: () => verify(++calls) },
      maxHeartbeatThrottleInterval: '50 milliseconds',
      defaultHeartbeatThrottleInterval: '50 milliseconds',
    });
    return { worker, taskQueue, calls: () => calls };
  }

  const progress = (missing: number): VerifyProgress => ({ done: true, cursor: 'cursor-ref:v1:verify:9', rowsCompared: 1000, missing, extra: 0, different: 0, reportPath: '/tmp/r.json', stoppedBy: 'done' });

  /** Heartbeats until the workflow's cancellation arrives (the pause), then reports a finished run anyway. */
  async function finishesAsCancelled(missing: number): Promise<VerifyProgress> {
    const ctx = Context.current();
    fake.busy += 1;
    try {
      while (!ctx.cancellationSignal.aborted) {
        ctx.heartbeat();
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      fake.busy -= 1;
    }
    return progress(missing);
  }
  let fake: FakeActivities;

  it('judges the finished run on resume instead of verifying again', async () => {
    fake = new FakeActivities();
    const { worker, taskQueue, calls } = await workerWith(fake, () => finishesAsCancelled(0));
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config: testConfig(uniqueName('t')) }] });
      await waitForStatus(env, handle, (s) => s.phase === 'verify' && calls() === 1, 'verify running', 200, 400, fake);
      await handle.signal(pauseSignal, { by: 'test' });
      await waitForStatus(env, handle, (s) => s.paused && s.verification?.done === true, 'paused with a finished verification', 200, 400, fake);
      await handle.signal(resumeSignal, { by: 'test' });
      const s = await waitForStatus(env, handle, (st) => st.phase === 'read-cutover', 'read-cutover', 200, 400, fake);
      expect(s.verification).toMatchObject({ done: true, passed: true, rowsCompared: 1000 });
      expect(calls()).toBe(1);
      await handle.terminate('test done');
    });
  });

  it('verifies again after a pause during the catch-up that follows a repair', async () => {
    fake = new FakeActivities();
    let catchUps = 0;
    const real = fake.activities().awaitEtlCatchUp;
    // The catch-up after the repair (the second) waits until the pause cancels it.
    const awaitEtlCatchUp: MigrationActivities['awaitEtlCatchUp'] = async (input) => {
      if (++catchUps !== 2) return real(input);
      await finishesAsCancelled(0);
      return { caughtUp: false, throughPosition: '0-1-50', lagEvents: 5, stoppedBy: 'cancelled' };
    };
    const { worker, taskQueue, calls } = await workerWith(fake, async (n) => progress(n === 1 ? 3 : 0), { awaitEtlCatchUp });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config: testConfig(uniqueName('t')) }] });
      await waitForStatus(env, handle, () => catchUps === 2 && fake.busy > 0, 'catch-up after the repair running', 200, 400, fake);
      expect(fake.count('repair')).toBe(1);
      await handle.signal(pauseSignal, { by: 'test' });
      await waitForStatus(env, handle, (s) => s.paused && fake.busy === 0, 'paused', 200, 400, fake);
      await handle.signal(resumeSignal, { by: 'test' });
      const s = await waitForStatus(env, handle, (st) => st.phase === 'read-cutover', 'read-cutover', 200, 400, fake);
      expect(calls()).toBe(2);
      expect(fake.count('repair')).toBe(1);
      expect(s.verification).toMatchObject({ done: true, passed: true, missing: 0 });
      await handle.terminate('test done');
    });
  });
});
