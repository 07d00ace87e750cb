/** A time-skipping test environment on the Java test server installed by `scripts/stack up`; never downloads. */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import * as path from 'node:path';

export function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const exe = process.env.CUTOVER_TEMPORAL_TEST_SERVER ?? path.join(__dirname, '..', '..', '.stack', 'bin', 'temporal-test-server');
  return TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: exe } } });
}
