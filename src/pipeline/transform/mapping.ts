/**
 * A compiled mapping: one source table's rows ⇄ DynamoDB items. Shared by apply (toItem/keyOf), verify and routing
 * (toRow reads items back as canonical rows).
 *
 * Invariants (checked by compileMapping, or the row fails with TransformError):
 * - keyOf(row) depends only on primary-key columns and is injective on them: the key templates use only primary-key
 *   columns, together use all of them, and render injectively (./template.ts). So one row ⇔ one item, and a change
 *   of primary key is the only way a row's item key changes.
 * - toItem never emits the reserved attributes (_v, _del, _src); the apply adds them. No two columns, keys or derived
 *   attributes share an attribute name.
 * - Numbers stay exact (./convert.ts). toRow(toItem(row)) equals row (minus excluded columns) whenever the column
 *   facts are known (information_schema columns passed in, or `sqlType` in the file); JSON columns compare
 *   semantically (DynamoDB keeps no key order).
 * - Several mappings into one target table are kept apart by their key templates' literal prefixes
 *   (validateSharedTargets, ./targets.ts).
 */
import * as path from 'node:path';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { RESERVED_ATTRS, type Item } from '../item';
import type { ColumnValue, Row } from '../types';
import { factsFromColumn, factsFromSqlType, kindOf, primaryKeyOf, type ColumnFacts, type SourceColumn } from './columns';
import { parseMappingFile, parseTableSpec, type GsiSpec, type TableMappingConfig, type TableSpec } from './config';
import { ALLOWED_KINDS, decodeValue, encodeValue, normalizeNumber, resolveAuto, type ConversionType, type DatetimeFormat } from './convert';
import { MappingConfigError, TransformError } from './errors';
import { loadHook, type MappingHook } from './hook';
import { parseRendered, parseTemplate, renderTemplate, type Template } from './template';
import { validateSharedTargets } from './targets';

export type { SourceColumn as ColumnInfo } from './columns';
export type { TableMappingConfig } from './config';

/** The DynamoDB table a mapping writes to, as the mapping requires it (for create-or-check). */
export interface TargetTable {
  readonly table: string;
  readonly partitionKey: { readonly name: string; readonly type: 'S' | 'N' | 'B' };
  readonly sortKey?: { readonly name: string; readonly type: 'S' | 'N' | 'B' };
  readonly billingMode: 'PAY_PER_REQUEST' | 'PROVISIONED';
  readonly readCapacity?: number;
  readonly writeCapacity?: number;
  readonly gsis: readonly GsiSpec[];
  readonly ttlAttribute?: string;
}

/** One source table's mapping, ready to use. All methods are pure and synchronous (a hook must be too). */
export interface CompiledMapping {
  /** "schema.table": the value of every item's _src. */
  readonly sourceId: string;
  readonly source: { readonly schema: string; readonly table: string; readonly primaryKey: readonly string[] };
  readonly targetTable: string;
  readonly partitionKey: string;
  readonly sortKey?: string;
  readonly target: TargetTable;
  /** The key templates as written in the mapping. */
  readonly keyTemplates: { readonly partitionKey: string; readonly sortKey?: string };
  /**
   * The item for `row` (without _v/_del/_src): a new object on every call, which the caller may complete. Throws
   * TransformError when the row cannot be mapped.
   */
  toItem(row: Row): Item;
  /** Just the key attributes of `row`'s item; needs only the primary-key columns. */
  keyOf(row: Row): Item;
  /** The canonical row an item holds (excluded columns absent). Throws TransformError on a foreign item. */
  toRow(item: Item): Row;
  /** The primary-key columns of `row` (for the DLQ, logs and the routing layer). */
  primaryKeyOf(row: Row): Row;
}

interface ColumnPlan {
  readonly column: string;
  readonly attribute: string;
  readonly type: ConversionType;
  readonly format: DatetimeFormat;
  readonly facts: ColumnFacts;
  readonly nulls: 'omit' | 'null';
}

interface KeyPlan {
  readonly attribute: string;
  readonly template: Template;
  readonly type: 'S' | 'N' | 'B';
}

function templateText(v: ColumnValue | undefined): string | undefined {
  if (v === null || v === undefined) return undefined;
  return typeof v === 'object' ? v.$b64 : String(v);
}

/**
 * Compiles one table's mapping. With `columns` (information_schema of the source table) every referenced column,
 * conversion and the primary key are checked, and toRow restores the source's exact types. Throws
 * MappingConfigError naming the file, table and field.
 */
export function compileMapping(tableConfig: TableMappingConfig | TableSpec, columns?: readonly SourceColumn[]): CompiledMapping {
  const { file, baseDir: dir, ...rest } = tableConfig as TableMappingConfig;
  const baseDir = dir ?? (file ? path.dirname(file) : process.cwd());
  const spec = parseTableSpec(rest, file);
  const sourceId = spec.source;
  const fail = (field: string, message: string): never => {
    throw new MappingConfigError(message, file, sourceId, field);
  };
  const [schema, table] = sourceId.split('.');
  const byName = new Map((columns ?? []).map((c) => [c.name, c]));
  const known = (field: string, c: string) => {
    if (columns && !byName.has(c)) fail(field, `unknown column "${c}"`);
  };

  const parse = (field: string, text: string): Template => {
    try {
      return parseTemplate(text);
    } catch (e) {
      return fail(field, (e as Error).message);
    }
  };
  const pkTemplate = parse('partitionKey.template', spec.partitionKey.template);
  const skTemplate = spec.sortKey ? parse('sortKey.template', spec.sortKey.template) : undefined;
  const keyColumns = [...new Set([...pkTemplate.columns, ...(skTemplate?.columns ?? [])])];

  // Primary key: from information_schema, else the file, else the key templates' columns.
  let primaryKey = spec.primaryKey ?? keyColumns;
  if (columns) {
    const pk = primaryKeyOf(columns);
    if (!pk.length) fail('primaryKey', `source table has no primary key`);
    if (spec.primaryKey && spec.primaryKey.join(',') !== pk.join(',')) fail('primaryKey', `is [${spec.primaryKey}] but the source's primary key is [${pk}]`);
    primaryKey = pk;
  }
  for (const c of keyColumns) {
    known('partitionKey.template', c);
    if (!primaryKey.includes(c)) fail(pkTemplate.columns.includes(c) ? 'partitionKey.template' : 'sortKey.template', `uses column "${c}", which is not in the primary key [${primaryKey}]`);
  }
  for (const c of primaryKey) if (!keyColumns.includes(c)) fail('partitionKey.template', `primary-key column "${c}" appears in no key template, so keys would collide`);

  const factsOf = (c: string): ColumnFacts => {
    const col = byName.get(c);
    if (col) return factsFromColumn(col);
    const sqlType = spec.columns[c]?.sqlType;
    return sqlType ? factsFromSqlType(sqlType) : { kind: 'unknown' };
  };

  // Attribute names: every produced attribute exactly once, none reserved.
  const owners = new Map<string, string>();
  const claim = (attr: string, owner: string, field: string) => {
    if (RESERVED_ATTRS.includes(attr)) fail(field, `attribute "${attr}" is reserved for cutover`);
    const prev = owners.get(attr);
    if (prev) fail(field, `attribute "${attr}" is produced by both ${prev} and ${owner}`);
    owners.set(attr, owner);
  };
  const keyPlans: KeyPlan[] = [];
  const keySpec = (name: 'partitionKey' | 'sortKey', t: Template, ks: { attribute: string; type: 'S' | 'N' | 'B' }) => {
    claim(ks.attribute, name, `${name}.attribute`);
    if (ks.type !== 'S') {
      if (!t.single) fail(`${name}.type`, `type ${ks.type} needs a template that is exactly one placeholder, e.g. "{id}"`);
      const k = factsOf(t.columns[0]).kind;
      const ok = ks.type === 'N' ? ['int', 'bigint', 'decimal', 'bit', 'year', 'unknown'] : ['binary', 'unknown'];
      if (!ok.includes(k)) fail(`${name}.type`, `column "${t.columns[0]}" of kind ${k} cannot be a key of type ${ks.type}`);
    }
    keyPlans.push({ attribute: ks.attribute, template: t, type: ks.type });
  };
  keySpec('partitionKey', pkTemplate, spec.partitionKey);
  if (spec.sortKey && skTemplate) keySpec('sortKey', skTemplate, spec.sortKey);

  for (const c of spec.exclude) known('exclude', c);
  for (const c of Object.keys(spec.rename)) {
    known(`rename.${c}`, c);
    if (spec.exclude.includes(c)) fail(`rename.${c}`, `column "${c}" is both renamed and excluded`);
  }
  const plans = new Map<string, ColumnPlan>();
  const planFor = (c: string): ColumnPlan => {
    const cs = spec.columns[c];
    const facts = factsOf(c);
    const type = !cs || cs.type === 'auto' ? resolveAuto(facts.kind) : cs.type;
    return { column: c, attribute: spec.rename[c] ?? c, type, format: cs?.format ?? 'iso', facts, nulls: cs?.nulls ?? spec.nulls };
  };
  const declared = new Set([...(columns ?? []).map((c) => c.name), ...Object.keys(spec.columns), ...Object.keys(spec.rename), ...primaryKey]);
  for (const c of declared) {
    if (spec.exclude.includes(c)) continue;
    const field = spec.columns[c] ? `columns.${c}` : spec.rename[c] ? `rename.${c}` : `columns.${c}`;
    known(field, c);
    const p = planFor(c);
    const cs = spec.columns[c];
    if (cs && cs.type !== 'auto' && p.facts.kind !== 'unknown' && !ALLOWED_KINDS[cs.type].includes(p.facts.kind)) {
      fail(`columns.${c}.type`, `conversion ${cs.type} does not apply to column "${c}" of type ${byName.get(c)?.dataType ?? cs.sqlType}`);
    }
    if (cs?.format && p.type !== 'datetime') fail(`columns.${c}.format`, `format applies only to type datetime`);
    if (p.type === 'number' && p.facts.kind === 'decimal' && (p.facts.precision ?? 0) > 38) {
      fail(`columns.${c}.type`, `DECIMAL(${p.facts.precision}) can exceed DynamoDB's 38 digits: map column "${c}" as type string`);
    }
    claim(p.attribute, `column "${c}"`, field);
    plans.set(c, p);
  }

  const derived: KeyPlan[] = [];
  for (const [attr, d] of Object.entries(spec.derived)) {
    const text = typeof d === 'string' ? d : d.template;
    const t = parse(`derived.${attr}`, text);
    for (const c of t.columns) known(`derived.${attr}`, c);
    if (typeof d !== 'string' && d.type === 'N' && !t.single) fail(`derived.${attr}.type`, 'type N needs a template that is exactly one placeholder');
    claim(attr, `derived "${attr}"`, `derived.${attr}`);
    derived.push({ attribute: attr, template: t, type: typeof d === 'string' ? 'S' : d.type });
  }
  let ttlColumn: string | undefined;
  if (spec.ttl) {
    if (spec.ttl.column) {
      known('ttl.column', spec.ttl.column);
      const k = factsOf(spec.ttl.column).kind;
      if (!['datetime', 'int', 'bigint', 'unknown'].includes(k)) fail('ttl.column', `column "${spec.ttl.column}" of kind ${k} cannot be a TTL`);
      claim(spec.ttl.attribute, 'ttl', 'ttl.attribute');
      ttlColumn = spec.ttl.column;
    } else if (![...plans.values()].some((p) => p.attribute === spec.ttl?.attribute && (p.type === 'number' || p.format === 'epochSeconds'))) {
      fail('ttl.attribute', `attribute "${spec.ttl.attribute}" is not a number or epochSeconds column of this mapping`);
    }
  }

  const hook: MappingHook | undefined = spec.hook ? loadHook(path.resolve(baseDir, spec.hook), file, sourceId) : undefined;
  const targetSpec = typeof spec.target === 'string' ? { table: spec.target, billingMode: 'PAY_PER_REQUEST' as const, gsis: [] } : spec.target;
  const target: TargetTable = {
    table: targetSpec.table,
    partitionKey: { name: spec.partitionKey.attribute, type: spec.partitionKey.type },
    sortKey: spec.sortKey ? { name: spec.sortKey.attribute, type: spec.sortKey.type } : undefined,
    billingMode: targetSpec.billingMode,
    readCapacity: targetSpec.readCapacity,
    writeCapacity: targetSpec.writeCapacity,
    gsis: targetSpec.gsis,
    ttlAttribute: spec.ttl?.attribute,
  };

  const terr = (message: string, column?: string) => new TransformError(message, sourceId, column);
  const keyAttr = (k: KeyPlan, row: Row): AttributeValue => {
    const text = renderTemplate(k.template, (c) => templateText(row[c]));
    if (text === undefined) throw terr(`key column is NULL or missing`, k.template.columns.find((c) => row[c] == null));
    if (k.type === 'S') return { S: text };
    if (k.type === 'B') return { B: Buffer.from(text, 'base64') };
    try {
      return { N: normalizeNumber(text) };
    } catch (e) {
      throw terr((e as Error).message, k.template.columns[0]);
    }
  };
  const keyOf = (row: Row): Item => {
    const key: Item = {};
    for (const k of keyPlans) key[k.attribute] = keyAttr(k, row);
    return key;
  };
  const attrByName = new Map([...plans.values()].map((p) => [p.attribute, p]));
  const renamedFrom = new Map(Object.entries(spec.rename).map(([c, a]) => [a, c]));

  const excluded = new Set(spec.exclude);
  const toItem = (row: Row): Item => {
    let item: Item = keyOf(row);
    for (const c in row) {
      if (excluded.has(c)) continue;
      const v = row[c];
      const p = plans.get(c) ?? planFor(c);
      if (!plans.has(c) && owners.has(p.attribute)) throw terr(`new column's attribute "${p.attribute}" collides with the mapping`, c);
      if (v === null) {
        if (p.nulls === 'null') item[p.attribute] = { NULL: true };
        continue;
      }
      try {
        item[p.attribute] = encodeValue(v, p.type, p.facts, p.format);
      } catch (e) {
        throw terr((e as Error).message, c);
      }
    }
    for (const d of derived) {
      const text = renderTemplate(d.template, (c) => templateText(row[c]));
      if (text === undefined) continue; // a NULL input leaves the derived attribute out (sparse GSI)
      item[d.attribute] = d.type === 'N' ? { N: normalizeNumber(text) } : { S: text };
    }
    if (spec.ttl && ttlColumn) {
      const v = row[ttlColumn];
      if (v !== null && v !== undefined) {
        const n = factsOf(ttlColumn).kind === 'datetime' || (typeof v === 'string' && v.includes('-')) ? encodeValue(v, 'datetime', factsOf(ttlColumn), 'epochSeconds').N : String(v);
        item[spec.ttl.attribute] = { N: normalizeNumber(String(n).split('.')[0]) };
      }
    }
    if (hook?.transform) {
      item = { ...hook.transform(row, item, { sourceId, targetTable: target.table }) }; // ours even if the hook keeps it
      for (const k of keyPlans) if (!item[k.attribute]) throw terr(`hook removed key attribute "${k.attribute}"`);
      for (const r of RESERVED_ATTRS) if (item[r]) throw terr(`hook set reserved attribute "${r}"`);
    }
    return item;
  };

  const toRow = (item: Item): Row => {
    const row: Record<string, ColumnValue> = {};
    for (const [attr, v] of Object.entries(item)) {
      if (RESERVED_ATTRS.includes(attr) || (owners.has(attr) && !attrByName.has(attr))) continue;
      const p = attrByName.get(attr) ?? planFor(renamedFrom.get(attr) ?? attr);
      try {
        row[p.column] = decodeValue(v, p.type, p.facts, p.format);
      } catch (e) {
        throw terr(`cannot read attribute "${attr}": ${(e as Error).message}`, p.column);
      }
    }
    for (const k of keyPlans) {
      const a = item[k.attribute];
      const text = a?.S ?? a?.N ?? (a?.B ? Buffer.from(a.B).toString('base64') : undefined);
      const parts = text === undefined ? undefined : parseRendered(k.template, text);
      if (!parts) throw terr(`item key ${k.attribute} (${text === undefined ? 'missing' : `${text.length} characters`}) was not written by this mapping`);
      for (const [c, t] of Object.entries(parts)) {
        if (c in row) continue;
        const f = factsOf(c);
        row[c] = f.kind === 'binary' ? { $b64: t } : f.kind === 'unknown' ? t : decodeValue({ S: t }, 'string', f);
      }
    }
    for (const p of plans.values()) if (!(p.column in row)) row[p.column] = null;
    return hook?.toRow ? hook.toRow(item, row, { sourceId, targetTable: target.table }) : row;
  };

  return {
    sourceId,
    source: { schema, table, primaryKey },
    targetTable: target.table,
    partitionKey: target.partitionKey.name,
    sortKey: target.sortKey?.name,
    target,
    keyTemplates: { partitionKey: spec.partitionKey.template, sortKey: spec.sortKey?.template },
    toItem,
    keyOf,
    toRow,
    primaryKeyOf: (row) => Object.fromEntries(primaryKey.map((c) => [c, row[c] ?? null])),
  };
}

/**
 * Loads a mapping file and compiles every table in it, merging `targets:` settings into each table's target, and
 * checks that mappings sharing a target table agree on its key schema and cannot produce colliding keys.
 * `columnsOf(sourceId)` may supply information_schema columns per source table.
 */
export function loadMappingFile(file: string, columnsOf?: (sourceId: string) => readonly SourceColumn[] | undefined): CompiledMapping[] {
  const parsed = parseMappingFile(file);
  const seen = new Set<string>();
  const mappings = parsed.tables.map((t) => {
    if (seen.has(t.source)) throw new MappingConfigError('source table mapped twice', file, t.source, 'source');
    seen.add(t.source);
    const targetName = typeof t.target === 'string' ? t.target : t.target.table;
    const settings = parsed.targets[targetName];
    const target = typeof t.target === 'string' ? { table: t.target, ...(settings ?? { billingMode: 'PAY_PER_REQUEST', gsis: [] }) } : t.target;
    return compileMapping({ ...t, target, file } as TableMappingConfig, columnsOf?.(t.source));
  });
  validateSharedTargets(mappings, file);
  return mappings;
}

export { kindOf };
