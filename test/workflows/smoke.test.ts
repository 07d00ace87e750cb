import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { workflowBundle } from '../../src/workers/bundle';
import { smokeWorkflow } from '../../src/workflows';
import { createTimeSkippingEnv } from '../support/temporal-test-env';

describe('smoke workflow (time-skipping server, mocked activity)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(() => env?.teardown());

  it('returns what the activity reports', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'smoke-test',
      workflowBundle: await workflowBundle(),
      activities: { describeServices: async () => ({ mysqlVersion: 'fake', dynamoTables: 3 }) },
    });
    const result = await worker.runUntil(env.client.workflow.execute(smokeWorkflow, { taskQueue: 'smoke-test', workflowId: 'smoke-ts', args: ['x'] }));
    expect(result).toEqual({ greeting: 'hello, x', mysqlVersion: 'fake', dynamoTables: 3 });
  });
});
