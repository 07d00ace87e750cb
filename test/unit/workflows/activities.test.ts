/** The migration activity wrapper: missing parts fail loudly and non-retryably; logs name the migration, never secrets. */
import { Writable } from 'node:stream';
import { createMigrationActivities } from '../../../src/activities/migration';
import { createLogger } from '../../../src/infra/logger';
import { CutoverMetrics } from '../../../src/infra/metrics';
import { ApplicationFailure } from '@temporalio/common';
import { CutoverError, NON_RETRYABLE_ERROR_TYPES, NotImplementedError, TransientError } from '../../../src/shared/errors';
import type { ActivityCtx } from '../../../src/shared/activity-contract';

const ctx: ActivityCtx = { migrationId: 'migrate:shop.orders', source: { database: 'shop', table: 'orders' }, phase: 'backfill' };

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk))); cb(); } });
  return { lines, logger: createLogger('test', stream) };
}

describe('migration activities wrapper', () => {
  it('fails an unwired activity with NotImplementedError naming its owner', async () => {
    const { logger } = capture();
    const acts = createMigrationActivities({ parts: {}, logger });
    await expect(acts.verify({ ctx, mappingFile: 'm', mode: 'full', cursor: null, sliceMs: 1 })).rejects.toThrow(NotImplementedError);
    await expect(acts.verify({ ctx, mappingFile: 'm', mode: 'full', cursor: null, sliceMs: 1 })).rejects.toThrow(/src\/pipeline\/verify/);
    expect(NON_RETRYABLE_ERROR_TYPES).toContain('NotImplementedError');
  });

  it('fails bad input (a non-retriable CutoverError of any module) non-retryably, keeping its class name', async () => {
    class MappingConfigError extends CutoverError {}
    const { logger } = capture();
    const acts = createMigrationActivities({ parts: { preflight: async () => { throw new MappingConfigError('nulls: expected omit or null'); } }, logger });
    const err = await acts.preflight({ ctx, mappingFile: 'm', cdc: { source: 'builtin', topic: 't', partitions: 1 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'MappingConfigError', nonRetryable: true, message: 'nulls: expected omit or null' });
    const transient = await createMigrationActivities({ parts: { preflight: async () => { throw new TransientError('broker down'); } }, logger })
      .preflight({ ctx, mappingFile: 'm', cdc: { source: 'builtin', topic: 't', partitions: 1 } }).catch((e: unknown) => e);
    expect(transient).toMatchObject({ type: 'TransientError', nonRetryable: false, message: 'broker down' }); // retried by policy; see src/activities/failure.ts
  });

  it('logs table, phase and workflow id on every line, redacts secrets, and records metrics from results', async () => {
    const { lines, logger } = capture();
    const metrics = new CutoverMetrics(false);
    const acts = createMigrationActivities({
      parts: {
        runBackfill: async () => {
          logger.info({ password: 'hunter2', credentials: { secretAccessKey: 'x' } }, 'inside');
          return { done: false, cursor: '42', rowsCopied: 420, rowsTotalEstimate: 1000, rowsPerSecond: 84, throttles: 2, stoppedBy: 'slice-elapsed' };
        },
      },
      logger,
      metrics,
    });
    const r = await acts.runBackfill({ ctx, mappingFile: 'm', topic: 't', cursor: null, parallelism: 1, targetChunkMs: 500, sliceMs: 1000, rowsCopiedBefore: 0 });
    expect(r.rowsCopied).toBe(420);
    const mine = lines.filter((l) => l.activity === 'runBackfill');
    expect(mine.map((l) => l.msg)).toEqual(['activity started', 'activity completed']);
    for (const l of mine) expect(l).toMatchObject({ table: 'shop.orders', phase: 'backfill', workflowId: 'migrate:shop.orders' });
    expect(JSON.stringify(lines)).not.toContain('hunter2');
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/cutover_backfill_rows_copied\{table="shop.orders"\} 420/);
    expect(text).toMatch(/cutover_throttles_total\{table="shop.orders",stage="backfill"\} 2/);
    expect(text).toMatch(/cutover_activity_phase\{table="shop.orders"\} 3/);
  });
});
