/**
 * Pause and resume in every phase of one migration: while paused nothing moves (no flag change, no phase change,
 * however long it stays paused), a running long activity is cancelled within one chunk and its progress kept, and
 * resume continues from where it stopped.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { approveSignal, pauseSignal, resumeSignal, statusQuery, type MigrationStatus } from '../../src/shared/messages';
import type { Phase } from '../../src/shared/phases';
import { tableMigrationWorkflow } from '../../src/workflows';
import { uniqueName } from '../support/ids';
import { createEnv, FakeActivities, makeWorker, testConfig, waitForStatus } from './support/harness';

describe('table-migration workflow: pause and resume in every phase', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createEnv();
  });
  afterAll(() => env?.teardown());

  it('holds every phase while paused and resumes where it stopped', async () => {
    const fake = new FakeActivities({ rowsTotal: 1000, rowsPerChunk: 100, chunksPerSlice: 10, holdAtRows: 300 });
    fake.failing.set('preflight', 'PreflightError');
    const { worker, taskQueue } = await makeWorker(env, fake);
    const config = testConfig(uniqueName('t'), {
      readLadder: [50, 100],
      soak: { readStepMs: 60_000, shadowWritesMs: 60_000, flipWritesMs: 60_000 },
      gates: { reads: 'auto', readSteps: 'auto', shadowWrites: 'auto', flipWrites: 'auto', dynamoOnly: 'manual' },
    });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config }] });
      const seen: Phase[] = [];

      /** Pauses, checks that nothing moves for 5 (test) minutes, runs `whilePaused`, resumes. */
      async function pauseHere(phase: Phase, whilePaused: () => void = () => undefined): Promise<void> {
        await handle.signal(pauseSignal, { by: 'test', reason: `pause in ${phase}` });
        const s = await waitForStatus(env, handle, (st) => st.paused, `paused in ${phase}`, 200);
        expect(s.phase).toBe(phase);
        const flags = fake.flags.length;
        await env.sleep(300_000);
        const after = await handle.query(statusQuery);
        expect(after.phase).toBe(phase);
        expect(after.paused).toBe(true);
        expect(fake.flags.length).toBe(flags);
        whilePaused();
        await handle.signal(resumeSignal, { by: 'test' });
        await waitForStatus(env, handle, (st) => !st.paused, `resumed in ${phase}`, 200);
        seen.push(phase);
      }
      const at = (phase: Phase, extra: (s: MigrationStatus) => boolean = () => true) =>
        waitForStatus(env, handle, (st) => st.phase === phase && extra(st), phase, 1_000);

      await at('preflight', (s) => s.awaiting !== null);
      await pauseHere('preflight', () => {
        fake.failing.delete('preflight');
        fake.failing.set('startCdc', 'TransientError');
      });
      await at('start-cdc', (s) => s.awaiting !== null);
      await pauseHere('start-cdc', () => fake.failing.delete('startCdc'));

      await at('backfill', () => fake.count('runBackfill') > 0);
      await pauseHere('backfill', () => {
        fake.opts.holdAtRows = Infinity;
        fake.hold('awaitEtlCatchUp');
      });
      // the paused slice reported its cursor; the next slice started from it
      await at('catch-up', () => fake.count('awaitEtlCatchUp') > 0);
      const slices = fake.calls.filter((c) => c.name === 'runBackfill').map((c) => (c.input as { rowsCopiedBefore: number; cursor: string | null }));
      expect(slices).toEqual([{ ...slices[0], rowsCopiedBefore: 0, cursor: null }, { ...slices[1], rowsCopiedBefore: 300, cursor: '300' }]);

      await pauseHere('catch-up', () => {
        fake.release('awaitEtlCatchUp');
        fake.hold('verify');
      });
      await at('verify', () => fake.count('verify') > 0);
      await pauseHere('verify', () => fake.release('verify'));
      const verifies = fake.calls.filter((c) => c.name === 'verify').map((c) => c.input as { mode: string; cursor: string | null });
      await at('read-cutover');
      expect(verifies[0]).toMatchObject({ mode: 'full', cursor: null });
      expect(fake.calls.filter((c) => c.name === 'verify').map((c) => c.input)[1]).toMatchObject({ mode: 'resume', cursor: '500' });

      await at('read-cutover', (s) => s.readPercent === 50);
      await pauseHere('read-cutover');
      await at('shadow-writes', (s) => s.writeMode === 'mysql-primary');
      await pauseHere('shadow-writes');
      await at('flip-writes', (s) => s.writeMode === 'dynamo-primary');
      await pauseHere('flip-writes');
      await at('dynamo-only', (s) => s.awaiting?.gate === 'dynamo-only');
      fake.hold('drainCdc');
      await pauseHere('dynamo-only');
      await at('dynamo-only', (s) => s.awaiting?.gate === 'dynamo-only');
      await handle.signal(approveSignal, { gate: 'dynamo-only' });
      await at('drain-cdc', () => fake.count('drainCdc') > 0);
      await pauseHere('drain-cdc', () => {
        fake.hold('awaitEtlCatchUp');
        fake.release('drainCdc');
      });
      await at('stop-cdc', () => fake.count('stopCdc') > 0);
      await pauseHere('stop-cdc', () => fake.release('awaitEtlCatchUp'));
      expect((await handle.result()).phase).toBe('complete');
      expect(seen).toEqual(['preflight', 'start-cdc', 'backfill', 'catch-up', 'verify', 'read-cutover', 'shadow-writes', 'flip-writes', 'dynamo-only', 'drain-cdc', 'stop-cdc']);
      const s = await handle.query(statusQuery);
      expect(s.transitions.filter((t) => t.kind === 'operator' && t.cause.startsWith('pause')).length).toBe(11);
    });
  });

  it('pauses the workflow-run ETL consumers within one batch only while nothing is served from DynamoDB', async () => {
    const fake = new FakeActivities();
    fake.hold('runBackfill');
    const { worker, taskQueue } = await makeWorker(env, fake);
    const config = testConfig(uniqueName('t'), { etl: { group: 'g', runner: 'workflow', consumers: 2 } });
    await worker.runUntil(async () => {
      const handle: WorkflowHandle<typeof tableMigrationWorkflow> = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config }] });
      await waitForStatus(env, handle, () => fake.count('runEtl') === 2 && fake.count('runBackfill') === 1, 'two ETL consumers running', 200);
      await handle.signal(pauseSignal, { etl: true, by: 'test' });
      const s = await waitForStatus(env, handle, (st) => st.paused && st.etlPaused, 'ETL paused', 200);
      expect(s.phase).toBe('backfill');
      await new Promise((r) => setTimeout(r, 500));
      expect(fake.count('runEtl')).toBe(2); // cancelled, not restarted
      await handle.signal(resumeSignal, {});
      await waitForStatus(env, handle, () => fake.count('runEtl') === 4, 'ETL consumers restarted', 200);
      await handle.terminate('test done');
    });
  });
});
