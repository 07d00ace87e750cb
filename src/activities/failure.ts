/**
 * The boundary between an activity's error and the failure Temporal records in workflow history.
 *
 * Invariant: no row data reaches workflow history. What crosses is the error's class name (the failure type retry
 * policies match on), a message with its quoted literals masked, and nonRetryable; never `details`, never the cause
 * chain (a mysql2 or SDK error under a CutoverError may quote a value: "Duplicate entry 'x' for key …"), never the
 * original stack (its first line repeats the raw message).
 *  - ConfigError and PreflightError (and subclasses) describe config files and schemas, never rows: kept verbatim so
 *    bad-input messages still name the file, table and field exactly.
 *  - Every other message has each '…' and "…" run replaced by '…' (backquoted MySQL identifiers are kept). cutover's
 *    own messages already name a row only by a non-revealing reference (docs/security.md, "Row data"); the masking is
 *    the second line of defence for messages written by libraries and hooks.
 *  - Temporal's own failures (cancellation) pass unchanged: they carry no data and the SDK must see them as they are.
 * The raw message stays in the worker's local log at debug level only.
 */
import { ApplicationFailure, CancelledFailure, TemporalFailure } from '@temporalio/common';
import { ConfigError, CutoverError, PreflightError } from '../shared/errors';

/** From the first opening single quote to the last closing one (greedy: a value may itself hold quotes). */
const SINGLE = /(^|\W)'.*'(?=\W|$)/s;
const DOUBLE = /"(?:[^"\\]|\\.)*"/g;

/**
 * `message` with quoted runs replaced by '…': everything from the first opening ' to the last closing ' (an apostrophe
 * inside a word, as in "DynamoDB's", opens nothing), and every "…" string. Capped at 2000 characters.
 */
export function maskLiterals(message: string): string {
  const masked = message.replace(SINGLE, "$1'…'").replace(DOUBLE, '"…"');
  return masked.length > 2000 ? `${masked.slice(0, 2000)}…` : masked;
}

/** Whether `err`'s message comes from config or schema only and may be recorded verbatim. */
function isConfigMessage(err: unknown): boolean {
  return err instanceof ConfigError || err instanceof PreflightError;
}

/** The message safe to record in workflow history for `err` (see the file comment). */
export function historySafeMessage(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown } | undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (isConfigMessage(err)) return message;
  const code = typeof e?.code === 'string' && !message.includes(e.code) ? ` [${e.code}]` : '';
  return maskLiterals(message) + code;
}

/**
 * The error an activity wrapper throws for `err`: an ApplicationFailure of the same type (class name) whose message is
 * history-safe, with no cause and no details. A non-retriable CutoverError becomes nonRetryable; other errors keep
 * the retry policy's say (it matches on the type). Temporal cancellation failures are returned unchanged.
 */
export function toHistorySafeFailure(err: unknown): Error {
  if (err instanceof CancelledFailure) return err;
  if (err instanceof TemporalFailure && !(err instanceof ApplicationFailure)) return err;
  const type = err instanceof ApplicationFailure ? (err.type ?? 'Error') : err instanceof Error ? err.name : 'Error';
  const nonRetryable = err instanceof ApplicationFailure ? (err.nonRetryable ?? false) : err instanceof CutoverError && !err.retriable;
  return ApplicationFailure.create({ type, message: historySafeMessage(err), nonRetryable });
}
