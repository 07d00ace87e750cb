/**
 * The verify activity's input and heartbeat (src/shared/activity-contract.ts) ⇄ runVerify, so the activity adapter
 * stays a thin shell. `reportPath` is the JSON report; the complete mismatch list is `<reportPath>.mismatches.jsonl`
 * next to it (repair reads it with readMismatches).
 */
import * as path from 'node:path';
import type { VerifyInput, VerifyProgress } from '../../shared/activity-contract';
import type { VerifyCountsFull } from './report';
import type { VerifyOptions, VerifyRunProgress } from './verifier';

/** The JSONL file holding every mismatch of the report at `reportPath`. */
export function mismatchFileOf(reportPath: string): string {
  return `${reportPath}.mismatches.jsonl`;
}

/** A report path for a new run: `<dir>/<migration id>-<time>.json` (file-name safe). */
export function newReportPath(dir: string, migrationId: string, now = new Date()): string {
  return path.join(dir, `${migrationId.replace(/[^A-Za-z0-9_.-]/g, '_')}-${now.toISOString().replace(/[:.]/g, '-')}.json`);
}

/** Options for a slice; `heartbeat` (the activity's last heartbeat, a VerifyProgress) wins over the input's cursor. */
export function verifyOptionsFrom(input: VerifyInput, reportPath: string, heartbeat?: VerifyProgress): VerifyOptions {
  const counts = heartbeat ?? input.before;
  const before: VerifyCountsFull | undefined = counts
    ? { rowsCompared: counts.rowsCompared, missing: counts.missing, extra: counts.extra, different: counts.different, itemsScanned: 0, resolvedInFlight: 0 }
    : undefined;
  return {
    schema: input.ctx.source.database,
    table: input.ctx.source.table,
    mode: input.mode,
    sampleFraction: input.sampleFraction,
    cursor: heartbeat?.cursor ?? input.cursor,
    sliceMs: input.sliceMs,
    before,
    reportFile: reportPath,
    mismatchFile: mismatchFileOf(reportPath),
  };
}

export function verifyProgressOf(p: VerifyRunProgress, reportPath: string): VerifyProgress {
  const { rowsCompared, missing, extra, different } = p.counts;
  return { done: p.done, cursor: p.cursor, rowsCompared, missing, extra, different, reportPath, stoppedBy: p.stoppedBy };
}
