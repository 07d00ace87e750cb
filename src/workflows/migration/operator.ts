/**
 * Rollback and abort, carried out by the main loop after an update handler accepted them. Both move the routing back
 * towards MySQL in the safe order — writes first (one mode at a time, through the write fence, background writes
 * drained and reconciled into MySQL before MySQL is primary again), reads after — so no acknowledged write is lost.
 */
import { control } from './activities';
import type { Background } from './background';
import { rollbackFlags } from './rules';
import type { Migration } from './runtime';

/** Carries out the pending rollback; the phase then runs forward again from its target. */
export async function doRollback(m: Migration): Promise<void> {
  const s = m.state;
  const req = s.pendingRollback;
  if (!req) return;
  m.inRollback = true;
  let applied = false;
  try {
    const from = s.phase;
    m.note({ kind: 'operator', from, to: req.to, cause: `rollback requested: ${req.reason ?? 'no reason given'}`, by: req.by });
    const f = rollbackFlags(req.to);
    await m.moveWrites(f.writeMode, `rollback to ${req.to}`);
    if (s.readPercent !== f.readPercent) await m.setFlags(f.readPercent, s.writeMode, `rollback to ${req.to}: reads after writes`);
    if (req.to === 'backfill') s.backfill = { ...s.backfill, cursor: null, rowsCopied: 0, done: false, rowsPerSecond: 0, waitingOn: null };
    if (req.to === 'backfill' || req.to === 'catch-up' || req.to === 'verify') s.verify = { progress: null, repairs: 0, passed: null };
    s.readSoaked = true;
    if (s.pendingReadPercent) {
      s.readPercentDone = s.pendingReadPercent.id;
      s.pendingReadPercent = null;
    }
    m.setPhase(req.to, `rolled back from ${from}`, req.by);
    applied = true;
  } finally {
    m.inRollback = false;
    s.rollbackDone = { id: req.id, applied };
    s.pendingRollback = null;
  }
}

/** Carries out the pending abort: routing back to MySQL, ETL and CDC stopped, created resources removed. */
export async function doAbort(m: Migration, bg: Background): Promise<void> {
  const s = m.state;
  const req = s.pendingAbort;
  if (!req) return;
  m.inAbort = true;
  m.note({ kind: 'operator', from: s.phase, to: 'aborted', cause: `abort requested: ${req.reason ?? 'no reason given'}`, by: req.by });
  if (s.pendingReadPercent) {
    s.readPercentDone = s.pendingReadPercent.id;
    s.pendingReadPercent = null;
  }
  if (s.created.flagsWritten) {
    await m.moveWrites('mysql-only', 'abort');
    if (s.readPercent !== 0) await m.setFlags(0, 'mysql-only', 'abort: reads back to MySQL');
  }
  await bg.stopEtl();
  const cdcId = s.cdcId;
  if (cdcId !== null && !s.cdcStopped) {
    await m.attempt('stop CDC', () => control.stopCdc.executeWithOptions({ summary: `abort: stop CDC ${cdcId} of ${m.label}` }, [{ ctx: m.ctx(), cdcId, cdc: m.config.cdc }]));
    s.cdcStopped = true;
  }
  const r = await m.attempt('abort cleanup', () =>
    control.abortCleanup.executeWithOptions({ summary: `abort: remove what the migration of ${m.label} created` }, [
      { ctx: m.ctx(), mappingFile: m.config.mappingFile, cdc: m.config.cdc, created: s.created, dropTarget: req.dropTarget },
    ]),
  );
  m.setPhase('aborted', `aborted; removed ${r.removed.join(', ') || 'nothing'}; kept ${r.kept.join(', ') || 'nothing'}`, req.by);
}
