/**
 * The checker's report as JSON (complete) and Markdown (totals plus the first violations with their evidence).
 * `writeCheckReport` writes both files and returns their paths; the JSON is the machine-readable source of truth.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CheckReport } from './check';
import type { ObservedState } from './judge';
import { keyString } from './log-format';

/** Markdown for `r`, listing at most `maxKeys` keys with violations. */
export function checkReportMarkdown(r: CheckReport, maxKeys = 50): string {
  const t = r.totals;
  const lines = [
    `# Consistency check: ${r.passed ? 'PASSED' : 'FAILED'}`,
    '',
    `Generated ${r.generatedAt} from ${r.logFiles.length} operation log(s); stores read: ${r.stores.join(', ') || 'none'}.`,
    '',
    '| requests | ok | failed | unfinished |',
    '|---|---:|---:|---:|',
    ...(['read', 'insert', 'update', 'delete'] as const).map((k) => `| ${k} | ${t.byKind[k].ok} | ${t.byKind[k].failed} | ${t.byKind[k].unfinished} |`),
    `| **all** | **${t.ok}** | **${t.failed}** | **${t.unfinished}** |`,
    '',
    `- acknowledged writes: ${t.acknowledgedWrites}`,
    `- acknowledged writes lost: **${r.lostWrites}**`,
    `- keys checked: ${r.keysChecked}; keys with violations: ${r.keysWithViolations}`,
    `- reads judged: ${r.reads.checked}; stale: ${r.reads.stale}; phantom: ${r.reads.phantom}`,
    `- violations: ${Object.entries(r.violationsByKind).map(([k, n]) => `${k} ${n}`).join(', ')}`,
  ];
  if (r.keys.length) {
    lines.push('', '## Violations', '');
    for (const k of r.keys.slice(0, maxKeys)) {
      lines.push(`### ${k.table} ${keyString(k.key)}`, '');
      for (const [store, s] of Object.entries(k.states)) lines.push(`- ${store}: ${stateText(s)}`);
      for (const v of k.violations) {
        lines.push(`- **${v.kind}**: ${v.message}`);
        const c = v.contradicts ?? [];
        for (const w of c.slice(0, 5)) lines.push(`  - contradicts ${w.kind} ${w.instance}#${w.op} [${w.start.toFixed(3)}, ${w.end === null ? '…' : w.end.toFixed(3)}]${w.token ? ` token ${w.token}` : ''}`);
        if (c.length > 5) lines.push(`  - … ${c.length - 5} more (JSON report)`);
      }
      lines.push('');
    }
    if (r.keys.length > maxKeys) lines.push(`… and ${r.keys.length - maxKeys} more keys (see the JSON report).`);
  }
  return `${lines.join('\n')}\n`;
}

function stateText(s: ObservedState): string {
  return s.present ? `row with token ${JSON.stringify(s.token)}` : 'absent';
}

/** Writes `<dir>/<base>.json` and `<dir>/<base>.md`. */
export function writeCheckReport(r: CheckReport, dir: string, base = 'check'): { json: string; markdown: string } {
  fs.mkdirSync(dir, { recursive: true });
  const json = path.join(dir, `${base}.json`);
  const markdown = path.join(dir, `${base}.md`);
  fs.writeFileSync(json, `${JSON.stringify(r, (_k, v) => (v === Infinity ? null : v), 2)}\n`);
  fs.writeFileSync(markdown, checkReportMarkdown(r));
  return { json, markdown };
}
