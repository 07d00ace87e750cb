/**
 * Single-table design: several source tables may map into one DynamoDB table. Their items must never collide, or
 * one table's change could overwrite another's row.
 *
 * Rule (sufficient, checked here): for every pair of mappings into one target, the partition-key templates' leading
 * literals are not prefixes of one another, or both have sort keys whose leading literals are not. Then no key can be
 * rendered by both (./template.ts disjointByPrefix). Every item also carries _src, so every stage can tell them apart.
 */
import { MappingConfigError } from './errors';
import { disjointByPrefix, parseTemplate } from './template';

interface MappingLike {
  readonly sourceId: string;
  readonly target: {
    readonly table: string;
    readonly partitionKey: { readonly name: string; readonly type: string };
    readonly sortKey?: { readonly name: string; readonly type: string };
    readonly billingMode: string;
    readonly gsis: readonly { readonly name: string }[];
  };
  readonly keyTemplates: { readonly partitionKey: string; readonly sortKey?: string };
}

/** Throws MappingConfigError unless mappings sharing a target agree on its schema and cannot collide. */
export function validateSharedTargets(mappings: readonly MappingLike[], file?: string): void {
  const byTarget = new Map<string, MappingLike[]>();
  for (const m of mappings) byTarget.set(m.target.table, [...(byTarget.get(m.target.table) ?? []), m]);
  for (const [table, group] of byTarget) {
    const [first, ...rest] = group;
    for (const m of rest) {
      const a = first.target;
      const b = m.target;
      if (a.partitionKey.name !== b.partitionKey.name || a.partitionKey.type !== b.partitionKey.type || a.sortKey?.name !== b.sortKey?.name || a.sortKey?.type !== b.sortKey?.type) {
        throw new MappingConfigError(`shares target table "${table}" with ${first.sourceId} but declares a different key schema`, file, m.sourceId, 'partitionKey');
      }
      if (a.billingMode !== b.billingMode || a.gsis.map((g) => g.name).join() !== b.gsis.map((g) => g.name).join()) {
        throw new MappingConfigError(`shares target table "${table}" with ${first.sourceId} but declares different table settings`, file, m.sourceId, 'target');
      }
    }
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        const x = group[i].keyTemplates;
        const y = group[j].keyTemplates;
        const pkApart = disjointByPrefix(parseTemplate(x.partitionKey), parseTemplate(y.partitionKey));
        const skApart = x.sortKey !== undefined && y.sortKey !== undefined && disjointByPrefix(parseTemplate(x.sortKey), parseTemplate(y.sortKey));
        if (!pkApart && !skApart) {
          throw new MappingConfigError(
            `keys may collide with ${group[i].sourceId} in target table "${table}": give the partition or sort key templates distinct literal prefixes (e.g. "USER#{id}" / "ORDER#{id}")`,
            file,
            group[j].sourceId,
            'partitionKey.template',
          );
        }
      }
    }
  }
}
