/**
 * The DLQ gate (src/workflows/migration/phases.ts `dlqGate`): when the ETL reports more dead-lettered events than
 * `thresholds.maxDlqEvents` (or than an operator already accepted), the migration stops before catch-up at the gate
 * `dlq` with the count and the threshold in its status, and nothing advances (no catch-up, no flag change) however
 * long it waits. `approve` accepts the dead letters seen so far and the migration goes on (the gate does not trip
 * again for the same count); `abort` stops it without ever touching the routing flags.
 *
 * The real data path that fills the DLQ (an item over 400 KB, a poison message) is test/faults/dlq.fault.ts.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { abortUpdate, approveSignal, statusQuery } from '../../src/shared/messages';
import { tableMigrationWorkflow } from '../../src/workflows';
import { CONFIG_DEFAULTS } from '../../src/shared/migration-config';
import { uniqueName } from '../support/ids';
import { createEnv, FakeActivities, makeWorker, testConfig, waitForStatus } from './support/harness';

jest.setTimeout(60_000);

describe('table-migration workflow: the DLQ gate', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createEnv();
  });
  afterAll(() => env?.teardown());

  // The lag monitor samples hourly here, not every minute: each sample is a workflow task and activities run in real
  // time, so a skipped day of minute samples cost 1440 round trips (48 s on a loaded machine; the test timed out in CI).
  // The gate samples the DLQ count itself (phases.ts dlqGate), so this changes nothing the test asserts.
  const config = (): ReturnType<typeof testConfig> =>
    testConfig(uniqueName('t'), { thresholds: { ...CONFIG_DEFAULTS.thresholds, maxDlqEvents: 1 }, monitorIntervalMs: 3_600_000 });

  it('waits at the dlq gate with the count in its status, advances nothing, and goes on after approve', async () => {
    const fake = new FakeActivities({ dlqCount: 2 });
    const { worker, taskQueue } = await makeWorker(env, fake);
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config: config() }] });
      const stuck = await waitForStatus(env, handle, (s) => s.awaiting?.gate === 'dlq', 'dlq gate', 2_000, 400, fake);
      expect(stuck.awaiting).toMatchObject({ gate: 'dlq', problem: true });
      expect(stuck.awaiting?.reason).toMatch(/^2 events dead-lettered \(threshold 1\); inspect the DLQ, then approve to accept them$/);
      expect(stuck.phase).toBe('catch-up');
      expect(stuck.dlqCount).toBe(2);

      // a day of (skipped) time later: same phase, still at the gate, no catch-up started, no flag ever written
      await env.sleep(24 * 3_600_000);
      const later = await handle.query(statusQuery);
      expect({ phase: later.phase, gate: later.awaiting?.gate, flagVersion: later.flagVersion }).toEqual({ phase: 'catch-up', gate: 'dlq', flagVersion: stuck.flagVersion });
      expect(fake.count('awaitEtlCatchUp')).toBe(0);
      expect(fake.count('setRoutingFlags')).toBe(0);

      // approving a different gate does nothing; approving `dlq` accepts the 2 letters and the migration goes on
      await handle.signal(approveSignal, { by: 'ops', gate: 'reads' });
      await env.sleep(60_000);
      expect((await handle.query(statusQuery)).awaiting?.gate).toBe('dlq');
      await handle.signal(approveSignal, { by: 'ops', gate: 'dlq' });
      // past verify and the second DLQ check (before reads): the same 2 letters do not stop it again
      const moving = await waitForStatus(env, handle, (s) => s.readPercent > 0, 'reads served from DynamoDB', 2_000, 400, fake);
      expect(moving.awaiting?.gate).not.toBe('dlq');
      expect(fake.count('awaitEtlCatchUp')).toBeGreaterThan(0);
      const s = await handle.query(statusQuery);
      expect(s.transitions.some((t) => t.kind === 'blocked' && t.to === 'dlq')).toBe(true);
      await handle.terminate('test done');
    });
  });

  it('abort at the dlq gate ends the migration without touching the routing flags', async () => {
    const fake = new FakeActivities({ dlqCount: 5 });
    const { worker, taskQueue } = await makeWorker(env, fake);
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config: config() }] });
      await waitForStatus(env, handle, (s) => s.awaiting?.gate === 'dlq', 'dlq gate', 2_000, 400, fake);
      const accepted = await handle.executeUpdate(abortUpdate, { args: [{ by: 'ops', reason: 'mapping must be fixed first' }] });
      expect(accepted).toEqual({ accepted: true, phase: 'catch-up' });
      expect((await handle.result()).phase).toBe('aborted');
      expect(fake.count('setRoutingFlags')).toBe(0);
      expect(fake.count('awaitEtlCatchUp')).toBe(0);
      expect(fake.count('stopCdc')).toBe(1);
    });
  });
});
