/**
 * The demo's evidence: `writeDemoReport` writes report.json (everything), report.md (the verdict and the tables a
 * reader needs: requests ok/failed, acknowledged writes lost, read/write p50/p99 per phase, verification, time per
 * phase) and report.png (latency, throughput and lag over time with phase boundaries, ./chart.ts).
 *
 * The verdict is FAILED when a request failed, the independent checker found a violation or a lost acknowledged
 * write, or a verification failed; PASSED only when none of that happened, the checker ran, and the run left nothing
 * out (`notDone` empty); otherwise INCOMPLETE.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LatencySummary, TimelinePoint } from '../../src/loadgen/metrics';
import { renderChartPng, type Marker, type Panel } from './chart';

/** One phase of one table's migration, in seconds since the run started. */
export interface PhaseSpan {
  readonly table: string;
  readonly phase: string;
  readonly startS: number;
  readonly endS?: number;
}

/** Replication lag samples (null where unknown). */
export interface LagPoint {
  readonly t: number;
  readonly cdcLagMs?: number | null;
  readonly etlLagMs?: number | null;
}

/** One table's verification outcome as the report shows it. */
export interface VerificationResult {
  readonly table: string;
  readonly ok: boolean;
  readonly rowsCompared: number;
  readonly mismatches: number;
}

/** Latency and outcome of the requests completed during one window (a phase, or the whole run). */
export interface WindowStats {
  readonly label: string;
  readonly fromS: number;
  readonly toS: number;
  readonly ok: number;
  readonly failed: number;
  readonly read: LatencySummary;
  readonly write: LatencySummary;
}

/** The part of the checker's report the demo report carries. */
export interface CheckSummary {
  readonly passed: boolean;
  readonly lostWrites: number;
  readonly acknowledgedWrites: number;
  readonly keysChecked: number;
  readonly keysWithViolations: number;
  readonly violationsByKind: Readonly<Record<string, number>>;
  /** Reads judged, and how many saw an overwritten (stale) or impossible (phantom) value. */
  readonly reads?: { readonly checked: number; readonly stale: number; readonly phantom: number };
  /** Path of the checker's own Markdown report, relative to the demo report. */
  readonly report?: string;
}

/** Everything the demo report shows; written whole to report.json. */
export interface DemoReportInput {
  readonly title: string;
  readonly startedAt: string;
  readonly durationS: number;
  readonly seed?: { readonly database: string; readonly rows: Readonly<Record<string, number>>; readonly seconds: number };
  readonly load: { readonly instances: number; readonly ratePerInstance: number; readonly requests: number; readonly ok: number; readonly failed: number };
  readonly timeline: readonly TimelinePoint[];
  /** Per-phase (and whole-run) latency windows. */
  readonly windows: readonly WindowStats[];
  readonly phases: readonly PhaseSpan[];
  readonly lag: readonly LagPoint[];
  readonly verification: readonly VerificationResult[];
  readonly check?: CheckSummary;
  /** What this run did not do (an honest list printed at the top). */
  readonly notDone?: readonly string[];
  readonly temporalUi?: string;
}

/** PASSED / FAILED / INCOMPLETE for `r` (see the module comment). */
export function verdict(r: DemoReportInput): 'PASSED' | 'FAILED' | 'INCOMPLETE' {
  if (r.load.failed > 0 || (r.check && (!r.check.passed || r.check.lostWrites > 0)) || r.verification.some((v) => !v.ok)) return 'FAILED';
  return r.check && !r.notDone?.length ? 'PASSED' : 'INCOMPLETE';
}

const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** The Markdown report. */
export function demoReportMarkdown(r: DemoReportInput, pngName = 'report.png'): string {
  const v = verdict(r);
  const lines = [`# ${r.title}: ${v}`, '', `Started ${r.startedAt}, ran ${r.durationS.toFixed(1)} s.${r.temporalUi ? ` Temporal UI: ${r.temporalUi}` : ''}`, ''];
  if (r.notDone?.length) lines.push('**Not done in this run:**', '', ...r.notDone.map((n) => `- ${n}`), '');
  lines.push(
    '| | |',
    '|---|---:|',
    `| requests | ${r.load.requests} |`,
    `| ok | ${r.load.ok} |`,
    `| failed | **${r.load.failed}** |`,
    `| acknowledged writes | ${r.check?.acknowledgedWrites ?? 'not checked'} |`,
    `| acknowledged writes lost | **${r.check ? r.check.lostWrites : 'not checked'}** |`,
    `| application instances × rate | ${r.load.instances} × ${r.load.ratePerInstance}/s |`,
  );
  if (r.seed) lines.push(`| seeded rows (${r.seed.database}) | ${Object.entries(r.seed.rows).map(([t, n]) => `${t} ${n}`).join(', ')} in ${r.seed.seconds.toFixed(1)} s |`);
  if (r.check) {
    const reads = r.check.reads ? ` Reads judged: ${r.check.reads.checked}, stale ${r.check.reads.stale}, phantom ${r.check.reads.phantom}.` : '';
    lines.push('', `Checker: ${r.check.passed ? 'passed' : 'FAILED'}; ${r.check.keysChecked} keys checked, ${r.check.keysWithViolations} with violations (${Object.entries(r.check.violationsByKind).map(([k, n]) => `${k} ${n}`).join(', ')}).${reads}${r.check.report ? ` Details: [${r.check.report}](${r.check.report}).` : ''}`);
  }
  lines.push('', '## Latency per phase (ms)', '', '| window | seconds | ok | failed | read p50 | read p99 | write p50 | write p99 |', '|---|---|---:|---:|---:|---:|---:|---:|');
  for (const w of r.windows) lines.push(`| ${w.label} | ${w.fromS.toFixed(0)}–${w.toS.toFixed(0)} | ${w.ok} | ${w.failed} | ${ms(w.read.p50Ms)} | ${ms(w.read.p99Ms)} | ${ms(w.write.p50Ms)} | ${ms(w.write.p99Ms)} |`);
  lines.push('', '## Verification', '');
  if (r.verification.length === 0) lines.push('No verification ran.');
  else lines.push('| table | result | rows compared | mismatches |', '|---|---|---:|---:|', ...r.verification.map((x) => `| ${x.table} | ${x.ok ? 'ok' : 'FAILED'} | ${x.rowsCompared} | ${x.mismatches} |`));
  lines.push('', '## Time per phase', '');
  if (r.phases.length === 0) lines.push('No migration phases ran.');
  else lines.push('| table | phase | start (s) | duration (s) |', '|---|---|---:|---:|', ...r.phases.map((p) => `| ${p.table} | ${p.phase} | ${p.startS.toFixed(1)} | ${p.endS === undefined ? 'running' : (p.endS - p.startS).toFixed(1)} |`));
  lines.push('', `![latency, throughput and lag over time](${pngName})`, '');
  return lines.join('\n');
}

/** The chart panels for `r`. */
export function demoPanels(r: DemoReportInput): Panel[] {
  const tl = r.timeline;
  const lat = (pick: (p: TimelinePoint) => LatencySummary, which: 'p50Ms' | 'p99Ms') => tl.map((p) => ({ t: p.t, y: pick(p).count ? Math.max(0.01, pick(p)[which]) : null }));
  return [
    {
      title: 'Request latency',
      yLabel: 'ms (log)',
      logScale: true,
      series: [
        { label: 'read p50', points: lat((p) => p.read, 'p50Ms'), color: '#1f77b4' },
        { label: 'read p99', points: lat((p) => p.read, 'p99Ms'), color: '#1f77b4', dashed: true },
        { label: 'write p50', points: lat((p) => p.write, 'p50Ms'), color: '#d62728' },
        { label: 'write p99', points: lat((p) => p.write, 'p99Ms'), color: '#d62728', dashed: true },
      ],
    },
    {
      title: 'Throughput',
      yLabel: 'requests per second',
      series: [
        { label: 'ok', points: tl.map((p) => ({ t: p.t, y: p.ok })), color: '#2ca02c' },
        { label: 'failed', points: tl.map((p) => ({ t: p.t, y: p.failed })), color: '#d62728' },
      ],
    },
    {
      title: r.lag.length ? 'Replication lag (worst table)' : 'Replication lag: no samples (no migration ran)',
      yLabel: 'ms',
      series: [
        { label: 'CDC lag', points: r.lag.map((l) => ({ t: l.t, y: l.cdcLagMs ?? null })), color: '#9467bd' },
        { label: 'ETL lag (backlog ÷ apply rate)', points: r.lag.map((l) => ({ t: l.t, y: l.etlLagMs ?? null })), color: '#ff7f0e' },
      ],
    },
  ];
}

/**
 * Phase starts as chart markers: with one table every start ("table: phase"); with several, one marker per phase
 * where the first table entered it (labelled with the phase only: per-table times are in the report's table), so
 * the labels stay readable.
 */
export function phaseMarkers(phases: readonly PhaseSpan[]): Marker[] {
  if (new Set(phases.map((p) => p.table)).size <= 1) return phases.map((p) => ({ t: p.startS, label: `${p.table}: ${p.phase}` }));
  const first = new Map<string, number>();
  for (const p of phases) first.set(p.phase, Math.min(first.get(p.phase) ?? Number.POSITIVE_INFINITY, p.startS));
  return [...first].map(([phase, t]) => ({ t, label: phase })).sort((a, b) => a.t - b.t);
}

/** Writes report.json, report.md and report.png into `dir`; returns their paths. */
export function writeDemoReport(dir: string, r: DemoReportInput): { json: string; markdown: string; png: string; verdict: ReturnType<typeof verdict> } {
  fs.mkdirSync(dir, { recursive: true });
  const json = path.join(dir, 'report.json');
  const markdown = path.join(dir, 'report.md');
  const png = path.join(dir, 'report.png');
  fs.writeFileSync(json, `${JSON.stringify({ verdict: verdict(r), ...r }, null, 2)}\n`);
  fs.writeFileSync(markdown, demoReportMarkdown(r, path.basename(png)));
  fs.writeFileSync(png, renderChartPng(demoPanels(r), phaseMarkers(r.phases)));
  return { json, markdown, png, verdict: verdict(r) };
}
