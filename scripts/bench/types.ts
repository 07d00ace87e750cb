/**
 * The contract between `npm run bench` (scripts/bench.ts) and each area's benchmark module
 * (scripts/bench/<area>.ts, exporting `run`). Every figure is printed beside a baseline measured in the same run.
 */

export interface BenchFigure {
  /** What was measured, e.g. "ETL apply". */
  readonly name: string;
  readonly value: number;
  /** e.g. "events/s", "ms p99". */
  readonly unit: string;
  /** What the baseline is, e.g. "raw BatchWriteItem ingest of the same items". */
  readonly baselineName: string;
  readonly baseline: number;
  /** true when a higher value is better (throughput); false for latency and memory. */
  readonly higherIsBetter: boolean;
  /** The goal for value/baseline, when the issue sets one (e.g. 0.85). */
  readonly goalRatio?: number;
  /** Anything a reader needs to interpret the figure (sizes, rates, peak memory). */
  readonly note?: string;
}

export interface BenchContext {
  /** Scale knob: 1 = the default few-minute run; tests may pass less. */
  readonly scale: number;
  log(message: string): void;
}

/** Each scripts/bench/<area>.ts exports `run` with this type. */
export type BenchModule = { run(ctx: BenchContext): Promise<BenchFigure[]> };
