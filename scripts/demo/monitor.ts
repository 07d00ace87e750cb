/**
 * Watches running table migrations for the demo: polls each table's `status` (src/shared/messages.ts, read through
 * a `StatusSource` so tests need no Temporal), turns it into the report's phase spans, lag samples and verification
 * results, and draws one live terminal bar per table (rows copied, phase, lag, ETA).
 *
 * Phase spans come from the workflow's own `phase` transitions (workflow time) when it lists them, else from the
 * sampled phase; times are seconds since `origin` (the demo's t = 0, epoch ms). A status that cannot be read is
 * skipped (the next poll tries again), so a busy worker never stops the demo.
 */
import { MultiBar, type SingleBar } from 'cli-progress';
import type { MigrationStatus } from '../../src/shared/messages';
import type { LagPoint, PhaseSpan, VerificationResult } from './report';

/** The current status of every migrating table. */
export type StatusSource = () => Promise<readonly MigrationStatus[]>;

const TERMINAL = new Set(['complete', 'aborted', 'failed']);

/** Samples migration statuses into the report's phases, lag and verification; never throws on a failed poll. */
export class MigrationMonitor {
  private readonly sampled = new Map<string, PhaseSpan[]>();
  private readonly latest = new Map<string, MigrationStatus>();
  private readonly verified = new Map<string, NonNullable<MigrationStatus['verification']>>();
  private readonly lagPoints: LagPoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private multibar: MultiBar | undefined;
  private readonly bars = new Map<string, SingleBar>();

  constructor(
    private readonly origin: number,
    private readonly source: StatusSource,
    private readonly opts: { readonly intervalMs?: number; readonly bars?: boolean } = {},
  ) {}

  /** Takes one sample now. */
  async poll(now = Date.now()): Promise<void> {
    let statuses: readonly MigrationStatus[];
    try {
      statuses = await this.source();
    } catch {
      return;
    }
    const t = (now - this.origin) / 1000;
    let cdc: number | null = null;
    let etl: number | null = null;
    for (const s of statuses) {
      const previous = this.latest.get(s.table)?.phase;
      if (previous !== s.phase) {
        const spans = this.sampled.get(s.table) ?? [];
        const last = spans[spans.length - 1];
        if (last && last.endS === undefined) spans[spans.length - 1] = { ...last, endS: t };
        if (!TERMINAL.has(s.phase)) spans.push({ table: s.table, phase: s.phase, startS: t });
        this.sampled.set(s.table, spans);
      }
      this.latest.set(s.table, s);
      if (s.verification !== null) this.verified.set(s.table, s.verification);
      // A negative lag is the status's "not measured yet" (e.g. no event consumed so far): left out like null.
      if (s.cdcLagSeconds !== null && s.cdcLagSeconds >= 0) cdc = Math.max(cdc ?? 0, s.cdcLagSeconds * 1000);
      if (s.etlLagSeconds !== null && s.etlLagSeconds >= 0) etl = Math.max(etl ?? 0, s.etlLagSeconds * 1000);
      this.draw(s);
    }
    this.lagPoints.push({ t, cdcLagMs: cdc, etlLagMs: etl });
  }

  /** The last phase seen of every table. */
  lastPhases(): Record<string, string> {
    return Object.fromEntries([...this.latest].map(([t, s]) => [t, s.phase]));
  }

  /** True once `expected` tables (default: every table seen) reported and all reached complete, aborted or failed. */
  allFinished(expected = 1): boolean {
    return this.latest.size >= expected && [...this.latest.values()].every((s) => TERMINAL.has(s.phase));
  }

  /** Tables held at a gate because a check failed (they wait for an operator): "table at gate: reason". */
  problems(): string[] {
    return [...this.latest.values()].filter((s) => s.awaiting?.problem).map((s) => `${s.table} at ${s.awaiting!.gate}: ${s.awaiting!.reason}`);
  }

  /** Polls every `intervalMs` (default 1000) until `stop`. */
  start(): void {
    if (this.opts.bars) this.multibar = new MultiBar({ format: '{table} |{bar}| {percentage}% {phase} lag {lag} ETA {eta_s}s', hideCursor: true, clearOnComplete: false, noTTYOutput: true, notTTYSchedule: 10_000 });
    this.timer = setInterval(() => {
      this.inFlight ??= this.poll().finally(() => (this.inFlight = undefined));
    }, this.opts.intervalMs ?? 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
    this.multibar?.stop();
  }

  /** Phase spans of every table, in start order. */
  phases(): PhaseSpan[] {
    const out: PhaseSpan[] = [];
    for (const [table, s] of this.latest) {
      const fromTransitions = this.fromTransitions(table, s);
      out.push(...(fromTransitions.length ? fromTransitions : (this.sampled.get(table) ?? [])));
    }
    return out.sort((a, b) => a.startS - b.startS);
  }

  lag(): LagPoint[] {
    return [...this.lagPoints];
  }

  /** The latest verification result of every table that verified. */
  verification(): VerificationResult[] {
    return [...this.verified].map(([table, v]) => {
      const mismatches = v.missing + v.extra + v.different;
      return { table, ok: v.passed ?? (v.done && mismatches === 0), rowsCompared: v.rowsCompared, mismatches };
    });
  }

  private fromTransitions(table: string, s: MigrationStatus): PhaseSpan[] {
    const changes = s.transitions.filter((x) => x.kind === 'phase' && x.to !== undefined);
    const spans: PhaseSpan[] = [];
    for (const c of changes) {
      const t = (Date.parse(c.at) - this.origin) / 1000;
      const last = spans[spans.length - 1];
      if (last) spans[spans.length - 1] = { ...last, endS: t };
      if (!TERMINAL.has(c.to!)) spans.push({ table, phase: c.to!, startS: t });
    }
    return spans;
  }

  private draw(s: MigrationStatus): void {
    if (!this.multibar) return;
    const total = Math.max(1, s.rowsTotal);
    const payload = { table: s.table.padEnd(28).slice(0, 28), phase: s.phase.padEnd(13), lag: s.etlLagSeconds === null || s.etlLagSeconds < 0 ? '-' : `${s.etlLagSeconds.toFixed(1)}s`, eta_s: s.etaSeconds === null ? '-' : Math.round(s.etaSeconds) };
    let bar = this.bars.get(s.table);
    if (!bar) this.bars.set(s.table, (bar = this.multibar.create(total, Math.min(total, s.rowsCopied), payload)));
    bar.setTotal(total);
    // rowsTotal is the source's row estimate: a finished copy is 100 % whatever the estimate said.
    bar.update(s.backfillDone ? total : Math.min(total, s.rowsCopied), payload);
  }
}
