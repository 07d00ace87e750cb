/** The demo report writer: Markdown + JSON + a valid PNG chart (decoded back with @napi-rs/canvas). */
import { loadImage } from '@napi-rs/canvas';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LoadMetrics } from '../../../src/loadgen/metrics';
import { verdict, writeDemoReport, type DemoReportInput } from '../../../scripts/demo/report';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-report-'));
afterAll(() => { if (!process.env.KEEP_REPORT) fs.rmSync(dir, { recursive: true, force: true }); });

function input(over: Partial<DemoReportInput> = {}): DemoReportInput {
  const m = new LoadMetrics(0);
  for (let s = 0; s < 60; s++) {
    for (let i = 0; i < 20; i++) {
      m.record('read', true, s * 1000 + i * 10, s * 1000 + i * 10 + 1 + (i % 5));
      m.record('update', true, s * 1000 + i * 10, s * 1000 + i * 10 + 3 + (s > 30 ? 4 : 0));
    }
  }
  const phases = [
    { table: 'users', phase: 'backfill', startS: 5, endS: 20 },
    { table: 'users', phase: 'cut over reads', startS: 20, endS: 35 },
    { table: 'users', phase: 'flip writes', startS: 35, endS: 60 },
  ];
  return {
    title: 'cutover demo',
    startedAt: '2026-11-25T09:00:00.000Z',
    durationS: 60,
    seed: { database: 'cutover_demo', rows: { users: 100 }, seconds: 0.2 },
    load: { instances: 3, ratePerInstance: 20, requests: m.ok + m.failed, ok: m.ok, failed: m.failed },
    timeline: m.timeline(),
    windows: [{ label: 'whole run', fromS: 0, toS: 60, ...m.between(0, 60) }, ...phases.map((p) => ({ label: p.phase, fromS: p.startS, toS: p.endS, ...m.between(p.startS, p.endS) }))],
    phases,
    lag: Array.from({ length: 60 }, (_, t) => ({ t, cdcLagMs: 20 + (t % 7), etlLagMs: t < 5 ? null : 80 + (t % 11) })),
    verification: [{ table: 'users', ok: true, rowsCompared: 100, mismatches: 0 }],
    check: { passed: true, lostWrites: 0, acknowledgedWrites: 1200, keysChecked: 90, keysWithViolations: 0, violationsByKind: { 'lost-write': 0 }, report: 'check.md' },
    ...over,
  };
}

it('writes Markdown, JSON and a decodable PNG of the expected size', async () => {
  const out = writeDemoReport(dir, input());
  expect(out.verdict).toBe('PASSED');
  const png = fs.readFileSync(out.png);
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(png.toString('ascii', 12, 16)).toBe('IHDR');
  expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1400, 990]);
  const img = await loadImage(png);
  expect([img.width, img.height]).toEqual([1400, 990]);
  expect(png.length).toBeGreaterThan(20_000); // three drawn panels, not a blank canvas

  const md = fs.readFileSync(out.markdown, 'utf8');
  expect(md).toMatch(/^# cutover demo: PASSED/);
  expect(md).toContain('| acknowledged writes lost | **0** |');
  expect(md).toMatch(/\| flip writes \| 35–60 \| 1000 \| 0 \| 3.00 \| 5.00 \| 7.00 \| 7.00 \|/);
  expect(md).toContain('![latency, throughput and lag over time](report.png)');
  expect(JSON.parse(fs.readFileSync(out.json, 'utf8')).verdict).toBe('PASSED');
});

it('never passes without a checker result, and fails on a failed request or a lost write', () => {
  expect(verdict(input({ check: undefined }))).toBe('INCOMPLETE');
  expect(verdict(input({ notDone: ['no migration'] }))).toBe('INCOMPLETE');
  expect(verdict(input({ load: { instances: 1, ratePerInstance: 1, requests: 2, ok: 1, failed: 1 } }))).toBe('FAILED');
  expect(verdict(input({ check: { ...input().check!, passed: false, lostWrites: 1 } }))).toBe('FAILED');
});
