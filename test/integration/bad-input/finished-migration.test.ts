/**
 * Operator bad input: a request to a migration that has finished. Through the `cutover` CLI against the real Temporal
 * dev server (activities are the workflow tests' in-memory fakes on a unique task queue): a migration is started and
 * aborted, then every signal, update and the approve command fail with exit 3 and a message saying it finished, how
 * and in which phase, instead of Temporal's raw "workflow execution already completed".
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from '@temporalio/worker';
import { createTemporalClient, createWorkerConnection } from '../../../src/infra/temporal';
import { migrationWorkflowId } from '../../../src/shared/task-queues';
import { workflowBundle } from '../../../src/workers/bundle';
import { uniqueName } from '../../support/ids';
import { FakeActivities } from '../../workflows/support/fake-activities';

jest.setTimeout(60_000);

describe('a request to a finished migration', () => {
  const taskQueue = uniqueName('fin');
  const db = uniqueName('findb');
  const table = `${db}.orders`;
  let run: (argv: string[]) => Promise<number>;
  let logs: string[] = [];
  let errors: string[] = [];

  beforeAll(async () => {
    process.env.CUTOVER_TASK_QUEUE = taskQueue;
    jest.resetModules();
    ({ run } = await import('../../../src/cli/main'));
    jest.spyOn(console, 'log').mockImplementation((s: unknown) => void logs.push(String(s)));
    jest.spyOn(console, 'error').mockImplementation((s: unknown) => void errors.push(String(s)));
  });
  afterAll(() => {
    delete process.env.CUTOVER_TASK_QUEUE;
    jest.restoreAllMocks();
  });

  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    logs = [];
    errors = [];
    const code = await run(['node', 'cutover', ...args]);
    return { code, out: logs.join('\n'), err: errors.join('\n') };
  }

  it('says it finished, how and in which phase, for signals, updates and approve', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-fin-'));
    const file = path.join(dir, 'migration.yaml');
    fs.writeFileSync(file, `plan: ${db}\ndefaults:\n  gates: { reads: manual }\n  etl: { runner: external }\ntables:\n  - source: ${table}\n    mapping: orders.mapping.yaml\n`);
    const connection = await createWorkerConnection();
    const worker = await Worker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities: new FakeActivities().activities() });
    const client = await createTemporalClient();
    const workflowId = migrationWorkflowId(db, 'orders');
    try {
      await worker.runUntil(async () => {
        expect((await cli('start', '--config', file)).code).toBe(0);
        expect((await cli('abort', '--table', table, '--reason', 'test')).code).toBe(0);
        expect((await client.workflow.getHandle(workflowId).result()).phase).toBe('aborted');

        const finished = new RegExp(`migration ${workflowId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has finished: completed in phase aborted at \\d{4}-\\d\\d-\\d\\dT.*; it takes no more requests`);
        for (const args of [['pause'], ['resume'], ['approve'], ['abort'], ['rollback', '--to', 'read-cutover'], ['read-percent', '10']]) {
          const r = await cli(...args, '--table', table);
          expect({ args, code: r.code, err: r.err }).toEqual({ args, code: 3, err: expect.stringMatching(finished) });
        }
        const never = await cli('pause', '--table', `${db}.never_started`);
        expect({ code: never.code, err: never.err }).toEqual({ code: 3, err: expect.stringMatching(/no running migration .*never_started \(it was never started/) });
      });
    } finally {
      await client.workflow.getHandle(workflowId).terminate('test cleanup').catch(() => undefined);
      await client.connection.close();
      await connection.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
