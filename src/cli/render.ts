/** How the CLI shows a migration's status to a person: one block per table, progress bars in --watch mode. */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { MigrationStatus } from '../shared/messages';

function eta(seconds: number | null): string {
  if (seconds === null) return '-';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(seconds % 60).padStart(2, '0')}s`;
}

/** A readable multi-line description of one migration. */
export function describeStatus(s: MigrationStatus): string {
  const lines = [
    `${s.table}  [${s.migrationId}]  phase ${s.phase}${s.paused ? ' (PAUSED)' : ''}${s.etlPaused ? ' (ETL paused)' : ''}`,
    `  reads ${s.readPercent}% DynamoDB · writes ${s.writeMode} · flags v${s.flagVersion} · apply ${s.applyMode ?? '-'}`,
    `  backfill ${s.rowsCopied}/${s.rowsTotal} rows${s.backfillDone ? ' (done)' : ` · ${Math.round(s.rowsPerSecond)} rows/s · ETA ${eta(s.etaSeconds)}${s.backfillWaitingOn ? ` · waiting: ${s.backfillWaitingOn}` : ''}`}`,
    `  CDC lag ${s.cdcLagSeconds ?? '-'} s · ETL lag ${s.etlLagEvents ?? '-'} events / ${s.etlLagSeconds ?? '-'} s · DLQ ${s.dlqCount}`,
  ];
  if (s.verification) {
    const v = s.verification;
    lines.push(`  verification ${v.passed === null ? (v.done ? 'done' : 'running') : v.passed ? 'passed' : 'FAILED'}: ${v.rowsCompared} compared, ${v.missing} missing, ${v.extra} extra, ${v.different} different (${v.reportPath})`);
  }
  if (s.shadow) lines.push(`  shadow: ${s.shadow.readMismatches}/${s.shadow.readsCompared} read mismatches, ${s.shadow.shadowWriteErrors} shadow-write errors, ${s.shadow.backgroundWriteErrors} background-write errors`);
  if (s.awaiting) lines.push(`  WAITING (${s.awaiting.gate}) since ${s.awaiting.since}: ${s.awaiting.reason}\n    → cutover approve --table ${s.table} --gate ${s.awaiting.gate}`);
  if (s.etlProblem) lines.push(`  ETL STOPPED: ${s.etlProblem}\n    → cutover approve --table ${s.table} --gate etl`);
  const recent = s.transitions.slice(-5);
  if (recent.length) lines.push('  recent:', ...recent.map((t) => `    ${t.at} ${t.kind}${t.to ? ` → ${t.to}` : ''}: ${t.cause}${t.by ? ` (by ${t.by})` : ''}`));
  return lines.join('\n');
}

/** Progress bars for `status --watch`: one per table (rows copied of total), with phase, modes, lag and ETA. */
export class StatusBars {
  private readonly bars = new Map<string, SingleBar>();
  private readonly multi = new MultiBar(
    {
      format: '{table} |{bar}| {percentage}% {value}/{total} rows · ETA {etaText} · {phase} · reads {reads}% · writes {writes} · ETL lag {lag}{flag}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
    },
    Presets.shades_classic,
  );

  update(statuses: readonly MigrationStatus[]): void {
    for (const s of statuses) {
      const payload = {
        table: s.table.padEnd(24),
        etaText: eta(s.etaSeconds),
        phase: s.phase,
        reads: s.readPercent,
        writes: s.writeMode,
        lag: s.etlLagEvents ?? '-',
        flag: s.paused ? ' · PAUSED' : s.awaiting ? ` · WAITING ${s.awaiting.gate}` : s.etlProblem ? ' · ETL STOPPED' : '',
      };
      const total = Math.max(1, s.rowsTotal);
      const bar = this.bars.get(s.migrationId);
      if (bar) {
        bar.setTotal(total);
        bar.update(s.rowsCopied, payload);
      } else {
        this.bars.set(s.migrationId, this.multi.create(total, s.rowsCopied, payload));
      }
    }
  }

  stop(): void {
    this.multi.stop();
  }
}
