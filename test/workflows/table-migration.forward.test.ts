/**
 * The table-migration workflow, forward: every phase transition, the order of flag changes (writes one step at a
 * time, the shared apply mode before direct DynamoDB writes, the fence around the flip, a barrier after every flag
 * change), automatic gates passing and failing, manual gates, verification repair, continue-as-new.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { approveSignal, statusQuery } from '../../src/shared/messages';
import { PHASES } from '../../src/shared/phases';
import { tableMigrationWorkflow } from '../../src/workflows';
import { uniqueName } from '../support/ids';
import { createEnv, FakeActivities, makeWorker, testConfig, waitForStatus } from './support/harness';

describe('table-migration workflow: forward path', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createEnv();
  });
  afterAll(() => env?.teardown());

  it('runs every phase in order with automatic gates and ends complete', async () => {
    const fake = new FakeActivities();
    const { worker, taskQueue } = await makeWorker(env, fake);
    const config = testConfig(uniqueName('t'));
    const outcome = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config }] });
      const out = await handle.result();
      const status = await handle.query(statusQuery);
      return { out, status };
    });
    expect(outcome.out.phase).toBe('complete');
    expect(outcome.out.rowsCopied).toBe(1000);
    const phases = outcome.status.transitions.filter((t) => t.kind === 'phase').map((t) => t.to);
    expect(phases).toEqual(PHASES.slice(1));
    // writes move one step at a time, through the fence, and never back
    expect(fake.writeModes()).toEqual(['mysql-only', 'mysql-primary', 'fenced', 'dynamo-primary', 'dynamo-only']);
    // reads climb the ladder before any write moves
    const reads = fake.flags.filter((f) => f.writeMode === 'mysql-only').map((f) => f.readPercent);
    expect(reads).toEqual([0, 1, 10, 50, 100]);
    // every flag change is followed by its barrier
    expect(fake.count('awaitFlagBarrier')).toBe(fake.count('setRoutingFlags'));
    const names = fake.names();
    // the apply mode is shared before the first direct DynamoDB write mode
    const sharedAt = names.findIndex((n, i) => n === 'setApplyMode' && (fake.calls[i].input as { mode: string }).mode === 'shared');
    const firstShadow = fake.calls.findIndex((c) => c.name === 'setRoutingFlags' && (c.input as { writeMode: string }).writeMode === 'mysql-primary');
    expect(sharedAt).toBeGreaterThan(-1);
    expect(sharedAt).toBeLessThan(firstShadow);
    // behind the fence the ETL catches up with the source's current position
    const fenced = fake.calls.findIndex((c) => c.name === 'setRoutingFlags' && (c.input as { writeMode: string }).writeMode === 'fenced');
    const catchUp = fake.calls.findIndex((c, i) => i > fenced && c.name === 'awaitEtlCatchUp');
    expect((fake.calls[catchUp].input as { through: string }).through).toBe('source-now');
    expect(fake.count('stopCdc')).toBe(1);
    expect(fake.count('cleanup')).toBe(1);
    expect(outcome.status.rowsCopied).toBe(1000);
    expect(outcome.status.verification?.passed).toBe(true);
  });

  it('waits at manual gates until approved, naming the gate', async () => {
    const fake = new FakeActivities();
    const { worker, taskQueue } = await makeWorker(env, fake);
    const config = testConfig(uniqueName('t'), {
      readLadder: [50, 100],
      gates: { reads: 'manual', readSteps: 'manual', shadowWrites: 'manual', flipWrites: 'manual', dynamoOnly: 'manual' },
    });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config }] });
      for (const gate of ['reads', 'reads-50', 'reads-100', 'shadow-writes', 'flip-writes', 'dynamo-only']) {
        const s = await waitForStatus(env, handle, (st) => st.awaiting !== null, `gate ${gate}`);
        expect(s.awaiting?.gate).toBe(gate);
        expect(s.awaiting?.problem).toBe(false);
        // an approve naming another gate is ignored
        await handle.signal(approveSignal, { gate: 'no-such-gate', by: 'test' });
        await env.sleep(1_000);
        expect((await handle.query(statusQuery)).awaiting?.gate).toBe(gate);
        await handle.signal(approveSignal, { gate, by: 'alice' });
        await waitForStatus(env, handle, (st) => st.awaiting?.gate !== gate, `leaving gate ${gate}`);
      }
      const out = await handle.result();
      expect(out.phase).toBe('complete');
      const s = await handle.query(statusQuery);
      expect(s.transitions.some((t) => t.kind === 'operator' && t.by === 'alice' && t.to === 'dynamo-only')).toBe(true);
    });
  });

  it('stops at a breached automatic gate and goes on only when an operator approves', async () => {
    const fake = new FakeActivities({
      shadowStats: (f) => ({ readsCompared: 100, readMismatches: f.readPercent === 10 ? 3 : 0, shadowWrites: 10, shadowWriteErrors: f.writeMode === 'mysql-primary' ? 1 : 0, backgroundWrites: 10, backgroundWriteErrors: 0 }),
    });
    const { worker, taskQueue } = await makeWorker(env, fake);
    const config = testConfig(uniqueName('t'));
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config }] });
      let s = await waitForStatus(env, handle, (st) => st.awaiting !== null, 'read gate breach');
      expect(s.awaiting).toMatchObject({ gate: 'reads-10', problem: true });
      expect(s.awaiting?.reason).toMatch(/3 shadow-read mismatches of 100/);
      expect(s.readPercent).toBe(10);
      expect(s.shadow?.readMismatches).toBe(3);
      await env.sleep(30_000);
      expect((await handle.query(statusQuery)).readPercent).toBe(10); // does not move on by itself
      await handle.signal(approveSignal, { by: 'bob' });
      s = await waitForStatus(env, handle, (st) => st.awaiting !== null, 'shadow-write gate breach');
      expect(s.awaiting).toMatchObject({ gate: 'shadow-writes-soak', problem: true });
      expect(s.awaiting?.reason).toMatch(/1 failed shadow writes/);
      await handle.signal(approveSignal, { by: 'bob' });
      expect((await handle.result()).phase).toBe('complete');
    });
  });

  it('repairs verification mismatches and verifies again; asks an operator when repairs do not help', async () => {
    const fake = new FakeActivities({ verifyMismatches: [5, 2] });
    const { worker, taskQueue } = await makeWorker(env, fake);
    const config = testConfig(uniqueName('t'), { verify: { mode: 'sampled', sampleFraction: 0.1, repairAttempts: 1 } });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config }] });
      const s = await waitForStatus(env, handle, (st) => st.awaiting !== null, 'verify gate');
      expect(s.phase).toBe('verify');
      expect(s.awaiting).toMatchObject({ gate: 'verify', problem: true });
      expect(s.verification).toMatchObject({ missing: 2, passed: false });
      expect(fake.count('repair')).toBe(1);
      expect(fake.count('verify')).toBe(2);
      expect(s.readPercent).toBe(0);
      await handle.signal(approveSignal, { gate: 'verify', by: 'carol' });
      expect((await handle.result()).phase).toBe('complete');
    });
  });

  it('retries a failed step after an approve, and continues as new with its state', async () => {
    const fake = new FakeActivities({ rowsTotal: 3000, chunksPerSlice: 1 });
    fake.failing.set('startCdc', 'PreflightError');
    const { worker, taskQueue } = await makeWorker(env, fake);
    const config = testConfig(uniqueName('t'));
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config, historyLimit: 120 }] });
      const s = await waitForStatus(env, handle, (st) => st.awaiting !== null, 'start CDC failure');
      expect(s.awaiting).toMatchObject({ gate: 'start CDC', problem: true });
      expect(s.awaiting?.reason).toMatch(/PreflightError: startCdc made to fail/);
      expect(fake.count('startCdc')).toBe(1); // non-retryable: not retried by Temporal
      fake.failing.delete('startCdc');
      await handle.signal(approveSignal, {});
      const out = await handle.result();
      expect(out.phase).toBe('complete');
      expect(out.rowsCopied).toBe(3000);
      const last = await handle.query(statusQuery);
      expect(last.run).toBeGreaterThan(1);
      // the backfill resumed from its cursor across runs: every slice started where the previous one ended
      const starts = fake.calls.filter((c) => c.name === 'runBackfill').map((c) => (c.input as { rowsCopiedBefore: number }).rowsCopiedBefore);
      expect(starts).toEqual(Array.from({ length: 30 }, (_, i) => i * 100));
    });
  });
});
