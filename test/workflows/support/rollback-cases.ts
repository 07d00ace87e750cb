/**
 * The rollback matrix: drive a migration to a source phase, roll back to a target, check the flags were reversed
 * writes-before-reads (through the fence, background writes drained, when leaving a DynamoDB-primary mode), then run
 * forward again to `complete`.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { approveSignal, rollbackUpdate, statusQuery, type MigrationStatus } from '../../../src/shared/messages';
import { phaseIndex, ROLLBACK_TARGETS, WRITE_MODES, type Phase, type RollbackTarget } from '../../../src/shared/phases';
import { rollbackFlags } from '../../../src/workflows/migration/rules';
import { tableMigrationWorkflow } from '../../../src/workflows';
import { uniqueName } from '../../support/ids';
import { FakeActivities, makeWorker, testConfig, waitForStatus } from './harness';

/** Source phases from which a rollback is allowed, and how a test holds a migration there. */
export const HOLDS: Record<string, { hold?: string; at: (s: MigrationStatus, f: FakeActivities) => boolean }> = {
  'catch-up': { hold: 'awaitEtlCatchUp', at: (s, f) => s.phase === 'catch-up' && f.count('awaitEtlCatchUp') > 0 },
  verify: { hold: 'verify', at: (s, f) => s.phase === 'verify' && f.count('verify') > 0 },
  'read-cutover': { at: (s) => s.phase === 'read-cutover' && s.awaiting?.gate === 'reads-100' },
  'shadow-writes': { at: (s) => s.phase === 'shadow-writes' && s.writeMode === 'mysql-primary' },
  'flip-writes': { at: (s) => s.phase === 'flip-writes' && s.writeMode === 'dynamo-primary' },
  'dynamo-only': { at: (s) => s.phase === 'dynamo-only' && s.awaiting?.gate === 'dynamo-only' },
};

/** Every (from, to) pair with `to` earlier than `from`. */
export function pairs(froms: readonly string[]): [Phase, RollbackTarget][] {
  return froms.flatMap((from) => ROLLBACK_TARGETS.filter((to) => phaseIndex(to) < phaseIndex(from as Phase)).map((to) => [from as Phase, to] as [Phase, RollbackTarget]));
}

async function drive(env: TestWorkflowEnvironment, handle: WorkflowHandle, fake: FakeActivities, until: (s: MigrationStatus) => boolean, what: string, stepMs = 1_000): Promise<MigrationStatus> {
  return waitForStatus(
    env,
    handle,
    (s) => {
      if (until(s)) return true;
      if (s.awaiting && !s.awaiting.problem) void handle.signal(approveSignal, { gate: s.awaiting.gate, by: 'driver' });
      return false;
    },
    what,
    stepMs,
    2_000,
    fake,
  );
}

/** Runs one rollback case and checks it. */
export async function rollbackCase(env: TestWorkflowEnvironment, from: Phase, to: RollbackTarget): Promise<void> {
  const fake = new FakeActivities();
  const hold = HOLDS[from];
  if (hold.hold) fake.hold(hold.hold);
  const { worker, taskQueue } = await makeWorker(env, fake);
  const config = testConfig(uniqueName('t'), {
    readLadder: [100],
    soak: { readStepMs: 60_000, shadowWritesMs: 60_000, flipWritesMs: 60_000 },
    gates: { reads: 'auto', readSteps: 'manual', shadowWrites: 'auto', flipWrites: 'auto', dynamoOnly: 'manual' },
  });
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId: uniqueName('migrate'), args: [{ config }] });
    const tStart = Date.now();
    const before = await drive(env, handle, fake, (s) => hold.at(s, fake), `phase ${from}`);
    if (process.env.DEBUG_TIMING) console.log('drive took', Date.now() - tStart);
    const t0 = Date.now();
    const slicesBefore = fake.count('runBackfill');
    const mark = fake.flags.length;
    const result = await handle.executeUpdate(rollbackUpdate, { args: [{ to, by: 'test', reason: `from ${from}` }] });
    const want = rollbackFlags(to);
    expect(result).toMatchObject({ to, applied: true, readPercent: want.readPercent, writeMode: want.writeMode });
    if (process.env.DEBUG_TIMING) console.log('rollback took', Date.now() - t0);
    const after = await handle.query(statusQuery);
    // (the migration may already have moved on from `to`: the transition records where the rollback landed)
    const landed = after.transitions.filter((t) => t.kind === 'phase' && t.cause.startsWith('rolled back from'));
    expect(landed.map((t) => [t.from, t.to])).toEqual([[from, to]]);
    // writes first, one step at a time; reads only once writes are where the target wants them
    const moved = fake.flags.slice(mark);
    const lastWriteChange = moved.map((f) => f.writeMode).lastIndexOf(moved.length ? moved[moved.length - 1].writeMode : before.writeMode);
    for (let i = 0; i < moved.length; i++) {
      if (moved[i].readPercent !== before.readPercent) expect(moved[i].writeMode).toBe(want.writeMode);
      const prev = i === 0 ? before.writeMode : moved[i - 1].writeMode;
      expect(Math.abs(WRITE_MODES.indexOf(moved[i].writeMode) - WRITE_MODES.indexOf(prev))).toBeLessThanOrEqual(1);
    }
    expect(lastWriteChange).toBeGreaterThanOrEqual(-1);
    if (before.writeMode === 'dynamo-primary') {
      // behind the fence, background MySQL writes were drained before MySQL became primary again
      const fenceAt = fake.calls.findIndex((c) => c.name === 'setRoutingFlags' && (c.input as { writeMode: string }).writeMode === 'fenced' && (c.input as { cause: string }).cause.includes('rollback'));
      const drainAt = fake.calls.findIndex((c, i) => i > fenceAt && c.name === 'drainBackgroundWrites');
      const mysqlAt = fake.calls.findIndex((c, i) => i > fenceAt && c.name === 'setRoutingFlags' && (c.input as { writeMode: string }).writeMode === 'mysql-primary');
      expect(fenceAt).toBeGreaterThan(-1);
      expect(drainAt).toBeGreaterThan(fenceAt);
      expect(mysqlAt).toBeGreaterThan(drainAt);
    }
    if (hold.hold) fake.release(hold.hold);
    await drive(env, handle, fake, (s) => s.phase === 'complete', 'complete after rollback', 20_000);
    const out = await handle.result();
    expect(out.phase).toBe('complete');
    if (to === 'backfill') {
      // the copy starts over from the first key
      const again = fake.calls.filter((c) => c.name === 'runBackfill').map((c) => c.input as { cursor: string | null; rowsCopiedBefore: number });
      expect(again[slicesBefore]).toMatchObject({ cursor: null, rowsCopiedBefore: 0 });
    }
  });
}

export const ROLLBACK_SOURCES = Object.keys(HOLDS);
