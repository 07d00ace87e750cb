/** Rollback from flip-writes to every earlier rollback target, then forward to complete (see support/rollback-cases.ts). */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createEnv } from './support/harness';
import { pairs, rollbackCase } from './support/rollback-cases';

describe('table-migration workflow: rollback from flip-writes', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createEnv();
  });
  afterAll(() => env?.teardown());

  it.each(pairs(['flip-writes']))('from %s to %s', (from, to) => rollbackCase(env, from, to));
});
