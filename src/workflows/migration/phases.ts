/**
 * The forward phases of a table migration. Each function performs ONE step of its phase and returns (the main loop
 * calls it again until the phase changes), so that every step is a safe point for pause, rollback, abort and
 * continue-as-new, and re-entering a phase after any of them resumes from the state it carried (cursor, ladder step).
 */
import { patched } from '@temporalio/workflow';
import { isDynamoPrimary } from '../../shared/phases';
import type { ShadowStats, VerifyProgress } from '../../shared/activity-contract';
import { control, longOptions } from './activities';
import type { Background } from './background';
import { sample } from './background';
import { Interrupted, type InterruptOn, type Migration } from './runtime';

/** Patch ids of control-flow changes (replayed by test/workflows/replay.test.ts against recorded histories). */
export const PATCH_DLQ_GATE_BEFORE_READS = 'dlq-gate-before-reads';
export const PATCH_KEEP_FINISHED_VERIFY = 'keep-finished-verify';

const PAUSABLE: InterruptOn = { pause: true };
const READS: InterruptOn = { pause: true, readPercent: true };

async function preflight(m: Migration): Promise<void> {
  const s = m.state;
  const base = { ctx: m.ctx(), mappingFile: m.config.mappingFile };
  const r = await m.attempt('preflight', () =>
    control.preflight.executeWithOptions({ summary: `preflight ${m.label}: binlog, GTID, privileges, primary key, mapping` }, [{ ...base, cdc: m.config.cdc }]),
  PAUSABLE);
  s.backfill.rowsTotal = r.estimatedRows;
  const t = await m.attempt('ensure target table', () =>
    control.ensureTarget.executeWithOptions({ summary: `target table of ${m.label} (${m.config.createTarget ? 'create if missing' : 'must exist'})` }, [{ ...base, create: m.config.createTarget }]),
  PAUSABLE);
  s.targetTable = t.targetTable;
  s.created = { ...s.created, targetTable: t.targetTable, createdTarget: t.created || s.created.createdTarget === true };
  m.setPhase('start-cdc', `preflight passed (${r.checks.length} checks, ~${r.estimatedRows} rows); target ${t.targetTable}${t.created ? ' created' : ''}`);
}

async function startCdc(m: Migration): Promise<void> {
  const s = m.state;
  const r = await m.attempt('start CDC', () =>
    control.startCdc.executeWithOptions({ summary: `start ${m.config.cdc.source} CDC of ${m.label} → ${m.config.cdc.topic}` }, [
      { ctx: m.ctx(), cdc: m.config.cdc, mappingFile: m.config.mappingFile, resumeCdcId: s.cdcId ?? undefined },
    ]),
  PAUSABLE);
  s.cdcId = r.cdcId;
  s.created = {
    ...s.created,
    cdcId: r.cdcId,
    topic: r.topic,
    createdTopic: r.createdTopic || s.created.createdTopic === true,
    createdTask: r.createdTask || s.created.createdTask === true,
    group: m.config.etl.group,
  };
  if (s.applyMode === null) {
    const t = m.config.barrierTimeoutMs;
    await m.attempt('set apply mode exclusive', () =>
      control.setApplyMode.executeWithOptions({ summary: `apply mode ${m.label}: exclusive (batched writes)` }, [
        { ctx: m.ctx(), mappingFile: m.config.mappingFile, topic: m.config.cdc.topic, group: m.config.etl.group, mode: 'exclusive', timeoutMs: t },
      ]),
    PAUSABLE);
    s.applyMode = 'exclusive';
  }
  m.setPhase('backfill', `CDC ${r.cdcId} publishing from ${r.startPosition}`);
}

async function backfill(m: Migration): Promise<void> {
  const s = m.state;
  const b = s.backfill;
  const cfg = m.config.backfill;
  const input = {
    ctx: m.ctx(),
    mappingFile: m.config.mappingFile,
    topic: m.config.cdc.topic,
    cursor: b.cursor,
    maxRowsPerSecond: cfg.maxRowsPerSecond,
    parallelism: cfg.parallelism,
    targetChunkMs: cfg.targetChunkMs,
    sliceMs: m.config.sliceMs,
    rowsCopiedBefore: b.rowsCopied,
    group: m.config.etl.group,
    maxLagMs: cfg.maxLagMs,
    maxLagMessages: cfg.maxLagMessages,
  };
  const { result, interrupted } = await m.attempt('backfill', () =>
    m.runLong(() => control.runBackfill.executeWithOptions({ ...longOptions(m.config.sliceMs), summary: `backfill ${m.label} from ${b.cursor === null ? 'the first key' : 'the saved cursor'} (${b.rowsCopied} rows so far)` }, [input]), PAUSABLE),
  PAUSABLE);
  if (result) {
    s.backfill = { cursor: result.cursor, rowsCopied: result.rowsCopied, rowsTotal: Math.max(result.rowsTotalEstimate, b.rowsTotal), rowsPerSecond: result.rowsPerSecond, done: result.done, throttles: b.throttles + result.throttles, waitingOn: result.waitingOn ?? null };
  }
  if (interrupted) throw new Interrupted();
  if (s.backfill.done) m.setPhase('catch-up', `backfill copied ${s.backfill.rowsCopied} rows`);
}

/** Stops for an operator when more events were dead-lettered than the threshold (or than an operator accepted). */
async function dlqGate(m: Migration): Promise<void> {
  const s = m.state;
  await m.attempt('describe ETL', () => sample(m), PAUSABLE);
  const limit = Math.max(m.config.thresholds.maxDlqEvents, s.dlqAccepted);
  if (s.lags.dlqCount > limit) {
    await m.waitForOperator('dlq', `${s.lags.dlqCount} events dead-lettered (threshold ${limit}); inspect the DLQ, then approve to accept them`, true, PAUSABLE);
    s.dlqAccepted = s.lags.dlqCount;
  }
}

/** One wait for the ETL to apply everything on the topic; true when it did. */
async function catchUpOnce(m: Migration): Promise<boolean> {
  const input = { ctx: m.ctx(), mappingFile: m.config.mappingFile, topic: m.config.cdc.topic, group: m.config.etl.group, through: 'topic-end' as const, maxLagEvents: m.config.thresholds.maxCatchUpLagEvents, sliceMs: m.config.sliceMs };
  const { result, interrupted } = await m.attempt('ETL catch-up', () =>
    m.runLong(() => control.awaitEtlCatchUp.executeWithOptions({ ...longOptions(m.config.sliceMs), summary: `ETL of ${m.label} catches up with the topic` }, [input]), PAUSABLE),
  PAUSABLE);
  if (interrupted) throw new Interrupted();
  return result?.caughtUp === true;
}

async function catchUp(m: Migration): Promise<void> {
  await dlqGate(m);
  if (await catchUpOnce(m)) m.setPhase('verify', 'ETL caught up with the topic');
}

async function verify(m: Migration): Promise<void> {
  const s = m.state;
  const v = s.verify;
  // v2: a verification that finished as a pause interrupted it is judged on resume, not run again from the first key
  // (a done, unjudged progress exists only then: a judged one changes the phase, sets `passed`, or is cleared by repair).
  if (v.progress?.done && v.passed === null && patched(PATCH_KEEP_FINISHED_VERIFY)) return judgeVerification(m, v.progress);
  const prev = v.progress && !v.progress.done ? v.progress : null;
  const cfg = m.config.verify;
  const input = {
    ctx: m.ctx(),
    mappingFile: m.config.mappingFile,
    mode: prev ? ('resume' as const) : cfg.mode,
    sampleFraction: cfg.sampleFraction,
    cursor: prev?.cursor ?? null,
    sliceMs: m.config.sliceMs,
    before: prev ? { rowsCompared: prev.rowsCompared, missing: prev.missing, extra: prev.extra, different: prev.different } : undefined,
    reportPath: prev?.reportPath,
    topic: m.config.cdc.topic,
    group: m.config.etl.group,
  };
  const { result, interrupted } = await m.attempt('verify', () =>
    m.runLong(() => control.verify.executeWithOptions({ ...longOptions(m.config.sliceMs), summary: `verify ${m.label} (${input.mode})` }, [input]), PAUSABLE),
  PAUSABLE);
  if (result) v.progress = result;
  if (interrupted) throw new Interrupted();
  if (!result?.done) return;
  return judgeVerification(m, result);
}

/** Passes a finished verification, or repairs its mismatches (then verifies again), or waits for an operator. */
async function judgeVerification(m: Migration, result: VerifyProgress): Promise<void> {
  const v = m.state.verify;
  const cfg = m.config.verify;
  const mismatches = result.missing + result.extra + result.different;
  const max = m.config.thresholds.maxVerifyMismatches;
  if (mismatches <= max) {
    v.passed = true;
    m.setPhase('read-cutover', `verification passed: ${result.rowsCompared} rows compared, ${mismatches} mismatches`);
    return;
  }
  if (v.repairs < cfg.repairAttempts) {
    const r = await m.attempt('repair', () =>
      control.repair.executeWithOptions({ summary: `repair ${mismatches} mismatches of ${m.label}` }, [{ ctx: m.ctx(), mappingFile: m.config.mappingFile, topic: m.config.cdc.topic, group: m.config.etl.group, reportPath: result.reportPath }]),
    PAUSABLE);
    v.repairs += 1;
    v.progress = null; // before the catch-up, which a pause can interrupt: the repaired run is not judged again
    m.note({ kind: 'gate', to: 'verify', cause: `verification found ${mismatches} mismatches; ${r.keysRequeued} keys re-applied (repair ${v.repairs}/${cfg.repairAttempts}), verifying again` });
    while (!(await catchUpOnce(m)));
    return;
  }
  v.passed = false;
  await m.waitForOperator('verify', `verification found ${mismatches} mismatches after ${v.repairs} repairs (report ${result.reportPath}); approve to accept them`, true, PAUSABLE);
  v.passed = true;
  m.setPhase('read-cutover', `verification mismatches (${mismatches}) accepted by an operator`);
}

function statsSince(m: Migration, since: string): Promise<ShadowStats> {
  return m.attempt('read shadow stats', () =>
    control.readShadowStats.executeWithOptions({ summary: `shadow comparisons of ${m.label} since ${since}` }, [{ ctx: m.ctx(), since }]),
  );
}

/** Evaluates a soak's counts against the thresholds; a breach waits for an operator, a manual gate for approve. */
async function gate(m: Migration, name: string, breach: string | null, manual: boolean, what: string, on: InterruptOn): Promise<void> {
  if (breach) await m.waitForOperator(name, `${breach}; approve to continue anyway, or roll back`, true, on);
  else if (manual) await m.waitForOperator(name, `${what} held for its soak within the thresholds; approve to go on`, false, on);
  m.note({ kind: 'gate', to: name, cause: breach ? 'passed by an operator despite a breach' : manual ? 'approved' : 'passed automatically' });
}

function readBreach(m: Migration, st: ShadowStats): string | null {
  const t = m.config.thresholds;
  const rate = st.readsCompared > 0 ? st.readMismatches / st.readsCompared : 0;
  if (st.readMismatches > t.maxShadowReadMismatches || rate > t.maxShadowReadMismatchRate) {
    return `${st.readMismatches} shadow-read mismatches of ${st.readsCompared} compared (thresholds ${t.maxShadowReadMismatches}, rate ${t.maxShadowReadMismatchRate})`;
  }
  return null;
}

async function readCutover(m: Migration): Promise<void> {
  const s = m.state;
  const pending = s.pendingReadPercent;
  if (pending) {
    await m.setFlags(pending.percent, s.writeMode, `read percentage set to ${pending.percent}% by ${pending.by ?? 'an operator'}`);
    s.readSoaked = pending.percent === 0;
    s.readPercentDone = pending.id;
    s.pendingReadPercent = null;
    return;
  }
  if (!s.readSoaked) {
    const since = m.now();
    await m.soak(m.config.soak.readStepMs, READS);
    const st = await statsSince(m, since);
    s.shadow = st;
    await gate(m, `reads-${s.readPercent}`, readBreach(m, st), m.config.gates.readSteps === 'manual', `reads at ${s.readPercent}%`, READS);
    s.readSoaked = true;
    return;
  }
  const next = m.config.readLadder.find((p) => p > s.readPercent);
  if (next === undefined) {
    m.setPhase('shadow-writes', `reads at ${s.readPercent}% passed their gate`);
    return;
  }
  // v2: events dead-lettered while verifying must not go unnoticed before the first read is served from DynamoDB.
  if (s.readPercent === 0 && patched(PATCH_DLQ_GATE_BEFORE_READS)) await dlqGate(m);
  if (s.readPercent === 0 && m.config.gates.reads === 'manual') {
    await m.waitForOperator('reads', 'verification passed; approve to start serving reads from DynamoDB', false, READS);
  }
  await m.setFlags(next, s.writeMode, `read ladder: ${next}% of reads to DynamoDB`);
  s.readSoaked = false;
}

async function shadowWrites(m: Migration): Promise<void> {
  const s = m.state;
  if (s.writeMode === 'mysql-only') {
    if (m.config.gates.shadowWrites === 'manual') await m.waitForOperator('shadow-writes', 'reads at 100%; approve to start shadow writes (MySQL first, DynamoDB shadow)', false, PAUSABLE);
    await m.moveWrites('mysql-primary', 'shadow writes: MySQL first, DynamoDB in the background');
  }
  const since = m.now();
  await m.soak(m.config.soak.shadowWritesMs, PAUSABLE);
  const st = await statsSince(m, since);
  s.shadow = st;
  const t = m.config.thresholds;
  const breach = st.shadowWriteErrors > t.maxShadowWriteErrors ? `${st.shadowWriteErrors} failed shadow writes of ${st.shadowWrites} (threshold ${t.maxShadowWriteErrors})` : readBreach(m, st);
  await gate(m, 'shadow-writes-soak', breach, false, 'shadow writes', PAUSABLE);
  m.setPhase('flip-writes', 'shadow writes soaked within the thresholds');
}

async function flipWrites(m: Migration): Promise<void> {
  const s = m.state;
  if (!isDynamoPrimary(s.writeMode)) {
    if (m.config.gates.flipWrites === 'manual') await m.waitForOperator('flip-writes', 'shadow writes are clean; approve to make DynamoDB the primary store (MySQL in the background)', false, PAUSABLE);
    await m.moveWrites('dynamo-primary', 'flip writes: DynamoDB first, MySQL in the background');
  }
  const since = m.now();
  await m.soak(m.config.soak.flipWritesMs, PAUSABLE);
  const st = await statsSince(m, since);
  s.shadow = st;
  const t = m.config.thresholds;
  const breach = st.backgroundWriteErrors > t.maxShadowWriteErrors ? `${st.backgroundWriteErrors} failed background MySQL writes of ${st.backgroundWrites} (threshold ${t.maxShadowWriteErrors})` : null;
  await gate(m, 'flip-writes-soak', breach, false, 'DynamoDB-first writes', PAUSABLE);
  m.setPhase('dynamo-only', 'DynamoDB-first writes soaked within the thresholds');
}

async function dynamoOnly(m: Migration): Promise<void> {
  const s = m.state;
  if (s.writeMode !== 'dynamo-only') {
    if (m.config.gates.dynamoOnly === 'manual') {
      await m.waitForOperator('dynamo-only', 'approve to stop writing MySQL: this is the last point from which rollback is possible', false, PAUSABLE);
    }
    s.mysqlWritesStoppedAt = m.now();
    await m.moveWrites('dynamo-only', 'DynamoDB only: MySQL stops receiving writes');
  }
  m.setPhase('drain-cdc', 'the application writes DynamoDB only');
}

async function drainCdc(m: Migration): Promise<void> {
  const s = m.state;
  const cdcId = s.cdcId ?? '';
  const input = { ctx: m.ctx(), cdcId, cdc: m.config.cdc, group: m.config.etl.group, quietMs: m.config.drainQuietMs, sliceMs: m.config.sliceMs };
  const { result, interrupted } = await m.attempt('drain CDC', () =>
    m.runLong(() => control.drainCdc.executeWithOptions({ ...longOptions(m.config.sliceMs), summary: `drain CDC of ${m.label}: quiet for ${m.config.drainQuietMs} ms, ETL lag 0` }, [input]), PAUSABLE),
  PAUSABLE);
  if (interrupted) throw new Interrupted();
  if (result?.drained) m.setPhase('stop-cdc', `CDC quiet for ${result.quietForMs} ms with ETL lag ${result.etlLagEvents}`);
}

async function stopCdc(m: Migration, bg: Background): Promise<void> {
  const s = m.state;
  const cdcId = s.cdcId ?? '';
  const stopped = await m.attempt('stop CDC', () =>
    control.stopCdc.executeWithOptions({ summary: `stop CDC ${cdcId} of ${m.label}` }, [{ ctx: m.ctx(), cdcId, cdc: m.config.cdc }]),
  );
  s.cdcStopped = true;
  while (!(await catchUpOnce(m)));
  await bg.stopEtl();
  const c = await m.attempt('clean up tombstones', () =>
    control.cleanup.executeWithOptions({ summary: `remove tombstones of ${m.label}` }, [{ ctx: m.ctx(), mappingFile: m.config.mappingFile }]),
  );
  m.setPhase('complete', `CDC stopped at ${stopped.finalPosition ?? 'its last position'}; ${c.tombstonesDeleted} tombstones removed`);
}

/** Performs one step of the current phase. */
export async function step(m: Migration, bg: Background): Promise<void> {
  switch (m.state.phase) {
    case 'preflight': return preflight(m);
    case 'start-cdc': return startCdc(m);
    case 'backfill': return backfill(m);
    case 'catch-up': return catchUp(m);
    case 'verify': return verify(m);
    case 'read-cutover': return readCutover(m);
    case 'shadow-writes': return shadowWrites(m);
    case 'flip-writes': return flipWrites(m);
    case 'dynamo-only': return dynamoOnly(m);
    case 'drain-cdc': return drainCdc(m);
    case 'stop-cdc': return stopCdc(m, bg);
    default: return;
  }
}
