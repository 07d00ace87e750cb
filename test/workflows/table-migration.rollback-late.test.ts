/** Rollback from flip-writes (DynamoDB primary) and at the DynamoDB-only gate to every earlier target. */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createEnv } from './support/harness';
import { pairs, rollbackCase } from './support/rollback-cases';

describe('table-migration workflow: rollback from the DynamoDB-primary phases', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createEnv();
  });
  afterAll(() => env?.teardown());

  it.each(pairs(['flip-writes', 'dynamo-only']))('from %s to %s', (from, to) => rollbackCase(env, from, to));
});
