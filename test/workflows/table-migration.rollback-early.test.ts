/** Rollback from catch-up, verify and read-cutover to every earlier rollback target, then forward to complete. */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createEnv } from './support/harness';
import { pairs, rollbackCase } from './support/rollback-cases';

describe('table-migration workflow: rollback from the early phases', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createEnv();
  });
  afterAll(() => env?.teardown());

  it.each(pairs(['catch-up', 'verify', 'read-cutover', 'shadow-writes']))('from %s to %s', (from, to) => rollbackCase(env, from, to));
});
