/**
 * Rechecking suspects under churn: a first comparison can catch a change in flight (committed at the source, not
 * yet applied to the target, or the reverse order of reads). A suspect is reported only if it persists.
 *
 * Invariants (the argument is in docs/design.md, "Verification"):
 * - Each round reads the source rows first, in a snapshot with GTID seq S, then waits until the ETL has applied
 *   everything up to S (`appliedThrough`), then reads the target items strongly consistently. If they agree, the
 *   suspect was in flight (resolved). If the target item's _v is above loadVersion(S), the target is *ahead* of the
 *   snapshot (a newer change landed): nothing can be concluded, so the suspect goes to the next round. Otherwise the
 *   target reflects at least every change ≤ S, holds no change > S, and still disagrees with the source at S: a
 *   real mismatch. No false positive can come from an in-flight change, and a real mismatch is never dropped (it
 *   disagrees in every round).
 * - With a probe, `timeoutMs` bounds the time *without progress*: the deadline moves on whenever the probe reports a
 *   higher applied position, so a slow (loaded) ETL only makes the recheck longer. A suspect that still cannot be
 *   decided when the ETL stops progressing, or whose target stays ahead of every snapshot (a key changing faster than
 *   the rounds), is never reported as a mismatch: the recheck fails with VerifyInconclusiveError (retriable), because
 *   a deadline is not evidence.
 * - The reported snapshot position can run a transaction or two ahead of the read view (../backfill/snapshot.ts,
 *   SNAPSHOT_SEQ_MARGIN). So a disagreement is only conclusive at S when the target item's version is at or below
 *   loadVersion(S − SNAPSHOT_SEQ_MARGIN) (no write of this key lies where the read view is uncertain: a change of the
 *   key in (S − margin, S] would be applied, since the ETL is past S, and would have raised the item's version), or
 *   when the same item version was already seen by an earlier round's target read and this round's snapshot began at
 *   least `settleMs` later: the item's last write was then in the binlog (CDC had applied it) before that read, and a
 *   transaction's commit becomes visible to new read views within moments of its binlog write (the anomaly is a
 *   commit in progress), so this read view contains it. Otherwise the suspect goes to the next round, after a settle.
 * - Rounds are capped (`maxRounds`): a key that keeps changing faster than the rounds (its target always ahead) ends
 *   undecided — VerifyInconclusiveError — instead of looping while the ETL keeps making progress.
 * - Without an `appliedThrough` probe, "applied past S" cannot be known; rounds repeat every `settleMs` and a
 *   suspect is confirmed only when it still disagrees at the deadline (`timeoutMs`). That is sound as long as the
 *   ETL lag stays below the deadline; the report says which rule was used.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { keyText, type KeyValues, type TableSpec } from '../backfill/keyset';
import { sleep } from '../backfill/pacing';
import { SNAPSHOT_SEQ_MARGIN, type SnapshotConnection } from '../backfill/snapshot';
import { itemVersion, type Item } from '../item';
import { loadVersion } from '../version';
import { TransientError } from '../../shared/errors';
import { compareItems, diffAttributes, liveUserItem } from './fingerprint';
import { plainKey, type Mismatch, type MismatchKind } from './report';
import { lookupRows } from './source';
import { batchGet, itemKeyText } from './target';
import type { VerifyMapping } from './verifier';

/** A first-pass disagreement, to be rechecked. */
export interface Suspect {
  readonly kind: MismatchKind;
  readonly sourceKey: KeyValues;
  /** Key of the target item concerned. */
  readonly itemKey: Item;
  readonly seenAtSeq: string;
}

export interface RecheckContext {
  readonly conn: SnapshotConnection;
  readonly client: DynamoDBClient;
  readonly mapping: VerifyMapping;
  readonly spec: TableSpec;
  readonly keyNames: readonly string[];
  /** GTID seq (decimal string) through which the ETL has applied every change, on every partition. */
  readonly appliedThrough?: () => Promise<string>;
  readonly signal?: AbortSignal;
  readonly domain?: number;
  readonly concurrency?: number;
}

export interface RecheckOptions {
  readonly timeoutMs: number;
  readonly settleMs: number;
  /** Rounds at most (default DEFAULT_MAX_ROUNDS); suspects still undecided then are inconclusive. */
  readonly maxRounds?: number;
}

/** Recheck rounds at most, by default. */
export const DEFAULT_MAX_ROUNDS = 30;

/** A suspect in the recheck loop, with the item version an earlier round saw and when that read ended. */
interface Pending extends Suspect {
  readonly seen?: { readonly version: string; readonly at: number };
}

/** loadVersion(S − SNAPSHOT_SEQ_MARGIN): an item at or below it has no write where the read view of S is uncertain. */
export function certainVersion(seq: string): bigint {
  const s = BigInt(seq) - SNAPSHOT_SEQ_MARGIN;
  return s < 0n ? -1n : BigInt(loadVersion(s));
}

/** Suspects could not be decided: the ETL stopped progressing, or their keys kept changing. Retry later. */
export class VerifyInconclusiveError extends TransientError {
  constructor(
    readonly table: string,
    readonly undecided: number,
  ) {
    super(`verification of ${table}: ${undecided} suspect(s) could not be decided (the ETL made no progress for the recheck timeout, or the keys kept changing); nothing is reported as a mismatch without evidence — retry`);
  }
}

/** The recheck deadline, moved on whenever the applied position rises. */
interface Deadline {
  at: number;
  lastApplied: bigint;
}

async function waitApplied(ctx: RecheckContext, seq: string, deadline: Deadline, timeoutMs: number): Promise<boolean> {
  if (!ctx.appliedThrough) return false;
  for (;;) {
    const applied = BigInt(await ctx.appliedThrough());
    if (applied > deadline.lastApplied) {
      deadline.lastApplied = applied;
      deadline.at = Date.now() + timeoutMs;
    }
    if (applied >= BigInt(seq)) return true;
    if (Date.now() >= deadline.at || ctx.signal?.aborted) return false;
    await sleep(100, ctx.signal);
  }
}

/** Rechecks `suspects` until each is resolved or confirmed; returns the confirmed mismatches. */
export async function recheck(ctx: RecheckContext, suspects: readonly Suspect[], o: RecheckOptions): Promise<{ confirmed: Mismatch[]; resolved: number }> {
  const deadline: Deadline = { at: Date.now() + o.timeoutMs, lastApplied: -1n };
  const maxRounds = o.maxRounds ?? DEFAULT_MAX_ROUNDS;
  const confirmed: Mismatch[] = [];
  let undecided = 0;
  let resolved = 0;
  let pending: Pending[] = [...suspects];
  for (let round = 1; pending.length; round += 1) {
    const next: Pending[] = [];
    const lastRound = round >= maxRounds;
    for (let i = 0; i < pending.length; i += 500) {
      const batch = pending.slice(i, i + 500);
      const readable = batch.filter((s) => s.sourceKey.length === ctx.spec.key.length && s.sourceKey.every((v) => v !== null));
      const snapshotAt = Date.now();
      const { pos, rows } = await lookupRows(ctx.conn, ctx.spec, readable.map((s) => s.sourceKey), ctx.domain);
      const applied = await waitApplied(ctx, pos.seq, deadline, o.timeoutMs);
      if (!ctx.appliedThrough) await sleep(Math.min(o.settleMs, Math.max(0, deadline.at - Date.now())), ctx.signal);
      const items = await batchGet(ctx.client, ctx.mapping.targetTable, ctx.keyNames, batch.map((s) => s.itemKey), { concurrency: ctx.concurrency });
      const readAt = Date.now();
      const timedOut = Date.now() >= deadline.at || ctx.signal?.aborted === true;
      const expired = timedOut || lastRound;
      const certain = certainVersion(pos.seq);
      for (const s of batch) {
        const row = rows.get(keyText(s.sourceKey));
        let expected = row ? ctx.mapping.toItem(row) : undefined;
        // An item whose key is not the one its source row maps to is extra whatever the row says.
        if (expected && itemKeyText(ctx.mapping.keyOf(row!), ctx.keyNames) !== itemKeyText(s.itemKey, ctx.keyNames)) expected = undefined;
        const found = items.get(itemKeyText(s.itemKey, ctx.keyNames));
        const verdict = compareItems(expected, found);
        if (verdict === 'match') {
          resolved += 1;
          continue;
        }
        const v = itemVersion(found);
        const ahead = v !== undefined && BigInt(v) > BigInt(loadVersion(pos.seq));
        // The item's last write lies where the read view may lag the reported S: conclusive only if an earlier
        // round saw the same version and this snapshot began a settle later (see the module invariants).
        const uncertain = v !== undefined && BigInt(v) > certain && !(s.seen?.version === v && snapshotAt >= s.seen.at + o.settleMs);
        const again = (): void => {
          if (!expired) next.push({ ...s, seenAtSeq: pos.seq, ...(v !== undefined ? { seen: s.seen?.version === v ? s.seen : { version: v, at: readAt } } : {}) });
          else undecided += 1; // no evidence either way: never a mismatch
        };
        if (ahead || uncertain || (ctx.appliedThrough && !applied)) {
          again();
          continue;
        }
        if (!ctx.appliedThrough && !timedOut) {
          if (lastRound) undecided += 1; // the no-probe rule confirms only at the deadline
          else next.push({ ...s, seenAtSeq: pos.seq });
          continue;
        }
        const live = liveUserItem(found);
        confirmed.push({
          kind: verdict,
          sourceKey: s.sourceKey,
          itemKey: plainKey(s.itemKey),
          seenAtSeq: pos.seq,
          ...(v !== undefined ? { itemVersion: v } : {}),
          ...(verdict === 'different' && expected && live ? { diff: diffAttributes(expected, live).slice(0, 10) } : {}),
        });
      }
    }
    pending = next;
    // Uncertain suspects need a snapshot begun a settle after their last target read.
    if (pending.some((s) => s.seen)) await sleep(o.settleMs, ctx.signal);
  }
  if (undecided > 0 && !ctx.signal?.aborted) throw new VerifyInconclusiveError(`${ctx.spec.schema}.${ctx.spec.table}`, undecided);
  return { confirmed, resolved };
}
