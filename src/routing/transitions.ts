/**
 * The safe way to move one table's write mode one step, as the workflow's activities (and the tests) do it. Each
 * step writes the new flag version and waits for the barrier; the steps that change the primary store do their
 * extra work behind the fence:
 *
 *   fenced → dynamo-primary   barrier on `fenced` passed (no MySQL-first write in flight anywhere), then wait until
 *                             the ETL applied the binlog up to its current position, so DynamoDB holds every
 *                             acknowledged MySQL-primary write before the first DynamoDB-first write reads it.
 *   dynamo-primary → fenced   the barrier also requires every live instance's background queue to be empty.
 *   fenced → mysql-primary    drainBackgroundWrites (./control.ts): barrier on `fenced` with drained queues, then
 *                             reconcile with rebase (./reconcile.ts): MySQL holds every DynamoDB-first write and the
 *                             items are back in the binlog band.
 *   dynamo-only → dynamo-primary  after the barrier, optionally (`reconcileAfterDynamoOnly`, default true) reconcile
 *                             without rebase copies to MySQL every key written while MySQL received nothing. Not
 *                             needed for safety — the drain behind the next fence covers those keys too, and nobody
 *                             reads MySQL while DynamoDB is primary — but it shortens that drain.
 *
 * The others (mysql-only ⇄ mysql-primary, dynamo-primary → dynamo-only) only need the barrier.
 */
import { drainBackgroundWrites } from './control';
import { UnsafeTransitionError } from './errors';
import type { BarrierOptions, FlagStore, InstanceStatus } from './flag-store';
import { isAllowedWriteStep, type TableFlags, type WriteMode } from './flags';
import type { ReconcileResult } from './reconcile';

export interface TransitionDeps {
  readonly flagStore: FlagStore;
  readonly tableId: string;
  readonly barrier: Omit<BarrierOptions, 'requireDrained'>;
  /** Resolves when the ETL has applied every binlog change up to the current source position. */
  readonly awaitEtlCaughtUp: () => Promise<void>;
  /** reconcileFromDynamo bound to the table's clients. */
  readonly reconcile: (rebase: boolean) => Promise<ReconcileResult>;
  readonly note?: string;
  readonly reconcileAfterDynamoOnly?: boolean;
}

export interface TransitionResult {
  readonly flags: TableFlags;
  readonly instances: readonly InstanceStatus[];
  readonly reconciled?: ReconcileResult;
}

/** Moves the write mode one step to `to` following the protocol above; returns the flags now in force. */
export async function stepWriteMode(d: TransitionDeps, to: WriteMode): Promise<TransitionResult> {
  const cur = await d.flagStore.get(d.tableId);
  const from = cur.writeMode;
  if (!isAllowedWriteStep(from, to)) throw new UnsafeTransitionError(`write mode cannot step from ${from} to ${to}`, d.tableId);
  if (from === to) return { flags: cur, instances: await d.flagStore.awaitBarrier(d.tableId, cur.version, d.barrier) };
  if (to === 'dynamo-only' && cur.readPercent < 100) {
    throw new UnsafeTransitionError('dynamo-only needs readPercent 100: MySQL stops receiving writes', d.tableId);
  }
  let reconciled: ReconcileResult | undefined;
  if (from === 'fenced') {
    await d.flagStore.awaitBarrier(d.tableId, cur.version, d.barrier);
    if (to === 'mysql-primary') {
      await drainBackgroundWrites({ store: d.flagStore, tableId: d.tableId, timeoutMs: d.barrier.timeoutMs, livenessMs: d.barrier.livenessMs, reconcile: async () => (reconciled = await d.reconcile(true)) });
    }
    await d.awaitEtlCaughtUp();
  }
  const next = await d.flagStore.update(d.tableId, { writeMode: to }, { expectedVersion: cur.version, note: d.note ?? `${from} → ${to}` });
  const instances = await d.flagStore.awaitBarrier(d.tableId, next.version, { ...d.barrier, requireDrained: from === 'dynamo-primary' && to === 'fenced' });
  if (from === 'dynamo-only' && to === 'dynamo-primary' && d.reconcileAfterDynamoOnly !== false) reconciled = await d.reconcile(false);
  return { flags: next, instances, reconciled };
}
