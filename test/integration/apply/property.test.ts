/**
 * The apply's correctness property on real dynalite: for random histories (inserts, updates, deletes, primary-key
 * changes, backfill loads at snapshot versions, duplicates), delivered in random batches with cross-partition
 * interleaving, crash-and-replay rewinds and late loads, the final table equals the source's final state item by
 * item — in both apply modes. And it stops holding when the version rule is switched off.
 */
import { BatchGetItemCommand, CreateTableCommand, DeleteTableCommand, waitUntilTableExists, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { Applier, type ApplyMode } from '../../../src/pipeline/apply/apply';
import { isLive, userAttributes, type Item } from '../../../src/pipeline/item';
import { compileMapping, type CompiledMapping } from '../../../src/pipeline/transform/mapping';
import { uniqueName } from '../../support/ids';
import { buildHistory, deliver, KEYS, opArb, PARTITIONS, stepArb, type Op, type Step } from './history';

let client: DynamoDBClient;
let table: string;
let run = 0;

beforeAll(async () => {
  client = createDynamoClient();
  table = uniqueName('apply_prop');
  await client.send(new CreateTableCommand({ TableName: table, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }));
  await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: table });
});

afterAll(async () => {
  await client.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
  client.destroy();
});

function mappingFor(source: string): CompiledMapping {
  return compileMapping({
    source,
    target: table,
    partitionKey: { attribute: 'pk', template: `${source.replace('.', '_')}#{id}` },
    nulls: 'null',
    columns: { id: { sqlType: 'int' }, s: { sqlType: 'varchar(10)' }, n: { sqlType: 'decimal(20,0)' } },
  });
}

async function readKeys(m: CompiledMapping): Promise<Map<number, Item | undefined>> {
  const keys = Array.from({ length: KEYS }, (_, i) => m.keyOf({ id: i + 1 }));
  const r = await client.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: keys, ConsistentRead: true } } }));
  const out = new Map<number, Item | undefined>();
  for (let i = 1; i <= KEYS; i++) out.set(i, r.Responses?.[table]?.find((it) => it.pk.S === m.keyOf({ id: i }).pk.S));
  return out;
}

const historyArb = fc.record({ ops: fc.array(opArb, { minLength: 10, maxLength: 60 }), steps: fc.array(stepArb, { maxLength: 30 }), complete: fc.boolean() });

/** One trial: returns a description of the first mismatch, or undefined when the table matches the source. */
async function trial(mode: ApplyMode, broken: boolean, h: { ops: Op[]; steps: Step[]; complete: boolean }): Promise<string | undefined> {
  run++;
  const source = `p${process.pid}.t${run}_${mode}`;
  const m = mappingFor(source);
  const [schema, tbl] = source.split('.');
  const { rows, logs } = buildHistory(schema, tbl, h.ops);
  const applier = new Applier({ client, mappings: [m], mode, unsafeNoVersionCheck: broken, pkChange: 'redirect' });
  // A fresh partition consumer on an empty table may treat unknown keys as absent (VersionCache.complete).
  if (h.complete) for (let p = 0; p < PARTITIONS; p++) applier.cache(String(p)).markComplete();
  await deliver(
    logs,
    h.steps,
    async (p, events) => (await applier.apply(events, { scope: String(p) })).redirects,
    (p) => applier.forget(String(p)),
  );
  const items = await readKeys(m);
  for (let id = 1; id <= KEYS; id++) {
    const row = rows.get(id);
    const item = items.get(id);
    if (row) {
      if (!isLive(item)) return `id ${id}: expected ${JSON.stringify(row)}, found ${item ? 'a tombstone' : 'nothing'}`;
      const got = m.toRow(userAttributes(item));
      if (JSON.stringify(got) !== JSON.stringify(row)) return `id ${id}: expected ${JSON.stringify(row)}, found ${JSON.stringify(got)}`;
      if (JSON.stringify(userAttributes(item)) !== JSON.stringify(m.toItem(row))) return `id ${id}: item differs from the mapping of the row`;
    } else if (isLive(item)) {
      return `id ${id}: deleted at the source, found ${JSON.stringify(m.toRow(userAttributes(item)))}`;
    }
  }
  return undefined;
}

describe('apply property: final table = final source state', () => {
  for (const mode of ['exclusive', 'shared'] as const) {
    it(`holds in ${mode} mode`, async () => {
      await fc.assert(
        fc.asyncProperty(historyArb, async (h) => {
          const mismatch = await trial(mode, false, h);
          if (mismatch) throw new Error(mismatch);
        }),
        { numRuns: 150 },
      );
    });
  }

  it('fails when the version check is removed (the property has teeth)', async () => {
    const result = await fc.check(
      fc.asyncProperty(historyArb, async (h) => (await trial('exclusive', true, h)) === undefined),
      { numRuns: 200, endOnFailure: true },
    );
    expect(result.failed).toBe(true);
    const shared = await fc.check(
      fc.asyncProperty(historyArb, async (h) => (await trial('shared', true, h)) === undefined),
      { numRuns: 200, endOnFailure: true },
    );
    expect(shared.failed).toBe(true);
  });
});
