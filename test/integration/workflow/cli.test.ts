/**
 * The `cutover` CLI against the real Temporal dev server: start from a YAML config, status, approve, a refused
 * request (exit 2 with the reason), an unknown migration (exit 3), rollback and abort. The activities are the
 * in-memory fakes of the workflow tests, on a unique task queue, so nothing else on the stack is touched.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from '@temporalio/worker';
import { createTemporalClient, createWorkerConnection } from '../../../src/infra/temporal';
import { workflowBundle } from '../../../src/workers/bundle';
import { migrationWorkflowId } from '../../../src/shared/task-queues';
import { CUTOVER_PHASE, CUTOVER_TABLE, type MigrationStatus } from '../../../src/shared/messages';
import { uniqueName } from '../../support/ids';
import { FakeActivities } from '../../workflows/support/fake-activities';

describe('cutover CLI on the real Temporal server', () => {
  const taskQueue = uniqueName('cli');
  const db = uniqueName('clidb');
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

  async function status(): Promise<MigrationStatus> {
    const r = await cli('--json', 'status', '--table', table);
    expect(r.code).toBe(0);
    return (JSON.parse(r.out) as MigrationStatus[])[0];
  }

  async function waitFor(pred: (s: MigrationStatus) => boolean, what: string): Promise<MigrationStatus> {
    for (let i = 0; i < 200; i++) {
      const s = await status();
      if (pred(s)) return s;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  it('drives a migration: start, status, approve, refusal, unknown table, rollback, abort', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-cli-'));
    const file = path.join(dir, 'migration.yaml');
    fs.writeFileSync(file, `plan: ${db}
defaults:
  soak: { readStep: 300ms, shadowWrites: 300ms, flipWrites: 300ms }
  gates: { reads: manual, readSteps: auto, shadowWrites: auto, flipWrites: auto, dynamoOnly: manual }
  etl: { runner: external }
tables:
  - source: ${table}
    mapping: orders.mapping.yaml
    readLadder: [50, 100]
`);
    const fake = new FakeActivities();
    const connection = await createWorkerConnection();
    const worker = await Worker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities: fake.activities() });
    const client = await createTemporalClient();
    const workflowId = migrationWorkflowId(db, 'orders');
    try {
      await worker.runUntil(async () => {
        const started = await cli('start', '--config', file);
        expect(started.code).toBe(0);
        expect(started.out).toContain(workflowId);
        expect(started.out).toContain('/namespaces/default/workflows/');
        expect((await cli('start', '--config', file)).err).toMatch(/already running/);

        let s = await waitFor((st) => st.awaiting?.gate === 'reads', 'reads gate');
        expect(s.phase).toBe('read-cutover');
        const human = await cli('status', '--table', table);
        expect(human.out).toContain(`cutover approve --table ${table} --gate reads`);

        expect((await cli('--by', 'ops-alice', 'approve', '--table', table, '--gate', 'reads')).code).toBe(0);
        s = await waitFor((st) => st.awaiting?.gate === 'dynamo-only', 'dynamo-only gate');
        expect(s.writeMode).toBe('dynamo-primary');

        const refused = await cli('read-percent', '10', '--table', table);
        expect(refused.code).toBe(2);
        expect(refused.err).toMatch(/refused: read-percent refused in phase dynamo-only: the read percentage can only be set during read-cutover/);

        const unknown = await cli('pause', '--table', `${db}.nope`);
        expect(unknown.code).toBe(3);
        expect(unknown.err).toMatch(/no running migration/);

        const rb = await cli('--json', 'rollback', '--table', table, '--to', 'read-cutover');
        expect(rb.code).toBe(0);
        expect(JSON.parse(rb.out)).toMatchObject({ to: 'read-cutover', readPercent: 0, writeMode: 'mysql-only', applied: true });

        expect((await cli('abort', '--table', table, '--reason', 'test over')).code).toBe(0);
        const handle = client.workflow.getHandle(workflowId);
        expect((await handle.result()).phase).toBe('aborted');
        const desc = await handle.describe();
        // the UI's list can filter on these
        expect(desc.typedSearchAttributes.get(CUTOVER_PHASE)).toBe('aborted');
        expect(desc.typedSearchAttributes.get(CUTOVER_TABLE)).toBe(table);
      });
    } finally {
      await client.workflow.getHandle(workflowId).terminate('test cleanup').catch(() => undefined);
      await client.connection.close();
      await connection.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
