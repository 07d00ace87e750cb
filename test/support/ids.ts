/** Unique names so tests sharing one stack never collide (databases, topics, tables, workflow ids). */
let n = 0;
export function uniqueName(prefix: string): string {
  n += 1;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${n}`.replace(/[^A-Za-z0-9_]/g, '_');
}
