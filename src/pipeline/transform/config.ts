/**
 * The mapping file (YAML or JSON): which source tables go to which DynamoDB table, and how. Parsed with zod; every
 * error names the file, the source table and the field. Example: examples/mappings/shop.yaml.
 *
 *   version: 1
 *   targets:                       # optional per target table: billing mode and GSIs (PAY_PER_REQUEST by default)
 *     app: { billingMode: PAY_PER_REQUEST, gsis: [{ name: gsi1, partitionKey: { name: gsi1pk, type: S } }] }
 *   tables:
 *     - source: shop.users         # schema.table
 *       target: app
 *       partitionKey: { attribute: pk, template: "USER#{id}" }
 *       sortKey: { attribute: sk, template: "PROFILE" }
 *       nulls: omit                # required: omit NULL columns, or store them as DynamoDB NULL
 *       rename: { email_address: email }
 *       exclude: [password_hash]
 *       columns: { created_at: { type: datetime, format: iso }, prefs: { type: json } }
 *       ttl: { attribute: expires, column: expires_at }
 *       derived: { gsi1pk: "EMAIL#{email_address}" }
 *       hook: ./hooks/users.ts      # module exporting transform(row, item, ctx) => item (and optionally toRow)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { MappingConfigError } from './errors';

const ident = z.string().min(1).max(255);
const keyType = z.enum(['S', 'N', 'B']);

/** A key attribute: name, template, DynamoDB type (N/B only for a single-placeholder template). */
export const KeySpecSchema = z.strictObject({ attribute: ident, template: z.string().min(1), type: keyType.default('S') });

/** Per-column conversion, datetime format, SQL type (for exact toRow) and NULL rule. */
export const ColumnSpecSchema = z.strictObject({
  type: z.enum(['auto', 'string', 'number', 'boolean', 'binary', 'stringSet', 'numberSet', 'json', 'datetime']).default('auto'),
  format: z.enum(['iso', 'epochSeconds', 'epochMillis']).optional(),
  /** The column's SQL type (e.g. "decimal(10,2)") when information_schema is not consulted; makes toRow exact. */
  sqlType: z.string().optional(),
  nulls: z.enum(['omit', 'null']).optional(),
});

const DerivedSchema = z.union([z.string().min(1), z.strictObject({ template: z.string().min(1), type: z.enum(['S', 'N']).default('S') })]);

const KeyDefSchema = z.strictObject({ name: ident, type: keyType.default('S') });

/** A global secondary index of the target table. */
export const GsiSchema = z.strictObject({
  name: ident,
  partitionKey: KeyDefSchema,
  sortKey: KeyDefSchema.optional(),
  projection: z.union([z.enum(['ALL', 'KEYS_ONLY']), z.strictObject({ include: z.array(ident).min(1) })]).default('ALL'),
  readCapacity: z.number().int().positive().optional(),
  writeCapacity: z.number().int().positive().optional(),
});

/** Target table settings: billing mode, capacity, GSIs. */
export const TargetSpecSchema = z.strictObject({
  billingMode: z.enum(['PAY_PER_REQUEST', 'PROVISIONED']).default('PAY_PER_REQUEST'),
  readCapacity: z.number().int().positive().optional(),
  writeCapacity: z.number().int().positive().optional(),
  gsis: z.array(GsiSchema).default([]),
});

/** One source table's mapping (see the example at the top of this file). */
export const TableSpecSchema = z.strictObject({
  source: z.string().regex(/^[^.\s]+\.[^.\s]+$/, 'must be "schema.table"'),
  /** Target table name, or the name with its settings inline. */
  target: z.union([ident, TargetSpecSchema.extend({ table: ident })]),
  primaryKey: z.array(ident).min(1).optional(),
  partitionKey: KeySpecSchema,
  sortKey: KeySpecSchema.optional(),
  nulls: z.enum(['omit', 'null']),
  rename: z.record(ident, ident).default({}),
  exclude: z.array(ident).default([]),
  columns: z.record(ident, ColumnSpecSchema).default({}),
  ttl: z.strictObject({ attribute: ident, column: ident.optional() }).optional(),
  derived: z.record(ident, DerivedSchema).default({}),
  hook: z.string().min(1).optional(),
});

/** The whole mapping file. */
export const MappingFileSchema = z.strictObject({
  version: z.literal(1).default(1),
  targets: z.record(ident, TargetSpecSchema).default({}),
  tables: z.array(TableSpecSchema).min(1),
});

/** A validated table mapping. */
export type TableSpec = z.output<typeof TableSpecSchema>;
/** Validated target table settings. */
export type TargetSpec = z.output<typeof TargetSpecSchema>;
/** A validated GSI. */
export type GsiSpec = z.output<typeof GsiSchema>;
/** A validated column rule. */
export type ColumnSpec = z.output<typeof ColumnSpecSchema>;
/** A parsed mapping file. */
export type MappingFile = z.output<typeof MappingFileSchema>;

/** One table's mapping in the form compileMapping takes (a TableSpec; `hook` resolved against `baseDir`). */
export type TableMappingConfig = z.input<typeof TableSpecSchema> & { readonly file?: string; readonly baseDir?: string };

/** Parses and validates a table mapping given as a plain object; errors name `file`, the table and the field. */
export function parseTableSpec(input: unknown, file?: string): TableSpec {
  const r = TableSpecSchema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const table = typeof (input as { source?: unknown })?.source === 'string' ? (input as { source: string }).source : undefined;
  throw new MappingConfigError(issue.message, file, table, issue.path.join('.') || undefined);
}

/** Reads, parses (YAML or JSON by extension; YAML otherwise) and validates a mapping file. */
export function parseMappingFile(file: string): MappingFile {
  let raw: unknown;
  try {
    const text = fs.readFileSync(file, 'utf8');
    raw = path.extname(file).toLowerCase() === '.json' ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw new MappingConfigError(`cannot read mapping: ${(e as Error).message}`, file);
  }
  const r = MappingFileSchema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const p = issue.path;
  let table: string | undefined;
  let field = p.join('.');
  if (p[0] === 'tables' && typeof p[1] === 'number') {
    const t = (raw as { tables?: Array<{ source?: unknown }> }).tables?.[p[1]];
    table = typeof t?.source === 'string' ? t.source : `tables[${p[1]}]`;
    field = p.slice(2).join('.');
  } else if (p[0] === 'targets' && p[1] !== undefined) {
    table = `target ${String(p[1])}`;
    field = p.slice(2).join('.');
  }
  throw new MappingConfigError(issue.message, file, table, field || undefined);
}
