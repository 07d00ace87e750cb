/** Pure routing rules: write-mode steps, sticky percentage reads, direct versions, sort order, result diffs. */
import * as fc from 'fast-check';
import { DIRECT_BAND, ROW_SPAN, changeVersion } from '../../../src/pipeline/version';
import { FlagError } from '../../../src/routing/errors';
import { DEFAULT_FLAGS, WRITE_MODES, isAllowedWriteStep, nextFlags, readMode, readsDynamo, type TableFlags } from '../../../src/routing/flags';
import { compareSortKeys } from '../../../src/routing/mapping';
import { nextDirectVersion } from '../../../src/routing/migrating-table';
import { diffResults } from '../../../src/routing/shadow-read';

describe('write-mode steps', () => {
  it('allows only one step along mysql-only ⇄ mysql-primary ⇄ fenced ⇄ dynamo-primary ⇄ dynamo-only', () => {
    expect(isAllowedWriteStep('mysql-primary', 'fenced')).toBe(true);
    expect(isAllowedWriteStep('dynamo-primary', 'fenced')).toBe(true);
    expect(isAllowedWriteStep('mysql-primary', 'dynamo-primary')).toBe(false);
    expect(isAllowedWriteStep('mysql-only', 'dynamo-only')).toBe(false);
    for (const a of WRITE_MODES) for (const b of WRITE_MODES) expect(isAllowedWriteStep(a, b)).toBe(Math.abs(WRITE_MODES.indexOf(a) - WRITE_MODES.indexOf(b)) <= 1);
  });

  it('bumps the version by one and names the table when a step is refused', () => {
    const f = nextFlags('db.t', DEFAULT_FLAGS, { writeMode: 'mysql-primary' });
    expect(f).toEqual({ ...DEFAULT_FLAGS, version: 1, writeMode: 'mysql-primary' });
    expect(() => nextFlags('db.t', f, { writeMode: 'dynamo-primary' })).toThrow(FlagError);
    expect(() => nextFlags('db.t', f, { writeMode: 'dynamo-primary' })).toThrow(/db\.t.*mysql-primary to dynamo-primary/);
    expect(() => nextFlags('db.t', f, { shadowReadFraction: 2 })).toThrow(/shadowReadFraction/);
  });
});

describe('percentage reads', () => {
  const flags = (readPercent: number): TableFlags => ({ ...DEFAULT_FLAGS, readPercent });

  it('derives the read mode from the share', () => {
    expect([0, 35, 100].map((p) => readMode(flags(p)))).toEqual(['mysql', 'percent', 'dynamodb']);
  });

  it('is sticky per key and monotonic in the share: raising it only moves keys to DynamoDB', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (key, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(readsDynamo(flags(lo), 'db.t', key)).toBe(readsDynamo(flags(lo), 'db.t', key));
        if (readsDynamo(flags(lo), 'db.t', key)) expect(readsDynamo(flags(hi), 'db.t', key)).toBe(true);
      }),
    );
  });

  it('sends roughly the configured share of keys', () => {
    let n = 0;
    for (let i = 0; i < 20_000; i++) if (readsDynamo(flags(25), 'db.t', `[${i}]`)) n++;
    expect(n / 20_000).toBeGreaterThan(0.23);
    expect(n / 20_000).toBeLessThan(0.27);
  });
});

describe('versions', () => {
  it('direct versions lie above every binlog version and rise per key', () => {
    const maxBinlog = changeVersion(2n ** 64n - 1n, Number(ROW_SPAN - 2n));
    expect(BigInt(nextDirectVersion(undefined))).toBeGreaterThanOrEqual(DIRECT_BAND);
    expect(BigInt(nextDirectVersion(maxBinlog))).toBeGreaterThan(BigInt(maxBinlog));
    const far = (DIRECT_BAND + 10n ** 30n).toString();
    expect(nextDirectVersion(far)).toBe((BigInt(far) + 1n).toString());
    expect(nextDirectVersion(undefined).length).toBeLessThanOrEqual(38);
  });

  it('the MySQL-primary shadow version sits after every row of its transaction and before the next one', () => {
    const shadow = BigInt(changeVersion(41n, Number(ROW_SPAN - 2n)));
    expect(shadow).toBeGreaterThan(BigInt(changeVersion(41n, 9_999_997)));
    expect(shadow).toBeLessThan(BigInt(changeVersion(42n, 0)));
  });
});

describe('sort-key order', () => {
  it('orders numbers numerically (exactly, beyond 2^53) and strings by UTF-8 bytes', () => {
    const ns = ['100', '9', '-1.5', '12345678901234567890123', '12345678901234567890122', '0.25'].map((N) => ({ N }));
    expect([...ns].sort(compareSortKeys).map((x) => x.N)).toEqual(['-1.5', '0.25', '9', '100', '12345678901234567890122', '12345678901234567890123']);
    const ss = ['b', 'B', 'é', 'a'].map((S) => ({ S }));
    expect([...ss].sort(compareSortKeys).map((x) => x.S)).toEqual(['B', 'a', 'b', 'é']);
  });
});

describe('shadow comparison', () => {
  it('reports differing columns, honours ignore rules and custom equality, treats absent as absent', () => {
    expect(diffResults({ a: 1, b: 'x' }, { a: 1, b: 'y' })).toEqual(['b']);
    expect(diffResults({ a: 1, t: 'x' }, { a: 1, t: 'y' }, { ignoreColumns: ['t'] })).toEqual([]);
    const sortedJson = (v: unknown) => JSON.stringify(Object.entries(JSON.parse(String(v))).sort());
    const jsonEquals = (c: string, x: unknown, y: unknown) => (c === 'j' ? sortedJson(x) === sortedJson(y) : undefined);
    expect(diffResults({ j: '{"a":1,"b":2}' }, { j: '{"b":2,"a":1}' }, { equals: jsonEquals })).toEqual([]);
    expect(diffResults({ j: '{"a":1}' }, { j: '{"a":2}' }, { equals: jsonEquals })).toEqual(['j']);
    expect(diffResults(undefined, undefined)).toEqual([]);
    expect(diffResults({ a: 1 }, undefined)).toEqual(['*']);
    expect(diffResults([{ a: 1 }, { a: 2 }], [{ a: 1 }, { a: 3 }])).toEqual(['a']);
    expect(diffResults({ b: { $b64: 'AA==' } }, { b: { $b64: 'AA==' } })).toEqual([]);
  });
});
