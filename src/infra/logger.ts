/**
 * Structured JSON logs (pino). Every line of a migration's activities carries `table`, `phase` and `workflowId`;
 * credentials are redacted by path wherever they appear. At info and above cutover logs no row values (only counts,
 * positions, cursors and ids; its error messages name a value by kind and length, never quote it), so such a line is
 * safe to ship anywhere. The one exception is deliberate: a failed activity's raw error message (which a library may
 * have written with a value in it) is logged at debug level only, for the worker's own host (src/activities/failure.ts).
 */
import pino, { type Logger } from 'pino';
import type { ActivityCtx } from '../shared/activity-contract';

export type { Logger };

/** Field paths that may hold secrets; their values are replaced wherever they occur (top level or one level down). */
export const REDACTED_PATHS = [
  'password', '*.password', 'secret', '*.secret', 'secretAccessKey', '*.secretAccessKey', 'accessKeyId', '*.accessKeyId',
  'sessionToken', '*.sessionToken', 'credentials', '*.credentials', 'authorization', '*.authorization', 'mysqlUrl', '*.mysqlUrl',
  'url', '*.url', 'row', '*.row', 'data', '*.data', 'before', '*.before', 'item', '*.item',
];

/** The process's root logger: JSON to stdout (or `destination`), level from CUTOVER_LOG_LEVEL (default info). */
export function createLogger(component: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: process.env.CUTOVER_LOG_LEVEL ?? 'info',
    base: { component, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A child logger naming the migration an activity works for: table, phase and workflow id on every line. */
export function migrationLogger(root: Logger, ctx: ActivityCtx, activity: string): Logger {
  return root.child({ table: `${ctx.source.database}.${ctx.source.table}`, phase: ctx.phase, workflowId: ctx.migrationId, activity });
}
