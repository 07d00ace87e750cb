/**
 * kill -9 of the worker while the application writes: on a private stack, three application instances (in this
 * process, each a routing-layer MigratingTable behind the load generator, src/loadgen) read and write the migrating
 * table continuously while the migration workflow runs on the real worker process (src/workers/main.ts: real
 * activities, the hosted CDC reader). The worker is killed with SIGKILL, and a fresh one started at once:
 *  1. during stream ETL (the backfill done, the ETL applying the backlog and the application's changes: catch-up);
 *  2. while a flag moves: right after the first read cut-over step (reads 25 % DynamoDB) was set;
 *  3. at a write flip: right after writes moved to MySQL-first + DynamoDB shadow.
 * Expected: the migration completes; the independent checker (src/checker, from the load generator's operation logs
 * against DynamoDB, the final store) finds 0 lost writes, every application request succeeded, the workflow's
 * verification passed, and every source row the application never touched is in DynamoDB as the mapping says.
 *
 * Time to recover per kill: from the new worker's start until the phase the kill landed in is over (for the flag
 * kills this includes the soaks left in that phase); also when the new worker retried a killed activity.
 * The workflow's fence timeout is raised to 60 s: a killed worker's CDC reader is only taken over when its 30 s lease
 * expires, and with the default 20 s a fence right after a kill fails (safely: writes released, an operator asked).
 */
import * as path from 'node:path';
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { runCheck } from '../../src/checker/check';
import { createDynamoClient } from '../../src/infra/dynamodb';
import { runLoad, type LoadTable } from '../../src/loadgen/generator';
import { createSourcePool } from '../../src/pipeline/backfill/source-pool';
import { readColumns, rowFromMysql2 } from '../../src/pipeline/row/codec';
import { RoutingAppStore } from '../../src/routing/app-store';
import { FlagStore } from '../../src/routing/flag-store';
import { MigratingTable } from '../../src/routing/migrating-table';
import { CONFIG_DEFAULTS } from '../../src/shared/migration-config';
import { statusQuery, type MigrationStatus } from '../../src/shared/messages';
import { phaseIndex, type Phase } from '../../src/shared/phases';
import type { CompleteRecord } from '../../src/checker/log-format';
import { waitFor } from './support/pipeline';
import { useMigration } from './support/migration';
import { record } from './support/record';

jest.setTimeout(700_000);

const SEED = 10_000;
const LOAD_KEYS = 500;
const FENCE_TIMEOUT_MS = Number(process.env.FAULT_FENCE_TIMEOUT_MS ?? 60_000);
const bed = useMigration('wa', { seedRows: SEED });
const { db, table } = bed;

const users: LoadTable = {
  name: table,
  keySpace: LOAD_KEYS,
  keyFor: (i) => ({ id: String(i + 1) }),
  // the write token goes in `email` (unique per write, as the checker needs)
  rowFor: (key, token, r) => ({ ...key, email: token, balance: `${Math.floor(r() * 10_000)}.${String(Math.floor(r() * 100)).padStart(2, '0')}`, n: Math.floor(r() * 1_000_000) }),
};

/** An item's user attributes (no reserved _v/_src/_del), keys sorted, for comparison. */
const userPart = (item: Record<string, AttributeValue>): Record<string, AttributeValue> =>
  Object.fromEntries(Object.entries(item).filter(([k]) => !k.startsWith('_')).sort(([a], [b]) => a.localeCompare(b)));

test('kill -9 of the worker during stream ETL, a read step and a write flip, with 3 application instances writing: 0 failed requests, 0 lost writes, 0 mismatches', async () => {
  bed.startWorker();
  const pool = createSourcePool({ connectionLimit: 12 });
  const dynamo = createDynamoClient();
  const mapping = await bed.mapping(pool);
  const columns = await readColumns(pool, db, table);
  const flagStore = new FlagStore(pool, bed.routingSchema);
  await flagStore.ensureSchema();

  const stopLoad = new AbortController();
  const failures: CompleteRecord[] = [];
  const load = runLoad({
    runId: 'wa',
    instances: 3,
    storeFor: async (instance) =>
      new RoutingAppStore({ [table]: await MigratingTable.open({ pool, dynamo, mapping, columns, flagStore, instanceId: instance, intervalMs: 200, staleMs: 3_000, fenceTimeoutMs: 90_000 }) }, { [table]: ['id'] }),
    tables: [users],
    mix: { read: 4, insert: 2, update: 3, delete: 1 },
    ratePerInstance: 15,
    concurrency: 2,
    durationMs: 600_000,
    logDir: path.join(bed.logDir, 'oplogs'),
    seed: 7,
    signal: stopLoad.signal,
    onComplete: (rec) => {
      if (rec.result === 'failed' && failures.length < 20) failures.push(rec);
    },
  });

  const handle = await bed.start(bed.config({
    readLadder: [25, 50, 100],
    soak: { readStepMs: 3_000, shadowWritesMs: 3_000, flipWritesMs: 3_000 },
    // Shadow reads race live writes (a compared read may straddle a write): the gates here are about the data path.
    thresholds: { ...CONFIG_DEFAULTS.thresholds, maxShadowReadMismatches: 1_000_000, maxShadowReadMismatchRate: 1 },
    shadowReadFraction: 0.3,
    // A killed worker's CDC reader is taken over only when its lease expires (30 s unless the workers get
    // CUTOVER_CDC_LEASE_TTL_MS): the fence's catch-up must outlast it. FAULT_FENCE_TIMEOUT_MS tries another timeout.
    fenceTimeoutMs: FENCE_TIMEOUT_MS,
  }));

  const kills: { fault: string; phase: Phase; recoverMs: number; retriedMs?: number; retriedActivities: string[] }[] = [];
  const killWhen = async (fault: string, phase: Phase, ready: (s: MigrationStatus) => boolean): Promise<void> => {
    let s: MigrationStatus | undefined;
    await waitFor(fault, async () => ((s = await bed.status(handle)) !== undefined && (ready(s) || phaseIndex(s.phase) > phaseIndex(phase))), 300_000);
    expect({ fault, passed: phaseIndex(s!.phase) > phaseIndex(phase) }).toEqual({ fault, passed: false }); // the kill lands where it is meant to
    const restartedAt = await bed.killWorker();
    await waitFor(`${phase} over`, async () => ((s = await bed.status(handle)) !== undefined && phaseIndex(s.phase) > phaseIndex(phase)), 300_000);
    const retried = bed.retried();
    kills.push({ fault, phase, recoverMs: Date.now() - restartedAt, retriedMs: retried.length ? retried[0].at - restartedAt : undefined, retriedActivities: [...new Set(retried.map((r) => r.activity))] });
  };

  let summary: Awaited<typeof load> | undefined;
  let outcome: Awaited<ReturnType<typeof bed.result>>;
  try {
    await killWhen('stream ETL (catch-up)', 'catch-up', (s) => s.phase === 'catch-up' || (s.phase === 'backfill' && s.backfillDone));
    await killWhen('read cut-over step (reads 25 % DynamoDB set)', 'read-cutover', (s) => s.phase === 'read-cutover' && s.readPercent >= 25);
    await killWhen('write flip (writes MySQL-first + DynamoDB shadow set)', 'shadow-writes', (s) => s.phase === 'shadow-writes' && s.writeMode === 'mysql-primary');
    // the application stops once MySQL no longer takes writes, so tombstone cleanup sees the final state
    await bed.waitPhase(handle, 'drain-cdc');
    stopLoad.abort();
    outcome = await bed.result(handle);
  } finally {
    stopLoad.abort();
    summary = await load;
  }
  expect(outcome?.phase).toBe('complete');
  const final = (await handle.query(statusQuery))!;
  expect(final.verification).toMatchObject({ passed: true, missing: 0, extra: 0, different: 0 });

  // every application request succeeded, and no acknowledged write is lost (checker: op logs against DynamoDB)
  expect(failures).toEqual([]);
  expect(summary.failed).toBe(0);
  expect(summary.ok).toBeGreaterThan(1_000);
  const report = await runCheck(summary.logFiles, {
    tables: [{
      table,
      tokenColumn: 'email',
      dynamo: { tableName: mapping.targetTable, key: [{ attribute: 'pk', type: 'S', template: 'USER#{id}' }, { attribute: 'sk', type: 'S', template: 'PROFILE' }], tokenAttribute: 'email', itemToRow: (item) => mapping.toRow(item) },
    }],
    dynamo,
    requireAgreement: false,
  });
  if (!report.passed) console.log(JSON.stringify(report.keys.slice(0, 3), null, 1));
  expect(report.lostWrites).toBe(0);
  expect(report.passed).toBe(true);

  // every source row the application never touched is in DynamoDB as the mapping says (the touched keys were judged
  // by the checker; after dynamo-only, MySQL no longer receives their writes, so it cannot be compared for them)
  const items = new Map<string, unknown>();
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamo.send(new ScanCommand({ TableName: mapping.targetTable, ConsistentRead: true, ExclusiveStartKey }));
    for (const i of page.Items ?? []) items.set(i.pk.S!, userPart(i));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  const [rows] = await pool.query(`SELECT * FROM ${db}.${table} WHERE id > ${LOAD_KEYS}`);
  const untouched = (rows as Record<string, unknown>[]).map((raw) => rowFromMysql2(columns, raw));
  const wrong = untouched.filter((row) => JSON.stringify(items.get(`USER#${String(row.id)}`)) !== JSON.stringify(userPart(mapping.toItem(row))));
  dynamo.destroy();
  await pool.end();
  expect(wrong.slice(0, 5)).toEqual([]);
  expect(untouched.length).toBe(SEED - LOAD_KEYS);
  for (const k of kills) {
    record({
      fault: `kill -9 of the worker, new worker started at once; 3 application instances (routing layer) writing: ${k.fault}`, phase: k.phase,
      recovered: outcome?.phase === 'complete', recoverMs: k.recoverMs, retriedMs: k.retriedMs, retriedActivities: k.retriedActivities, writesAcked: summary.byKind.insert.ok + summary.byKind.update.ok + summary.byKind.delete.ok,
      writesLost: report.lostWrites, mismatches: final.verification!.missing + final.verification!.different + final.verification!.extra,
      requestsOk: summary.ok, requestsFailed: summary.failed,
      command: `npm run test:faults -- app-load-kill (recoverMs: new worker started → the killed phase over; fenceTimeoutMs ${FENCE_TIMEOUT_MS}, CDC lease ${process.env.CUTOVER_CDC_LEASE_TTL_MS ?? 'default 30000'} ms)`,
    });
  }
});
