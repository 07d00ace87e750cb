/**
 * The load generator's AppStore seam (src/loadgen/app-store.ts) over MigratingTable: the "during migration"
 * application. Keeps that contract: a duplicate insert and an update/delete of an absent key resolve with
 * `{ applied: false }`; a rejection means the outcome is unknown.
 */
import type { AppStore, WriteOutcome } from '../loadgen/app-store';
import type { Row } from '../pipeline/types';
import { DuplicateKeyError } from './errors';
import type { MigratingTable } from './migrating-table';

/** Routes each logged table name to its MigratingTable; `close` closes them (retiring their heartbeats). */
export class RoutingAppStore implements AppStore {
  constructor(
    private readonly tables: Readonly<Record<string, MigratingTable>>,
    private readonly primaryKeys: Readonly<Record<string, readonly string[]>>,
  ) {}

  private table(name: string): MigratingTable {
    const t = this.tables[name];
    if (!t) throw new Error(`RoutingAppStore: no migrating table named ${name}`);
    return t;
  }

  async get(table: string, key: Row): Promise<Row | null> {
    return (await this.table(table).get(key)) ?? null;
  }

  async insert(table: string, row: Row): Promise<WriteOutcome> {
    try {
      await this.table(table).insert(row);
      return { applied: true };
    } catch (e) {
      if (e instanceof DuplicateKeyError) return { applied: false };
      throw e;
    }
  }

  async update(table: string, row: Row): Promise<WriteOutcome> {
    const pk = this.primaryKeys[table] ?? [];
    const key = Object.fromEntries(pk.map((c) => [c, row[c]]));
    const changes = Object.fromEntries(Object.entries(row).filter(([c]) => !pk.includes(c)));
    return { applied: await this.table(table).update(key, changes) };
  }

  async delete(table: string, key: Row): Promise<WriteOutcome> {
    return { applied: await this.table(table).delete(key) };
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.tables).map((t) => t.close()));
  }
}
