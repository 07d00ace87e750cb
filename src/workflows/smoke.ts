/** A trivial workflow that proves the worker, the server and the activity wiring work end to end. */
import { proxyActivities } from '@temporalio/workflow';
import type { createSmokeActivities } from '../activities/smoke';

const { describeServices } = proxyActivities<ReturnType<typeof createSmokeActivities>>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

/** Result of the smoke workflow: a greeting plus what the activity saw of the services (counts only). */
export interface SmokeResult {
  readonly greeting: string;
  readonly mysqlVersion: string;
  readonly dynamoTables: number;
}

export async function smokeWorkflow(name: string): Promise<SmokeResult> {
  const services = await describeServices();
  return { greeting: `hello, ${name}`, ...services };
}
