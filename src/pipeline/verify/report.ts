/**
 * The verification report: JSON for machines (counts, a capped list of mismatches with a sample of differing
 * attributes, the path of the complete list), a readable table for people, and the complete list as JSONL.
 *
 * Invariants:
 * - Every confirmed mismatch is appended to the JSONL file before it is counted, so the file is never shorter than
 *   the counts say (a crash may leave a line whose count was lost; `repair` de-duplicates keys).
 * - The report holds keys and attribute names/values of mismatching rows only, never whole tables.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { KeyValues } from '../backfill/keyset';
import type { Item } from '../item';
import { canonicalValue, type AttributeDiff } from './fingerprint';

export type MismatchKind = 'missing' | 'extra' | 'different';

/** One confirmed mismatch. */
export interface Mismatch {
  readonly kind: MismatchKind;
  /** The source primary key (canonical values in key order). */
  readonly sourceKey: KeyValues;
  /** The target item key, attribute → canonical text (see ./fingerprint.ts). */
  readonly itemKey: Record<string, string>;
  /** GTID seq of the last source snapshot it was confirmed against. */
  readonly seenAtSeq: string;
  /** The target item's _v when last read (absent: no item). */
  readonly itemVersion?: string;
  /** For `different`: the attributes that differ (capped at 10). */
  readonly diff?: readonly AttributeDiff[];
}

export interface VerifyCountsFull {
  readonly rowsCompared: number;
  readonly itemsScanned: number;
  readonly missing: number;
  readonly extra: number;
  readonly different: number;
  /** Suspects that agreed on recheck: changes that were in flight when first compared. */
  readonly resolvedInFlight: number;
}

export interface VerifyReport {
  readonly source: string;
  readonly target: string;
  readonly mode: 'full' | 'sampled' | 'resume';
  readonly sampleFraction?: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly done: boolean;
  readonly counts: VerifyCountsFull;
  /** The first mismatches (capped); the complete list is in `mismatchFile`. */
  readonly mismatches: readonly Mismatch[];
  readonly mismatchesTotal: number;
  readonly mismatchFile: string;
  readonly rowsPerSecond: number;
}

/** An item key as plain JSON (canonical attribute texts). */
export function plainKey(key: Item): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(key).sort()) out[k] = canonicalValue(key[k] as AttributeValue);
  return out;
}

/**
 * Appends mismatches to a JSONL file and keeps the first `cap` in memory. A run that continues an earlier one (the
 * next slice, or a retry resuming from a cursor) starts its sample from the file, so the report of a verification that
 * spans several slices still lists the mismatches earlier slices found (one entry per key: a retry may append again
 * what the attempt it replaces had found after its last saved cursor).
 */
export class MismatchLog {
  readonly sample: Mismatch[] = [];
  private readonly sampled = new Set<string>();
  total = 0;
  constructor(
    readonly file: string,
    private readonly cap = 100,
    continuing = false,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (continuing) for (const m of readMismatches(file)) this.keep(m);
  }

  append(m: Mismatch): void {
    fs.appendFileSync(this.file, `${JSON.stringify(m)}\n`);
    this.total += 1;
    this.keep(m);
  }

  private keep(m: Mismatch): void {
    const key = JSON.stringify([m.kind, m.sourceKey, m.itemKey]);
    if (this.sample.length >= this.cap || this.sampled.has(key)) return;
    this.sampled.add(key);
    this.sample.push(m);
  }
}

/** Writes the JSON report atomically (temp file + rename). */
export function writeReport(file: string, r: VerifyReport): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(r, null, 2)}\n`);
  fs.renameSync(tmp, file);
}

/** Reads every mismatch of a JSONL file (for repair). */
export function readMismatches(file: string): Mismatch[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Mismatch);
}

function pad(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n);
}

/** A readable summary table of the report, with up to `rows` mismatches. */
export function renderReport(r: VerifyReport, rows = 20): string {
  const c = r.counts;
  const ok = c.missing + c.extra + c.different === 0;
  const lines = [
    `verification of ${r.source} → ${r.target} (${r.mode}${r.sampleFraction !== undefined ? ` ${r.sampleFraction}` : ''}): ${ok ? 'OK' : 'MISMATCHES'}${r.done ? '' : ' (incomplete)'}`,
    `  rows compared   ${c.rowsCompared}`,
    `  items scanned   ${c.itemsScanned}`,
    `  missing         ${c.missing}`,
    `  extra           ${c.extra}`,
    `  different       ${c.different}`,
    `  in flight (resolved on recheck) ${c.resolvedInFlight}`,
    `  rate            ${r.rowsPerSecond} rows/s`,
  ];
  if (!ok) {
    lines.push('', `  ${pad('kind', 10)} ${pad('source key', 28)} ${pad('attribute', 16)} ${pad('expected', 24)} actual`);
    for (const m of r.mismatches.slice(0, rows)) {
      const first = m.diff?.[0];
      lines.push(`  ${pad(m.kind, 10)} ${pad(JSON.stringify(m.sourceKey), 28)} ${pad(first?.attribute ?? '', 16)} ${pad(first?.expected ?? '', 24)} ${first?.actual ?? ''}`);
    }
    if (r.mismatchesTotal > rows) lines.push(`  … ${r.mismatchesTotal - rows} more in ${r.mismatchFile}`);
    else lines.push(`  complete list: ${r.mismatchFile}`);
  }
  return lines.join('\n');
}
