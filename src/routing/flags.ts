/**
 * The routing flags of one migrating table and the rules for changing them (pure; no I/O).
 *
 * Write modes move one step at a time along the migration order, forward or back:
 *
 *     mysql-only ⇄ mysql-primary ⇄ fenced ⇄ dynamo-primary ⇄ dynamo-only
 *
 * `fenced` is the only way between a MySQL-primary and a DynamoDB-primary mode: while an instance is fenced it holds
 * (does not fail) writes, so once every live instance acknowledged `fenced` no write of either primary is in flight
 * and the switch cannot interleave a MySQL-first write with a DynamoDB-first write of the same key.
 * Reads may move freely; a readPercent strictly between 0 and 100 sends a fixed, sticky share of keys to DynamoDB (see `readsDynamo`).
 */
import { z } from 'zod';
import { WRITE_MODES, type WriteMode } from '../shared/phases';
import { FlagError } from './errors';

export { WRITE_MODES, type WriteMode };

/** Where reads go: derived from readPercent (0 → mysql, 100 → dynamodb, else a sticky share of keys). */
export type ReadMode = 'mysql' | 'dynamodb' | 'percent';

/** The flag document of one table; `version` rises by one on every change. */
export interface TableFlags {
  readonly version: number;
  /** Share of keys (0–100) whose reads DynamoDB serves; sticky per key. */
  readonly readPercent: number;
  readonly writeMode: WriteMode;
  /** Fraction (0–1) of reads that are also read from the other store and compared. */
  readonly shadowReadFraction: number;
}

/** What a table runs before anyone set its flags: everything on MySQL, as before the migration. */
export const DEFAULT_FLAGS: TableFlags = { version: 0, readPercent: 0, writeMode: 'mysql-only', shadowReadFraction: 0 };

export const flagsSchema = z
  .object({
    version: z.number().int().nonnegative(),
    readPercent: z.number().min(0).max(100),
    writeMode: z.enum(WRITE_MODES),
    shadowReadFraction: z.number().min(0).max(1),
  })
  .strict();

/** The read mode `flags` imply. */
export function readMode(flags: TableFlags): ReadMode {
  return flags.readPercent <= 0 ? 'mysql' : flags.readPercent >= 100 ? 'dynamodb' : 'percent';
}

/** The changeable part of the flags. */
export type FlagChange = Partial<Omit<TableFlags, 'version'>>;

/** Parses a stored flag document; fails naming the table and the field. */
export function parseFlags(table: string, raw: unknown): TableFlags {
  const r = flagsSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new FlagError(`${issue.path.join('.') || 'document'}: ${issue.message}`, table);
  }
  return r.data;
}

/** The flags after `change`, version + 1; throws FlagError when the write-mode step is not allowed. */
export function nextFlags(table: string, current: TableFlags, change: FlagChange): TableFlags {
  const next = parseFlags(table, { ...current, ...change, version: current.version + 1 });
  if (!isAllowedWriteStep(current.writeMode, next.writeMode)) {
    throw new FlagError(`write mode cannot go from ${current.writeMode} to ${next.writeMode}; the order is ${WRITE_MODES.join(' ⇄ ')}, one step at a time`, table);
  }
  return next;
}

/** True when `to` is `from` or one step away from it in the migration order. */
export function isAllowedWriteStep(from: WriteMode, to: WriteMode): boolean {
  return Math.abs(WRITE_MODES.indexOf(from) - WRITE_MODES.indexOf(to)) <= 1;
}

/** True when `a` and `b` are the same flag state (ignoring the version). */
export function sameState(a: TableFlags, b: TableFlags): boolean {
  return a.readPercent === b.readPercent && a.writeMode === b.writeMode && a.shadowReadFraction === b.shadowReadFraction;
}

/** 32-bit FNV-1a of a string: stable across processes and versions, cheap enough for every request. */
export function stableHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The bucket 0..9999 of a key (basis points), the same in every instance for the same table and key. */
export function keyBucket(sourceId: string, keyString: string): number {
  return stableHash(`${sourceId}\u0000${keyString}`) % 10_000;
}

/**
 * True when a read of `keyString` goes to DynamoDB. In `percent` mode a key reads DynamoDB iff its bucket is below
 * the share, so raising the share only moves keys from MySQL to DynamoDB (never back) and a key never flip-flops
 * while the share is unchanged.
 */
export function readsDynamo(flags: TableFlags, sourceId: string, keyString: string): boolean {
  if (flags.readPercent <= 0) return false;
  if (flags.readPercent >= 100) return true;
  return keyBucket(sourceId, keyString) < Math.round(flags.readPercent * 100);
}
