import { backfillOptionsFrom } from '../../../src/pipeline/backfill/contract';
import { mismatchFileOf, newReportPath, verifyOptionsFrom, verifyProgressOf } from '../../../src/pipeline/verify/contract';
import type { BackfillInput, VerifyInput } from '../../../src/shared/activity-contract';

const ctx = { migrationId: 'migrate:shop.users', source: { database: 'shop', table: 'users' }, phase: 'backfill' as const };

test('backfill: the heartbeat cursor wins over the input cursor', () => {
  const input: BackfillInput = { ctx, mappingFile: 'm.yaml', topic: 't', cursor: 'old', parallelism: 2, targetChunkMs: 500, sliceMs: 60_000, rowsCopiedBefore: 10 };
  expect(backfillOptionsFrom(input)).toMatchObject({ schema: 'shop', table: 'users', cursor: 'old', rowsCopiedBefore: 10, parallelism: 2 });
  const hb = { done: false, cursor: 'new', rowsCopied: 99, rowsTotalEstimate: 100, rowsPerSecond: 1, throttles: 0, stoppedBy: 'done' as const };
  expect(backfillOptionsFrom(input, hb)).toMatchObject({ cursor: 'new', rowsCopiedBefore: 99 });
});

test('verify: report paths, cumulative counts and the contract progress', () => {
  const input: VerifyInput = { ctx: { ...ctx, phase: 'verify' }, mappingFile: 'm.yaml', mode: 'full', cursor: null, sliceMs: 1000, before: { rowsCompared: 5, missing: 1, extra: 0, different: 0 } };
  const rp = newReportPath('/r', 'migrate:shop.users', new Date('2026-11-25T10:00:00Z'));
  expect(rp).toBe('/r/migrate_shop.users-2026-11-25T10-00-00-000Z.json');
  const o = verifyOptionsFrom(input, rp);
  expect(o).toMatchObject({ schema: 'shop', table: 'users', mode: 'full', reportFile: rp, mismatchFile: mismatchFileOf(rp), before: { rowsCompared: 5, missing: 1 } });
  const counts = { rowsCompared: 7, itemsScanned: 7, missing: 1, extra: 0, different: 2, resolvedInFlight: 3 };
  const p = verifyProgressOf({ done: true, cursor: 'c', counts, stoppedBy: 'done', report: {} as never }, rp);
  expect(p).toEqual({ done: true, cursor: 'c', rowsCompared: 7, missing: 1, extra: 0, different: 2, reportPath: rp, stoppedBy: 'done' });
});
