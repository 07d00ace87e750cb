/**
 * The boundary between an activity's error and the failure Temporal records in workflow history.
 *
 * Invariant: no row data reaches workflow history. What crosses is the error's class name (the failure type retry
 * policies match on), a message with its quoted literals masked, and nonRetryable; never `details`, never the cause
 * chain (a mysql2 or SDK error under a CutoverError may quote a value: "Duplicate entry 'x' for key …"), never the
 * original stack (its first line repeats the raw message).
 *  - ConfigError and PreflightError (and subclasses) describe config files and schemas, never rows: kept verbatim so
 *    bad-input messages still name the file, table and field exactly.
 *  - cutover's own errors (CutoverError) and service errors (socket, kafkajs, AWS SDK) have each '…' and "…" run
 *    replaced by '…' (backquoted MySQL identifiers are kept). cutover's own messages never quote values
 *    (docs/security.md, "Row data"); the masking is a second line of defence.
 *  - Any other error's message (mysql2 "Duplicate entry 'x'", a hook's Error, a part's ApplicationFailure) is
 *    withheld: its type, code and a reference (failureRef) to the worker's local log line remain.
 *  - Temporal's own failures (cancellation) pass unchanged: they carry no data and the SDK must see them as they are.
 * The raw message stays in the worker's local log at debug level only.
 */
import { createHash } from 'node:crypto';
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

/**
 * Whether a foreign (non-cutover) error is of a family whose messages describe services, never rows: a socket error
 * (errno + syscall), a kafkajs error, an AWS SDK service exception ($metadata).
 */
function isServiceError(err: unknown): boolean {
  const e = err as { errno?: unknown; syscall?: unknown; name?: unknown; $metadata?: unknown } | undefined;
  if (!e) return false;
  return (typeof e.errno === 'number' && typeof e.syscall === 'string') || (typeof e.name === 'string' && e.name.startsWith('KafkaJS')) || typeof e.$metadata === 'object';
}

/** A short reference to `err`'s raw message, logged next to it locally so an operator can find it from the history. */
export function failureRef(err: unknown): string {
  const raw = typeof (err as { message?: unknown })?.message === 'string' ? (err as Error).message : String(err);
  return createHash('sha256').update(raw).digest('hex').slice(0, 10);
}

/**
 * The message safe to record in workflow history for `err` (see the file comment): verbatim for config/preflight
 * errors; literals masked for cutover's own errors and service errors; any other message (a mysql2 error, a hook's or
 * an SDK's ApplicationFailure, a TypeError) is withheld: only its code and a reference to the local log line remain.
 */
export function historySafeMessage(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown } | undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (isConfigMessage(err)) return message;
  const code = typeof e?.code === 'string' && !message.includes(e.code) ? ` [${e.code}]` : '';
  if (err instanceof CutoverError || isServiceError(err)) return maskLiterals(message) + code;
  return `message withheld from workflow history (not a cutover error, it may quote row data)${code}; worker log ref ${failureRef(err)}`;
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
