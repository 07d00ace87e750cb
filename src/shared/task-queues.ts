/** Task-queue names and deterministic workflow ids, shared by workers, clients and workflows. */

/** The queue every cutover worker polls; scale out by running more workers on it. */
export const TASK_QUEUE = (typeof process === 'undefined' ? undefined : process.env.CUTOVER_TASK_QUEUE) ?? 'cutover';

/** One workflow per table: `migrate:<db>.<table>`. */
export function migrationWorkflowId(database: string, table: string): string {
  return `migrate:${database}.${table}`;
}

/** The plan workflow's id for a named plan. */
export function planWorkflowId(plan: string): string {
  return `plan:${plan}`;
}
