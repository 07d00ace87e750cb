/**
 * Final-state readers: what MySQL and DynamoDB hold for a set of keys, read directly with mysql2 and the AWS SDK
 * (never through cutover's own code). The DynamoDB side is told explicitly how to find the item for a key (key
 * attribute templates) and which attribute holds the write token; an item with `_del` = true is a tombstone, i.e.
 * absent. Reads are strongly consistent (ConsistentRead) and unprocessed keys are retried with backoff.
 */
import { BatchGetItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { FieldPacket, Pool, RowDataPacket } from 'mysql2/promise';
import { canonicalRowFromMysql, jsonAsText } from './canonical';
import { CheckerInputError } from './errors';
import { keyString, type LogRow, type LogValue } from './log-format';
import type { ObservedState } from './judge';

/** Where a logged table lives in MySQL. */
export interface MysqlTableRef {
  /** Database; default: the pool's. */
  readonly database?: string;
  readonly table: string;
  /** Primary-key columns (the logged key's columns). */
  readonly keyColumns: readonly string[];
}

/** One key attribute of the DynamoDB item: `template` with `{column}` replaced by the key column's value. */
export interface DynamoKeyPart {
  readonly attribute: string;
  readonly type: 'S' | 'N' | 'B';
  /** e.g. "USER#{id}", "{id}", "PROFILE". For type B, exactly one "{column}" holding a binary value. */
  readonly template: string;
}

/** Where a logged table's rows live in DynamoDB, and how to read the checker's evidence off an item. */
export interface DynamoTableRef {
  readonly tableName: string;
  readonly key: readonly DynamoKeyPart[];
  /** Attribute holding the write token (the mapped token column), as S. */
  readonly tokenAttribute: string;
  /** Default "_del". */
  readonly tombstoneAttribute?: string;
  /**
   * Optional, independent of any mapping code: column → attribute of plainly mapped columns to compare with the
   * written row (S as text, N numerically, B as bytes; an absent attribute is NULL). Other columns are not compared.
   */
  readonly attributes?: Readonly<Record<string, string>>;
  /** Optional: the item as a canonical row, to compare every written column (not only the token). */
  readonly itemToRow?: (item: Record<string, AttributeValue>) => LogRow;
}

/** The compared columns of `item` as a partial row; N attributes go into `numeric` (compared as numbers). */
export function attributesRow(item: Record<string, AttributeValue>, attributes: Readonly<Record<string, string>>): { row: LogRow; numeric: Set<string> } {
  const row: Record<string, LogValue> = {};
  const numeric = new Set<string>();
  for (const [column, attr] of Object.entries(attributes)) {
    const v = item[attr];
    if (v === undefined || v.NULL) row[column] = null;
    else if (v.S !== undefined) row[column] = v.S;
    else if (v.N !== undefined) {
      row[column] = v.N;
      numeric.add(column);
    } else if (v.B !== undefined) row[column] = { $b64: Buffer.from(v.B).toString('base64') };
    else row[column] = JSON.stringify(v); // a type the checker does not compare: shows up as a difference
  }
  return { row, numeric };
}

function sqlValue(v: LogValue): unknown {
  return v !== null && typeof v === 'object' ? Buffer.from(v.$b64, 'base64') : v;
}

/** Final MySQL state of each key (key string → state). */
export async function readMysqlStates(pool: Pool, ref: MysqlTableRef, tokenColumn: string, keys: readonly LogRow[]): Promise<Map<string, ObservedState>> {
  const out = new Map<string, ObservedState>();
  const table = ref.database ? `\`${ref.database}\`.\`${ref.table}\`` : `\`${ref.table}\``;
  const cols = ref.keyColumns.map((c) => `\`${c}\``).join(', ');
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500);
    const tuple = `(${ref.keyColumns.map(() => '?').join(', ')})`;
    const params = chunk.flatMap((k) => ref.keyColumns.map((c) => {
      if (!(c in k)) throw new CheckerInputError(`logged key ${keyString(k)} of ${ref.table} lacks key column ${c}`);
      return sqlValue(k[c]);
    }));
    const [rows, fields] = (await pool.query({ sql: `SELECT * FROM ${table} WHERE (${cols}) IN (${chunk.map(() => tuple).join(', ')})`, values: params, typeCast: jsonAsText } as never)) as unknown as [RowDataPacket[], FieldPacket[]];
    for (const r of rows) {
      const row = canonicalRowFromMysql(r, fields as never);
      const key = Object.fromEntries(ref.keyColumns.map((c) => [c, row[c]]));
      const token = row[tokenColumn];
      out.set(keyString(key), { present: true, token: typeof token === 'string' ? token : undefined, row });
    }
  }
  for (const k of keys) if (!out.has(keyString(k))) out.set(keyString(k), { present: false });
  return out;
}

/** The DynamoDB key of `key` under `parts`. */
export function dynamoKeyOf(parts: readonly DynamoKeyPart[], key: LogRow): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const p of parts) {
    const text = p.template.replace(/\{([^}]+)\}/g, (_m, col: string) => {
      const v = key[col];
      if (v === undefined) throw new CheckerInputError(`key template ${p.template} names ${col}, which the logged key lacks`);
      if (v !== null && typeof v === 'object') return v.$b64;
      return String(v);
    });
    out[p.attribute] = p.type === 'S' ? { S: text } : p.type === 'N' ? { N: text } : { B: Buffer.from(text, 'base64') };
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Final DynamoDB state of each key (key string → state); tombstones are absent. */
export async function readDynamoStates(client: DynamoDBClient, ref: DynamoTableRef, keys: readonly LogRow[]): Promise<Map<string, ObservedState>> {
  const tomb = ref.tombstoneAttribute ?? '_del';
  const byItemKey = new Map<string, string>();
  const dkeys = keys.map((k) => {
    const dk = dynamoKeyOf(ref.key, k);
    byItemKey.set(itemKeyString(ref.key, dk), keyString(k));
    return dk;
  });
  const out = new Map<string, ObservedState>();
  for (let i = 0; i < dkeys.length; i += 100) {
    let pending: Record<string, AttributeValue>[] = dkeys.slice(i, i + 100);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 10) throw new CheckerInputError(`DynamoDB ${ref.tableName}: keys still unprocessed after ${attempt} attempts`);
      if (attempt > 0) await sleep(Math.min(2000, 50 * 2 ** attempt));
      const res = await client.send(new BatchGetItemCommand({ RequestItems: { [ref.tableName]: { Keys: pending, ConsistentRead: true } } })).catch((e: Error) => {
        if (e.name === 'ResourceNotFoundException') throw new CheckerInputError(`DynamoDB table ${ref.tableName} does not exist (has the migration created it?)`);
        throw e;
      });
      for (const item of res.Responses?.[ref.tableName] ?? []) {
        const ks = byItemKey.get(itemKeyString(ref.key, item));
        if (ks === undefined) continue;
        if (item[tomb]?.BOOL === true) out.set(ks, { present: false });
        else if (ref.itemToRow) out.set(ks, { present: true, token: item[ref.tokenAttribute]?.S, row: ref.itemToRow(item) });
        else if (ref.attributes) out.set(ks, { present: true, token: item[ref.tokenAttribute]?.S, ...attributesRow(item, ref.attributes), partial: true });
        else out.set(ks, { present: true, token: item[ref.tokenAttribute]?.S });
      }
      pending = (res.UnprocessedKeys?.[ref.tableName]?.Keys as Record<string, AttributeValue>[] | undefined) ?? [];
    }
  }
  for (const k of keys) if (!out.has(keyString(k))) out.set(keyString(k), { present: false });
  return out;
}

function itemKeyString(parts: readonly DynamoKeyPart[], item: Record<string, AttributeValue>): string {
  return JSON.stringify(parts.map((p) => {
    const v = item[p.attribute];
    if (!v) return null;
    if (v.B) return Buffer.from(v.B).toString('base64');
    return v.S ?? v.N ?? null;
  }));
}
