/**
 * Rendering of benchmark results for `npm run bench`: a terminal table and the Markdown section of
 * docs/benchmarks.md. Ratio = value / baseline; a goal (when the module sets one) is met when the ratio is at least
 * the goal for higher-is-better figures and at most the goal for lower-is-better ones.
 */
import * as os from 'node:os';
import type { BenchFigure } from './types';

/** One module's figures (or its error), time and the process's peak RSS after it. */
export interface AreaResult {
  readonly area: string;
  readonly figures: readonly BenchFigure[];
  readonly seconds: number;
  /** Peak RSS of the bench process after this area (cumulative maximum), MB. */
  readonly peakRssMb: number;
  readonly error?: string;
}

/** The machine a run happened on. */
export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly node: string;
  readonly os: string;
  readonly peakRssMb: number;
  /** 1-minute load average when the run started: other work on the machine makes figures noisier. */
  readonly loadAvgAtStart?: number;
}

/** The machine the run happened on. */
export function machineDescription(peakRssMb: number, loadAvgAtStart?: number): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: os.totalmem() / 1024 ** 3,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    peakRssMb,
    loadAvgAtStart,
  };
}

/** A number with about 3 significant digits, no exponent. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** value / baseline, or NaN when the baseline is 0. */
export function ratio(f: BenchFigure): number {
  return f.baseline === 0 ? Number.NaN : f.value / f.baseline;
}

/** "met", "MISSED" or "" (no goal). */
export function goalVerdict(f: BenchFigure): string {
  if (f.goalRatio === undefined) return '';
  const r = ratio(f);
  return (f.higherIsBetter ? r >= f.goalRatio : r <= f.goalRatio) ? 'met' : 'MISSED';
}

function goalText(f: BenchFigure): string {
  return f.goalRatio === undefined ? '' : `${f.higherIsBetter ? '≥' : '≤'} ${fmt(f.goalRatio)} (${goalVerdict(f)})`;
}

function rows(results: readonly AreaResult[]): string[][] {
  return results.flatMap((r) =>
    r.error
      ? [[r.area, 'FAILED', '', '', '', '', r.error.split('\n')[0]]]
      : r.figures.map((f) => [r.area, f.name, `${fmt(f.value)} ${f.unit}`, `${fmt(f.baseline)} ${f.unit} (${f.baselineName})`, `${fmt(ratio(f))}×`, goalText(f), f.note ?? '']),
  );
}

const HEAD = ['area', 'figure', 'value', 'baseline (same run)', 'ratio', 'goal', 'note'];

/** A plain-text table for the terminal. */
export function renderTable(results: readonly AreaResult[], m: Machine): string {
  const all = [HEAD, ...rows(results)];
  const widths = HEAD.map((_, c) => Math.min(60, Math.max(...all.map((r) => r[c].length))));
  const line = (r: string[]): string => r.map((cell, c) => cell.slice(0, 60).padEnd(widths[c])).join('  ').trimEnd();
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line), '', machineLine(m)].join('\n');
}

function machineLine(m: Machine): string {
  const load = m.loadAvgAtStart === undefined ? '' : `; load average ${fmt(m.loadAvgAtStart)} at the start`;
  return `${m.cpuModel}, ${m.cores} cores, ${fmt(m.memoryGb)} GB RAM, Node ${m.node}, ${m.os}; peak RSS of the bench process ${fmt(m.peakRssMb)} MB${load}`;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** The generated Markdown section of docs/benchmarks.md. */
export function renderMarkdown(results: readonly AreaResult[], m: Machine, run: { started: Date; scale: number }): string {
  const out = [
    `Run ${run.started.toISOString()} at scale ${run.scale} on: ${machineLine(m)}.`,
    '',
    `| ${HEAD.join(' | ')} |`,
    `|${HEAD.map((_, i) => (i >= 2 && i <= 4 ? '---:' : '---')).join('|')}|`,
    ...rows(results).map((r) => `| ${r.map(cell).join(' | ')} |`),
    '',
    '| area | seconds | peak RSS after it (MB) |',
    '|---|---:|---:|',
    ...results.map((r) => `| ${r.area} | ${fmt(r.seconds)} | ${fmt(r.peakRssMb)} |`),
  ];
  return out.join('\n');
}
