/**
 * The benchmark harness and its raw-baseline module at a tiny scale on the real stack (so `npm test` notices when
 * `npm run bench` would break): module discovery, ratio and goal verdicts, rendering, and real store figures.
 */
import { discoverAreas } from '../../../scripts/bench';
import { goalVerdict, machineDescription, ratio, renderMarkdown, renderTable } from '../../../scripts/bench/harness-render';
import { run } from '../../../scripts/bench/stores';
import type { BenchFigure } from '../../../scripts/bench/types';

it('discovers modules (stores first) and skips the contract and harness files', () => {
  const areas = discoverAreas();
  expect(areas[0]).toBe('stores');
  expect(areas).not.toContain('types');
  expect(areas.some((a) => a.startsWith('harness-'))).toBe(false);
});

it('computes ratios and goal verdicts for both directions', () => {
  const f = (value: number, higherIsBetter: boolean, goalRatio?: number): BenchFigure => ({ name: 'x', value, unit: 'u', baselineName: 'b', baseline: 100, higherIsBetter, goalRatio });
  expect(ratio(f(85, true))).toBe(0.85);
  expect(goalVerdict(f(85, true, 0.85))).toBe('met');
  expect(goalVerdict(f(84, true, 0.85))).toBe('MISSED');
  expect(goalVerdict(f(104, false, 1.05))).toBe('met');
  expect(goalVerdict(f(106, false, 1.05))).toBe('MISSED');
  expect(goalVerdict(f(1, true))).toBe('');
});

it('measures the raw store baselines and renders them', async () => {
  const logs: string[] = [];
  const figures = await run({ scale: 0.02, log: (m) => logs.push(m) });
  expect(figures.map((x) => x.name)).toEqual([
    'DynamoDB BatchWriteItem ingest',
    'DynamoDB PutItem (8 in flight, overwrites)',
    'DynamoDB conditional PutItem (version check)',
    'DynamoDB GetItem p50',
    'DynamoDB GetItem p99',
    'mysql2 single-row INSERT p50',
    'mysql2 single-row INSERT p99',
    'DynamoDB Scan',
  ]);
  for (const x of figures) {
    expect(x.value).toBeGreaterThan(0);
    expect(x.baseline).toBeGreaterThan(0);
  }
  const results = [{ area: 'stores', figures, seconds: 1, peakRssMb: 100 }, { area: 'broken', figures: [], seconds: 0, peakRssMb: 100, error: 'Error: boom\n  at x' }];
  const m = machineDescription(100, 1.5);
  expect(renderTable(results, m)).toMatch(/broken\s+FAILED[\s\S]*cores.*load average 1\.5/);
  expect(renderMarkdown(results, m, { started: new Date(0), scale: 0.02 })).toMatch(/\| stores \| DynamoDB GetItem p99 \| [\d.,]+ ms \|/);
});
