/**
 * Key and attribute templates such as `USER#{id}` or `{tenant}#{order_id}`.
 *
 * Invariants:
 * - Rendering is injective per template: two rows render to the same string only if every placeholder value is equal.
 *   With one placeholder this holds because the literals are fixed; with several, each value has '%' and every
 *   character that occurs in the template's literals percent-encoded (so a value can never contain a separator), and
 *   adjacent placeholders must be separated by a literal. `parseRendered` inverts `renderTemplate` exactly.
 * - Two templates whose leading literals are not prefixes of one another render to disjoint sets of strings
 *   (`disjointByPrefix`), which is what keeps several source tables apart in one target table.
 */

export type TemplatePart = { readonly lit: string } | { readonly col: string };

export interface Template {
  readonly text: string;
  readonly parts: readonly TemplatePart[];
  /** Placeholder column names, in order of appearance (may repeat). */
  readonly columns: readonly string[];
  /** The literal text before the first placeholder (the whole text for a constant template). */
  readonly leadingLiteral: string;
  /** True when the template is exactly one placeholder, e.g. `{id}`. */
  readonly single: boolean;
  /** Characters that are percent-encoded in values (empty when there are fewer than two placeholders). */
  readonly escaped: ReadonlySet<string>;
}

/** Parses a template; throws Error with a human message on bad syntax (the caller adds file/table/field). */
export function parseTemplate(text: string): Template {
  const parts: TemplatePart[] = [];
  const re = /\{([A-Za-z0-9_$]+)\}/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) parts.push({ lit: text.slice(last, m.index) });
    const prev = parts[parts.length - 1];
    if (prev && 'col' in prev) throw new Error(`placeholders {${prev.col}} and {${m[1]}} must be separated by a literal in "${text}"`);
    parts.push({ col: m[1] });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push({ lit: text.slice(last) });
  for (const p of parts) if ('lit' in p && /[{}]/.test(p.lit)) throw new Error(`unbalanced or invalid placeholder in "${text}"`);
  if (text === '') throw new Error('empty template');
  const columns = parts.flatMap((p) => ('col' in p ? [p.col] : []));
  const first = parts[0];
  const leadingLiteral = first && 'lit' in first ? first.lit : '';
  const escaped = new Set<string>();
  if (columns.length > 1) {
    escaped.add('%');
    for (const p of parts) if ('lit' in p) for (const ch of p.lit) escaped.add(ch);
  }
  return { text, parts, columns, leadingLiteral, single: parts.length === 1 && columns.length === 1, escaped };
}

function encode(value: string, escaped: ReadonlySet<string>): string {
  if (!escaped.size) return value;
  let out = '';
  for (const ch of value) out += escaped.has(ch) ? [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('') : ch;
  return out;
}

/** Renders `t`, taking each placeholder's text from `value(column)`; undefined from `value` yields undefined. */
export function renderTemplate(t: Template, value: (column: string) => string | undefined): string | undefined {
  let out = '';
  for (const p of t.parts) {
    if ('lit' in p) out += p.lit;
    else {
      const v = value(p.col);
      if (v === undefined) return undefined;
      out += encode(v, t.escaped);
    }
  }
  return out;
}

/** Inverse of renderTemplate: the placeholder texts, or undefined when `s` was not rendered from `t`. */
export function parseRendered(t: Template, s: string): Record<string, string> | undefined {
  const cls = [...t.escaped].map((c) => c.replace(/[\]\\^-]/g, '\\$&')).join('');
  let pattern = '^';
  for (const p of t.parts) {
    if ('lit' in p) pattern += p.lit.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else pattern += t.escaped.size ? `((?:%[0-9A-F]{2}|[^${cls}])*)` : '([\\s\\S]*)';
  }
  const m = new RegExp(pattern + '$', 'u').exec(s);
  if (!m) return undefined;
  const out: Record<string, string> = {};
  t.columns.forEach((c, i) => {
    const raw = m[i + 1];
    const v = t.escaped.size ? decodeURIComponent(raw) : raw;
    if (out[c] !== undefined && out[c] !== v) throw new Error(`template "${t.text}" repeats {${c}} with different values in one rendered key`);
    out[c] = v;
  });
  return out;
}

/** True when no string can be rendered by both templates (their leading literals are not prefix-related). */
export function disjointByPrefix(a: Template, b: Template): boolean {
  const x = a.leadingLiteral;
  const y = b.leadingLiteral;
  if (a.columns.length === 0 && b.columns.length === 0) return x !== y;
  if (a.columns.length === 0) return !x.startsWith(y);
  if (b.columns.length === 0) return !y.startsWith(x);
  return !x.startsWith(y) && !y.startsWith(x);
}
