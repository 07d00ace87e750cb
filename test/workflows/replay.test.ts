/**
 * Determinism: histories recorded from earlier versions of the workflow code (test/workflows/histories/*.json) must
 * replay against the current code. A control-flow change that is not behind `patched()` makes this fail.
 * Record new histories with CUTOVER_RECORD_HISTORIES=1 (it runs the scenarios below and writes the files).
 *
 * Files hold the history as protobufjs `toObject` JSON (64-bit numbers and bytes as strings): this install carries two
 * copies of protobufjs, so the SDK's historyToJSON fails with "type must be a Type"; toObject/fromObject round-trips.
 */
const History = temporal.api.history.v1.History;
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { approveSignal, pauseSignal, resumeSignal, rollbackUpdate } from '../../src/shared/messages';
import { workflowBundle } from '../../src/workers/bundle';
import { tableMigrationWorkflow } from '../../src/workflows';
import { uniqueName } from '../support/ids';
import { createEnv, FakeActivities, makeWorker, testConfig, waitForStatus } from './support/harness';

const DIR = path.join(__dirname, 'histories');
const RECORD = process.env.CUTOVER_RECORD_HISTORIES === '1';
const LABEL = process.env.CUTOVER_HISTORY_LABEL ?? 'v1';

describe('table-migration workflow: replay of recorded histories', () => {
  const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json'));

  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files.length ? files : ['none'])('replays %s deterministically', async (file) => {
    if (file === 'none') return;
    const history = History.fromObject(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
  });

  (RECORD ? describe : describe.skip)('recording', () => {
    let env: TestWorkflowEnvironment;
    beforeAll(async () => {
      env = await createEnv();
    });
    afterAll(() => env?.teardown());

    it('records a migration with a pause, gates, a rollback from flip-writes and forward to complete', async () => {
      const fake = new FakeActivities();
      const { worker, taskQueue } = await makeWorker(env, fake);
      const config = testConfig('orders', {
        readLadder: [50, 100],
        gates: { reads: 'manual', readSteps: 'auto', shadowWrites: 'auto', flipWrites: 'auto', dynamoOnly: 'manual' },
      });
      await worker.runUntil(async () => {
        const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('record'), args: [{ config }] });
        await waitForStatus(env, handle, (s) => s.awaiting?.gate === 'reads', 'reads gate');
        await handle.signal(pauseSignal, { by: 'recorder' });
        await env.sleep(60_000);
        await handle.signal(resumeSignal, { by: 'recorder' });
        await waitForStatus(env, handle, (s) => s.awaiting?.gate === 'reads', 'reads gate again');
        await handle.signal(approveSignal, { gate: 'reads' });
        await waitForStatus(env, handle, (s) => s.awaiting?.gate === 'dynamo-only', 'dynamo-only gate');
        await handle.executeUpdate(rollbackUpdate, { args: [{ to: 'read-cutover', by: 'recorder' }] });
        await waitForStatus(env, handle, (s) => s.awaiting?.gate === 'reads', 'reads gate after rollback');
        await handle.signal(approveSignal, { gate: 'reads' });
        await waitForStatus(env, handle, (s) => s.awaiting?.gate === 'dynamo-only', 'dynamo-only gate again');
        await handle.signal(approveSignal, { gate: 'dynamo-only' });
        await handle.result();
        const history = await handle.fetchHistory();
        fs.writeFileSync(path.join(DIR, `table-migration-rollback-${LABEL}.json`), JSON.stringify(History.toObject(History.fromObject(history), { longs: String, bytes: String })));
      });
    });
  });
});
