/**
 * Column defaults for inserts that omit columns, as MariaDB would fill them, for the modes in which DynamoDB is
 * written first and MySQL cannot be asked per insert (dynamo-primary, dynamo-only). MySQL-first modes never use this:
 * MySQL fills the row and the layer reads the image back (INSERT … RETURNING).
 *
 * Supported (classified from information_schema.COLUMNS.COLUMN_DEFAULT):
 *  - NULL (a nullable column without an explicit default, or DEFAULT NULL);
 *  - constant literals of every codec type (numbers, quoted text, dates, b'…' bits, binary strings): their values are
 *    not parsed here but evaluated once by MariaDB itself — `SELECT DEFAULT(t.c) … FROM (SELECT 1) d LEFT JOIN t ON
 *    FALSE` — and decoded by the shared codec, so padding, scale, charset (information_schema cannot show 4-byte
 *    characters) and normalisation are exactly what an INSERT stores;
 *  - CURRENT_TIMESTAMP[(n)] / NOW([n]) on DATETIME/TIMESTAMP: the application host's UTC clock (the server runs at
 *    +00:00), truncated to n fraction digits and shown with the column's precision. It differs from the database
 *    clock by the hosts' skew; the value is then the same in both stores.
 * Refused with ColumnDefaultError naming table and column, before anything is written:
 *  - AUTO_INCREMENT (the next value is MySQL's counter; DynamoDB has none), a NOT NULL column without a default,
 *    expression defaults evaluated per insert (uuid(), curdate(), concat(…), …), generated columns.
 */
import { rowFromMysql2, type ColumnInfo, type Queryable } from '../pipeline/row/codec';
import type { ColumnValue, Row } from '../pipeline/types';
import { ColumnDefaultError } from './errors';

/** What information_schema says about a column's default. */
export interface ColumnDefaultInfo {
  readonly name: string;
  /** COLUMN_DEFAULT as MariaDB shows it: null = no default, 'NULL' = DEFAULT NULL, quoted literal, number, expression. */
  readonly columnDefault: string | null;
  /** EXTRA, lower-case: 'auto_increment', 'on update current_timestamp(3)', 'virtual generated', … */
  readonly extra: string;
  readonly generated: boolean;
}

/** Reads COLUMN_DEFAULT / EXTRA / IS_GENERATED of every column of `schema.table`. */
export async function readColumnDefaults(db: Queryable, schema: string, table: string): Promise<ColumnDefaultInfo[]> {
  const [rows] = await db.query(
    `SELECT COLUMN_NAME AS name, COLUMN_DEFAULT AS def, LOWER(EXTRA) AS extra, IS_GENERATED AS gen
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [schema, table],
  );
  return (rows as Record<string, unknown>[]).map((r) => ({
    name: String(r.name),
    columnDefault: r.def === null || r.def === undefined ? null : String(r.def),
    extra: String(r.extra ?? ''),
    generated: r.gen !== null && r.gen !== undefined && String(r.gen) !== 'NEVER',
  }));
}

/** Produces one omitted column's value at insert time, or throws ColumnDefaultError. */
type Filler = () => ColumnValue;

const NOW = /^(?:current_timestamp|now|localtimestamp|localtime)(?:\((\d?)\))?$/i;
/** A constant as MariaDB shows it in COLUMN_DEFAULT: a quoted string, a number, a bit or hex literal. */
const CONSTANT = /^(?:'(?:[^'\\]|''|\\.)*'|-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|b'[01]*'|x'[0-9a-f]*')$/is;

/** Now in UTC as MariaDB shows a DATETIME/TIMESTAMP(precision) set from CURRENT_TIMESTAMP(fsp). */
export function utcNowText(fsp: number, precision: number, nowMicros = Math.floor((performance.timeOrigin + performance.now()) * 1000)): string {
  const iso = new Date(Math.floor(nowMicros / 1000)).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const micros = String(nowMicros % 1_000_000).padStart(6, '0');
  const frac = (micros.slice(0, fsp) + '000000').slice(0, precision);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${precision > 0 ? `.${frac}` : ''}`;
}

const q = (s: string) => `\`${s.replace(/`/g, '``')}\``;

/**
 * Fills the columns an insert omitted, for one table: built once (`DefaultFiller.load`) from the columns, their
 * information_schema defaults and MariaDB's own evaluation of the constant ones. `fill(row)` returns the full row
 * (given values unchanged) or throws ColumnDefaultError for the first omitted column it cannot fill.
 */
export class DefaultFiller {
  private constructor(
    private readonly columns: readonly ColumnInfo[],
    private readonly fillers: ReadonlyMap<string, Filler>,
  ) {}

  /** Reads the defaults of `columns`' table and evaluates its constant defaults with MariaDB, once. */
  static async load(db: Queryable, columns: readonly ColumnInfo[]): Promise<DefaultFiller> {
    const c0 = columns[0];
    if (!c0) throw new ColumnDefaultError('?', '?', 'table has no columns');
    const { schema, table } = c0;
    const infos = new Map((await readColumnDefaults(db, schema, table)).map((d) => [d.name, d]));
    const constants = columns.filter((c) => {
      const def = infos.get(c.name)?.columnDefault;
      return def && def !== 'NULL' && CONSTANT.test(def) && !infos.get(c.name)?.generated && !infos.get(c.name)?.extra.includes('auto_increment');
    });
    let values: Row = {};
    if (constants.length) {
      const [rows] = await db.query(`SELECT ${constants.map((c) => `DEFAULT(t.${q(c.name)}) AS ${q(c.name)}`).join(', ')} FROM (SELECT 1) d LEFT JOIN ${q(schema)}.${q(table)} t ON FALSE`);
      values = rowFromMysql2(constants, (rows as Record<string, unknown>[])[0] ?? {});
    }
    const fillers = new Map<string, Filler>();
    for (const col of columns) {
      const refuse = (why: string): Filler => () => {
        throw new ColumnDefaultError(`${schema}.${table}`, col.name, why);
      };
      const d = infos.get(col.name);
      const def = d?.columnDefault ?? null;
      const now = def === null ? null : NOW.exec(def);
      let f: Filler;
      if (!d) f = refuse('column not found in information_schema (schema changed?)');
      else if (d.generated) f = refuse('generated column: its value is an expression of other columns, computed only by MySQL');
      else if (d.extra.includes('auto_increment')) f = refuse("AUTO_INCREMENT value comes from MySQL's counter, which a DynamoDB-first write cannot use; supply the value");
      else if (def === null) f = col.nullable ? () => null : refuse('NOT NULL without a default: the insert must supply it');
      else if (def === 'NULL') f = () => null;
      else if (col.name in values) {
        const v = values[col.name];
        f = () => v;
      } else if (now && (col.dataType === 'datetime' || col.dataType === 'timestamp')) {
        const precision = col.datetimePrecision ?? 0;
        const fsp = Math.min(now[1] ? Number(now[1]) : 0, precision);
        f = () => utcNowText(fsp, precision);
      } else f = refuse(`expression default ${def} is evaluated by MySQL per insert; supply the value`);
      fillers.set(col.name, f);
    }
    return new DefaultFiller(columns, fillers);
  }

  /** `row` with every omitted column set to its default, in the table's column order. */
  fill(row: Row): Row {
    const out: Record<string, ColumnValue> = {};
    for (const c of this.columns) out[c.name] = c.name in row ? (row[c.name] as ColumnValue) : (this.fillers.get(c.name) as Filler)();
    return out;
  }
}
