/** Progress arithmetic shared by backfill and verification: rate over the run and ETA against an estimate. */

export interface RateEta {
  readonly rowsPerSecond: number;
  /** Seconds until `total` at the current rate; null when unknown (no rate yet, or past the estimate). */
  readonly etaSeconds: number | null;
}

/** Rate of `rowsThisRun` over `elapsedMs`, and the ETA for `done` of `total`. */
export function rateAndEta(rowsThisRun: number, elapsedMs: number, done: number, total: number): RateEta {
  const rowsPerSecond = elapsedMs > 0 ? (rowsThisRun * 1000) / elapsedMs : 0;
  const left = total - done;
  const etaSeconds = rowsPerSecond > 0 && left > 0 ? Math.round(left / rowsPerSecond) : left <= 0 ? 0 : null;
  return { rowsPerSecond: Math.round(rowsPerSecond * 10) / 10, etaSeconds };
}
