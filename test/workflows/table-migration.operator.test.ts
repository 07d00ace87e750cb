/**
 * Operator requests the workflow refuses (with a reason) or carries out besides pause and rollback: abort (before
 * any flag change and from a DynamoDB-primary mode), setReadPercent, and refusals once MySQL stopped receiving writes.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { abortUpdate, approveSignal, rollbackUpdate, setReadPercentUpdate, statusQuery } from '../../src/shared/messages';
import { tableMigrationWorkflow } from '../../src/workflows';
import { uniqueName } from '../support/ids';
import { createEnv, FakeActivities, makeWorker, testConfig, waitForStatus } from './support/harness';

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause as { type?: string; message: string };
    expect(cause.type).toBe('TransitionRefusedError');
    return cause.message;
  }
  throw new Error('expected a refusal');
}

describe('table-migration workflow: abort, read percentage and refusals', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createEnv();
  });
  afterAll(() => env?.teardown());

  it('aborts during the backfill: stops CDC, removes what it created, never touches the flags', async () => {
    const fake = new FakeActivities();
    fake.hold('runBackfill');
    const { worker, taskQueue } = await makeWorker(env, fake);
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config: testConfig(uniqueName('t')) }] });
      await waitForStatus(env, handle, (s) => s.phase === 'backfill' && fake.busy > 0, 'backfill running', 200, 400, fake);
      const accepted = await handle.executeUpdate(abortUpdate, { args: [{ by: 'dave', reason: 'wrong table', dropTarget: true }] });
      expect(accepted).toEqual({ accepted: true, phase: 'backfill' });
      expect((await handle.result()).phase).toBe('aborted');
      expect(fake.count('setRoutingFlags')).toBe(0);
      expect(fake.count('stopCdc')).toBe(1);
      const cleanup = fake.calls.find((c) => c.name === 'abortCleanup')?.input as { created: Record<string, unknown>; dropTarget: boolean };
      expect(cleanup.created).toMatchObject({ cdcId: 'cdc-1', createdTopic: true, createdTarget: true, targetTable: 'target' });
      expect(cleanup.dropTarget).toBe(true);
      const s = await handle.query(statusQuery);
      expect(s.transitions.some((t) => t.kind === 'operator' && t.by === 'dave')).toBe(true);
      // the workflow has ended: the server itself rejects further updates (the CLI says so)
      await expect(handle.executeUpdate(abortUpdate, { args: [{}] })).rejects.toThrow(/completed|not found/i);
    });
  });

  it('aborts from DynamoDB-primary writes: fence, drain background writes, writes then reads back to MySQL', async () => {
    const fake = new FakeActivities();
    const { worker, taskQueue } = await makeWorker(env, fake);
    const config = testConfig(uniqueName('t'), { gates: { reads: 'auto', readSteps: 'auto', shadowWrites: 'auto', flipWrites: 'auto', dynamoOnly: 'manual' } });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config }] });
      await waitForStatus(env, handle, (s) => s.awaiting?.gate === 'dynamo-only', 'dynamo-only gate');
      const mark = fake.flags.length;
      await handle.executeUpdate(abortUpdate, { args: [{ by: 'erin' }] });
      expect((await handle.result()).phase).toBe('aborted');
      expect(fake.flags.slice(mark).map((f) => `${f.writeMode}@${f.readPercent}`)).toEqual([
        'fenced@100', 'mysql-primary@100', 'mysql-only@100', 'mysql-only@0',
      ]);
      expect(fake.count('drainBackgroundWrites')).toBe(1);
      expect(fake.names().slice(-2)).toEqual(['stopCdc', 'abortCleanup']);
    });
  });

  it('sets the read percentage during the read cut-over and continues the ladder above it; refuses it elsewhere', async () => {
    const fake = new FakeActivities();
    const { worker, taskQueue } = await makeWorker(env, fake);
    const config = testConfig(uniqueName('t'), { gates: { reads: 'manual', readSteps: 'manual', shadowWrites: 'manual', flipWrites: 'auto', dynamoOnly: 'manual' } });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config }] });
      await waitForStatus(env, handle, (s) => s.awaiting?.gate === 'reads', 'reads gate');
      await expect(refusal(handle.executeUpdate(setReadPercentUpdate, { args: [{ percent: 150 }] }))).resolves.toMatch(/not a percentage/);
      const r = await handle.executeUpdate(setReadPercentUpdate, { args: [{ percent: 30, by: 'fran' }] });
      expect(r.readPercent).toBe(30);
      expect(fake.current()).toMatchObject({ readPercent: 30, writeMode: 'mysql-only' });
      let s = await waitForStatus(env, handle, (st) => st.awaiting?.gate === 'reads-30', 'reads-30 gate');
      await handle.signal(approveSignal, { gate: 'reads-30' });
      s = await waitForStatus(env, handle, (st) => st.awaiting?.gate === 'reads-50', 'next ladder step above 30');
      expect(s.readPercent).toBe(50);
      await handle.executeUpdate(setReadPercentUpdate, { args: [{ percent: 0 }] });
      s = await waitForStatus(env, handle, (st) => st.awaiting?.gate === 'reads', 'back at the first gate');
      expect(s.readPercent).toBe(0);
      for (const gate of ['reads', 'reads-1', 'reads-10', 'reads-50', 'reads-100']) {
        await waitForStatus(env, handle, (st) => st.awaiting?.gate === gate, gate);
        await handle.signal(approveSignal, { gate });
      }
      await waitForStatus(env, handle, (st) => st.awaiting?.gate === 'shadow-writes', 'shadow-writes gate');
      await expect(refusal(handle.executeUpdate(setReadPercentUpdate, { args: [{ percent: 10 }] }))).resolves.toMatch(/only be set during read-cutover/);
      await handle.terminate('test done');
    });
  });

  it('refuses rollback and abort once MySQL stopped receiving writes, and bad rollback targets', async () => {
    const fake = new FakeActivities();
    const { worker, taskQueue } = await makeWorker(env, fake);
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config: testConfig(uniqueName('t')) }] });
      fake.hold('runBackfill');
      await waitForStatus(env, handle, (s) => s.phase === 'backfill', 'backfill', 200, 400, fake);
      await expect(refusal(handle.executeUpdate(rollbackUpdate, { args: [{ to: 'backfill' }] }))).resolves.toMatch(/not earlier than the current phase/);
      await expect(refusal(handle.executeUpdate(rollbackUpdate, { args: [{ to: 'preflight' as never }] }))).resolves.toMatch(/not a rollback target/);
      await expect(refusal(handle.executeUpdate(rollbackUpdate, { args: [{ to: 'flip-writes' as never }] }))).resolves.toMatch(/not a rollback target/);
      fake.release('runBackfill');
      fake.hold('drainCdc');
      const s = await waitForStatus(env, handle, (st) => st.phase === 'drain-cdc', 'drain-cdc', 5_000, 400, fake);
      expect(s.writeMode).toBe('dynamo-only');
      await expect(refusal(handle.executeUpdate(rollbackUpdate, { args: [{ to: 'shadow-writes' }] }))).resolves.toMatch(/MySQL has received no writes since DynamoDB-only began/);
      await expect(refusal(handle.executeUpdate(abortUpdate, { args: [{}] }))).resolves.toMatch(/MySQL has received no writes/);
      fake.release('drainCdc');
      expect((await handle.result()).phase).toBe('complete');
      await expect(handle.executeUpdate(rollbackUpdate, { args: [{ to: 'verify' }] })).rejects.toThrow(/completed|not found/i);
    });
  });
});
