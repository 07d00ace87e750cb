/** The demo's migration monitor turns `status` answers into phase spans, lag samples and verification results. */
import type { MigrationStatus } from '../../../src/shared/messages';
import { MigrationMonitor } from '../../../scripts/demo/monitor';

const ORIGIN = Date.parse('2026-11-25T09:00:00.000Z');
const at = (s: number): string => new Date(ORIGIN + s * 1000).toISOString();

function status(over: Partial<MigrationStatus>): MigrationStatus {
  return {
    migrationId: 'migrate:cutover_demo.users',
    table: 'cutover_demo.users',
    phase: 'backfill',
    paused: false,
    etlPaused: false,
    awaiting: null,
    etlProblem: null,
    readPercent: 0,
    writeMode: 'mysql-only',
    flagVersion: 1,
    applyMode: null,
    rowsCopied: 0,
    rowsTotal: 100,
    rowsPerSecond: 0,
    etaSeconds: null,
    backfillDone: false,
    cdcLagSeconds: null,
    etlLagSeconds: null,
    etlLagEvents: null,
    dlqCount: 0,
    sampledAt: null,
    verification: null,
    shadow: null,
    transitions: [],
    run: 1,
    ...over,
  };
}

it('records sampled phases, lag and verification, and knows when every table finished', async () => {
  const answers: MigrationStatus[][] = [
    [status({ phase: 'backfill', cdcLagSeconds: 0.05, etlLagSeconds: 0.2 }), status({ table: 'cutover_demo.orders', phase: 'preflight' })],
    [status({ phase: 'verify', etlLagSeconds: 0.1, verification: { rowsCompared: 100, missing: 0, extra: 0, different: 0, done: true, cursor: null, reportPath: 'r.json', passed: true } }), status({ table: 'cutover_demo.orders', phase: 'complete' })],
    [status({ phase: 'complete' }), status({ table: 'cutover_demo.orders', phase: 'complete' })],
  ];
  let i = 0;
  const m = new MigrationMonitor(ORIGIN, async () => answers[i++]);
  await m.poll(ORIGIN + 1000);
  expect(m.allFinished()).toBe(false);
  await m.poll(ORIGIN + 5000);
  await m.poll(ORIGIN + 9000);
  expect(m.allFinished()).toBe(true);
  expect(m.phases()).toEqual([
    { table: 'cutover_demo.users', phase: 'backfill', startS: 1, endS: 5 },
    { table: 'cutover_demo.orders', phase: 'preflight', startS: 1, endS: 5 },
    { table: 'cutover_demo.users', phase: 'verify', startS: 5, endS: 9 },
  ]);
  expect(m.lag()).toEqual([{ t: 1, cdcLagMs: 50, etlLagMs: 200 }, { t: 5, cdcLagMs: null, etlLagMs: 100 }, { t: 9, cdcLagMs: null, etlLagMs: null }]);
  expect(m.verification()).toEqual([{ table: 'cutover_demo.users', ok: true, rowsCompared: 100, mismatches: 0 }]);
});

it('prefers the workflow’s own phase transitions, and survives a status that cannot be read', async () => {
  let fail = true;
  const m = new MigrationMonitor(ORIGIN, async () => {
    if (fail) throw new Error('query timed out');
    return [status({ phase: 'read-cutover', transitions: [
      { at: at(2), kind: 'phase', to: 'preflight', cause: 'start' },
      { at: at(3.5), kind: 'flags', cause: 'reads 10%' },
      { at: at(4), kind: 'phase', from: 'preflight', to: 'read-cutover', cause: 'gate' },
    ] })];
  });
  await m.poll(ORIGIN + 1000);
  expect(m.lag()).toEqual([]);
  fail = false;
  await m.poll(ORIGIN + 6000);
  expect(m.phases()).toEqual([
    { table: 'cutover_demo.users', phase: 'preflight', startS: 2, endS: 4 },
    { table: 'cutover_demo.users', phase: 'read-cutover', startS: 4 },
  ]);
});
