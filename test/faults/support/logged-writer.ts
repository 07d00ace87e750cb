/**
 * A write load for outage faults that can *see* a lost write, judged by the checker (src/checker) from an operation
 * log instead of by final-state equality alone.
 *
 * Why: with a few hundred hot keys, an event lost during an outage is almost always hidden by a later full-row write
 * to the same key, so "0 mismatches after recovery" proves little. Here:
 *  - every write carries a unique token (the `email` column) and is logged (invoke before, complete after, in the
 *    format of src/checker/log-format.ts); the checker's judge then requires each store's final state of every key to
 *    be one the acknowledged writes allow (no acknowledged write may start after the one whose token is visible);
 *  - while `mode` is 'once' (set around the fault window) every write goes to a key that is never written again:
 *    an insert of a fresh id, or a full-row update / delete of a "cold" key seeded before the fault. Each such write
 *    is therefore the last write to its key, and its loss stays visible (a missing item, the seed's token, or a
 *    resurrected row) instead of being overwritten.
 * Writes refused by MySQL (source down) are logged as failed, i.e. indeterminate; they are never counted as acked.
 */
import { DeleteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as mysql from 'mysql2/promise';
import { runCheck, type CheckReport } from '../../../src/checker/check';
import { nowMs, type LogRow, type OpRecord } from '../../../src/checker/log-format';
import { sleep } from './pipeline';

const COLD_BASE = 2_000_000;
const FRESH_BASE = 5_000_000;

/** Where the written table lives (the pipeline fixture's users table and its DynamoDB target). */
export interface LoggedTable {
  readonly pool: mysql.Pool;
  readonly db: string;
  readonly table: string;
  readonly targetTable: string;
  readonly logDir: string;
}

/** Writer with an operation log; see the module comment. */
export class LoggedWriter {
  acked = 0;
  failed = 0;
  /** Writes acknowledged while mode was 'once' (each the last write to its key). */
  ackedOnce = 0;
  mode: 'hot' | 'once' = 'hot';
  private readonly records: OpRecord[] = [];
  private op = 0;
  private nextCold = COLD_BASE + 1;
  private nextFresh = FRESH_BASE + 1;
  private coldEnd = COLD_BASE;
  private readonly onceWrites: { id: string; kind: 'insert' | 'update' | 'delete' }[] = [];
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  readonly logFile: string;

  constructor(private readonly t: LoggedTable, private readonly hotKeys = 300, private readonly rate = 60) {
    this.logFile = path.join(t.logDir, 'ops.jsonl');
  }

  private get qualified(): string {
    return `\`${this.t.db}\`.\`${this.t.table}\``;
  }

  /** Inserts `n` cold keys (logged, one multi-row statement) for the 'once' window's updates and deletes. */
  async seedCold(n = 1500): Promise<void> {
    const rows: { id: string; value: LogRow; op: number }[] = [];
    for (let k = 1; k <= n; k++) rows.push({ id: String(COLD_BASE + k), value: this.value(), op: this.op++ });
    const start = nowMs();
    for (const r of rows) this.records.push({ v: 1, instance: 'fault-writer', op: r.op, kind: 'insert', table: 'users', key: { id: r.id }, start, phase: 'invoke', value: r.value });
    await this.t.pool.query(`INSERT INTO ${this.qualified} (id, email, balance, n) VALUES ${rows.map(() => '(?, ?, ?, ?)').join(', ')}`, rows.flatMap((r) => [r.id, r.value.email, r.value.balance, r.value.n]));
    const end = nowMs();
    for (const r of rows) this.records.push({ v: 1, instance: 'fault-writer', op: r.op, kind: 'insert', table: 'users', key: { id: r.id }, start, phase: 'complete', end, result: 'ok', applied: true, value: r.value });
    this.coldEnd = COLD_BASE + n;
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.one();
        await sleep(1000 / this.rate);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private value(): LogRow {
    const i = this.op;
    return { email: `w${i}@fault`, balance: ((i % 4000) / 4).toFixed(2), n: i };
  }

  private async one(): Promise<void> {
    const once = this.mode === 'once';
    const r = Math.random();
    let kind: 'insert' | 'update' | 'delete';
    let id: number;
    if (once) {
      if (r < 0.4 || this.nextCold > this.coldEnd) {
        kind = 'insert';
        id = this.nextFresh++;
      } else {
        kind = r < 0.8 ? 'update' : 'delete';
        id = this.nextCold++;
      }
    } else {
      kind = r < 0.5 ? 'insert' : r < 0.85 ? 'update' : 'delete';
      id = 1 + Math.floor(Math.random() * this.hotKeys);
    }
    const op = this.op;
    const value = kind === 'delete' ? undefined : this.value();
    this.op++;
    const key = { id: String(id) };
    const start = nowMs();
    this.records.push({ v: 1, instance: 'fault-writer', op, kind, table: 'users', key, start, phase: 'invoke', ...(value ? { value } : {}) });
    const [sql, params] = kind === 'insert'
      ? [`INSERT INTO ${this.qualified} (id, email, balance, n) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE email = VALUES(email), balance = VALUES(balance), n = VALUES(n)`, [id, value!.email, value!.balance, value!.n]]
      : kind === 'update'
        ? [`UPDATE ${this.qualified} SET email = ?, balance = ?, n = ? WHERE id = ?`, [value!.email, value!.balance, value!.n, id]]
        : [`DELETE FROM ${this.qualified} WHERE id = ?`, [id]];
    try {
      const [res] = await this.t.pool.query(sql, params);
      const applied = (res as mysql.ResultSetHeader).affectedRows > 0;
      this.records.push({ v: 1, instance: 'fault-writer', op, kind, table: 'users', key, start, phase: 'complete', end: nowMs(), result: 'ok', applied, ...(value ? { value } : {}) });
      this.acked += 1;
      if (once) {
        this.ackedOnce += 1;
        this.onceWrites.push({ id: String(id), kind });
      }
    } catch (e) {
      const err = e as Error;
      this.records.push({ v: 1, instance: 'fault-writer', op, kind, table: 'users', key, start, phase: 'complete', end: nowMs(), result: 'failed', error: { name: err.name, message: err.message.slice(0, 200) }, ...(value ? { value } : {}) });
      this.failed += 1;
      await sleep(200);
    }
  }

  /** Writes the log and runs the checker against MySQL and the DynamoDB target (stores must agree). */
  async check(dynamo: DynamoDBClient): Promise<CheckReport> {
    fs.writeFileSync(this.logFile, this.records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    return runCheck([this.logFile], {
      mysql: this.t.pool,
      dynamo,
      tables: [{
        table: 'users',
        tokenColumn: 'email',
        mysql: { database: this.t.db, table: this.t.table, keyColumns: ['id'] },
        dynamo: {
          tableName: this.t.targetTable,
          key: [{ attribute: 'pk', type: 'S', template: 'USER#{id}' }, { attribute: 'sk', type: 'S', template: 'PROFILE' }],
          tokenAttribute: 'email',
          attributes: { email: 'email', balance: 'balance', n: 'n' },
        },
      }],
    });
  }

  /**
   * Self-check that the judge would have seen a loss: removes the DynamoDB item of one key written (as an insert or
   * update) in the 'once' window, re-runs the check, and returns its lost-write count (expected ≥ 1). Destructive:
   * call last.
   */
  async lossIsVisible(dynamo: DynamoDBClient): Promise<number> {
    const victim = this.onceWrites.find((w) => w.kind !== 'delete')?.id;
    if (!victim) throw new Error('no insert/update was acknowledged in the once window');
    await dynamo.send(new DeleteItemCommand({ TableName: this.t.targetTable, Key: { pk: { S: `USER#${victim}` }, sk: { S: 'PROFILE' } } }));
    const report = await this.check(dynamo);
    return report.violationsByKind['lost-write'];
  }
}

/** One line for the test log and the fault record: the checker's verdict. */
export function verdict(r: CheckReport): string {
  return `checker: ${r.keysChecked} keys, ${r.totals.acknowledgedWrites} acked writes, lost ${r.lostWrites}, violations ${JSON.stringify(r.violationsByKind)}`;
}
