/** The migration config file: defaults, overrides, durations, and errors naming the file, table and field. */
import { parseMigrationConfig } from '../../../src/cli/config';
import { ConfigError } from '../../../src/shared/errors';

const FILE = '/etc/cutover/migration.yaml';

describe('migration config', () => {
  it('applies defaults, per-table overrides and durations', () => {
    const plan = parseMigrationConfig(
      `plan: shop
concurrency: 2
defaults:
  soak: { readStep: 90s }
  gates: { flipWrites: auto }
  cdc: { partitions: 12 }
tables:
  - source: shop.orders
    mapping: mappings/orders.yaml
    readLadder: [5, 100]
  - source: shop.users
    mapping: /abs/users.yaml
    cdc: { source: builtin, topic: users-cdc }
    soak: { readStep: 2m, shadowWrites: 1h }
`,
      FILE,
    );
    expect(plan.name).toBe('shop');
    expect(plan.concurrency).toBe(2);
    const [orders, users] = plan.tables;
    expect(orders.mappingFile).toBe('/etc/cutover/mappings/orders.yaml');
    expect(orders.cdc).toEqual({ source: 'builtin', topic: 'cutover.shop.orders', partitions: 12 });
    expect(orders.readLadder).toEqual([5, 100]);
    expect(orders.soak.readStepMs).toBe(90_000);
    expect(orders.gates).toMatchObject({ flipWrites: 'auto', reads: 'manual' });
    expect(users.mappingFile).toBe('/abs/users.yaml');
    expect(users.cdc.topic).toBe('users-cdc');
    expect(users.soak).toMatchObject({ readStepMs: 120_000, shadowWritesMs: 3_600_000 });
    expect(users.etl.group).toBe('cutover-etl.shop.users');
  });

  it.each([
    ['tables: []', /tables/],
    ['tables:\n  - source: orders\n    mapping: m.yaml', /shop|database\.table/],
    ['tables:\n  - source: shop.orders\n    mapping: m.yaml\n    readLadder: [10, 5, 100]', /shop\.orders: readLadder: must rise/],
    ['tables:\n  - source: shop.orders\n    mapping: m.yaml\n    soak: { readStep: soon }', /shop\.orders: soak\.readStep/],
    ['tables:\n  - source: shop.orders\n    mapping: m.yaml\n    gates: { reads: maybe }', /shop\.orders: gates\.reads/],
    ['tables:\n  - source: shop.orders\n    mapping: m.yaml\n    cdc: { source: dms }', /shop\.orders: cdc\.dms/],
    ['tables:\n  - source: shop.orders\n    mapping: m.yaml\n  - source: shop.orders\n    mapping: n.yaml', /listed twice/],
    ['tables:\n  - source: shop.orders\n    mapping: m.yaml\n    colour: red', /shop\.orders/],
    ['tables: [', /not valid YAML/],
  ])('rejects %j naming the place', (text, message) => {
    let err: unknown;
    try {
      parseMigrationConfig(text, FILE);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(FILE);
    expect((err as Error).message).toMatch(message);
  });
});
