/**
 * Fault: an application instance stops acknowledging flag versions during the flag barrier (it stopped heartbeating
 * within the liveness window, or is stuck). The barrier activity fails with FlagBarrierTimeoutError naming the
 * instance (the real error class; the flag store's own behaviour — which instances it names, that instances silent
 * longer than the liveness window are ignored because they have self-fenced — is proven on MySQL in
 * test/integration/routing/flag-store.test.ts). Here, on the time-skipping server with the workflow's real code:
 * the migration stops at that flag change with the message in its status, nothing advances however long it waits
 * (no further flag change, same phase), and an operator's approve retries the barrier and the migration goes on.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { approveSignal, statusQuery } from '../../src/shared/messages';
import type { MigrationActivities } from '../../src/shared/activity-contract';
import { FlagBarrierTimeoutError } from '../../src/shared/errors';
import { tableMigrationWorkflow } from '../../src/workflows';
import { uniqueName } from '../support/ids';
import { createEnv, FakeActivities, makeWorker, testConfig, waitForStatus } from '../workflows/support/harness';

jest.setTimeout(120_000);

/** The fake activities, with a barrier that times out once, as the real one does when app-b never acknowledges. */
class StuckInstanceFake extends FakeActivities {
  barrierFailures = 1;
  override activities(): MigrationActivities {
    const a = super.activities();
    return {
      ...a,
      awaitFlagBarrier: async (input) => {
        if (this.barrierFailures > 0) {
          this.barrierFailures -= 1;
          this.calls.push({ name: 'awaitFlagBarrier', input });
          const e = new FlagBarrierTimeoutError(input.version, [{ instance: 'shop.orders@app-b', appliedVersion: input.version - 1 }], input.timeoutMs);
          throw ApplicationFailure.create({ type: e.name, message: e.message, nonRetryable: true });
        }
        return a.awaitFlagBarrier(input);
      },
    };
  }
}

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createEnv();
});
afterAll(() => env?.teardown());

test('a barrier timeout names the silent instance and stops the migration at that flag change until approved', async () => {
  const fake = new StuckInstanceFake();
  const { worker, taskQueue } = await makeWorker(env, fake);
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config: testConfig(uniqueName('t')) }] });
    const stuck = await waitForStatus(env, handle, (s) => s.awaiting?.problem === true, 'barrier failure surfaced', 2_000, 400, fake);
    expect(stuck.awaiting?.reason).toMatch(/flag barrier v\d+ failed: .*not applied after \d+ ms by 1 instance\(s\): shop\.orders@app-b/);
    const flagsSet = fake.count('setRoutingFlags');
    // nothing advances while it waits: a day of (skipped) time later, same phase, same flags, no new flag change
    await env.sleep(24 * 3_600_000);
    const later = await handle.query(statusQuery);
    expect({ phase: later.phase, flagVersion: later.flagVersion, writeMode: later.writeMode, readPercent: later.readPercent }).toEqual({
      phase: stuck.phase, flagVersion: stuck.flagVersion, writeMode: stuck.writeMode, readPercent: stuck.readPercent,
    });
    expect(fake.count('setRoutingFlags')).toBe(flagsSet);
    expect(later.awaiting?.problem).toBe(true);

    // the operator fixed the instance and approves: the barrier is retried and the migration goes on
    await handle.signal(approveSignal, { by: 'ops', gate: later.awaiting!.gate });
    await waitForStatus(env, handle, (s) => s.flagVersion > stuck.flagVersion || s.phase !== stuck.phase, 'migration moving again', 2_000, 400, fake);
    expect(fake.count('awaitFlagBarrier')).toBeGreaterThan(1);
    await handle.terminate('test done');
  });
});
