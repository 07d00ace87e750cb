import { planEvents } from '../../../src/pipeline/apply/plan';
import { DlqGate } from '../../../src/pipeline/consumer/dlq';
import { RateLimiter, isThrottle } from '../../../src/pipeline/apply/throttle';
import fc from 'fast-check';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { bytesOverLimit, itemBytes, MAX_ITEM_BYTES } from '../../../src/pipeline/apply/size';
import { VersionCache } from '../../../src/pipeline/apply/version-cache';
import { compileMapping } from '../../../src/pipeline/transform/mapping';
import type { CdcEvent } from '../../../src/pipeline/types';

const m = compileMapping({ source: 's.t', target: 'tbl', partitionKey: { attribute: 'pk', template: 'T#{id}' }, nulls: 'omit', columns: { id: { sqlType: 'int' } } });
const mappings = new Map([[m.sourceId, m]]);
const ev = (operation: CdcEvent['operation'], id: number, version: string, extra: Record<string, string> = {}, before?: Record<string, unknown>): CdcEvent =>
  ({ operation, schema: 's', table: 't', data: { id, ...extra }, version, ...(before ? { before } : {}) }) as CdcEvent;

describe('planEvents', () => {
  it('keeps the highest version per key, whatever the delivery order', () => {
    const p = planEvents([ev('update', 1, '30', { a: 'new' }), ev('insert', 1, '10', { a: 'old' }), ev('load', 1, '29', { a: 'load' }), ev('insert', 2, '5')], mappings);
    expect(p.writes).toHaveLength(2);
    const w1 = p.writes.find((w) => w.key.pk.S === 'T#1');
    expect(w1?.version).toBe(30n);
    expect(w1?.item).toMatchObject({ a: { S: 'new' }, _v: { N: '30' }, _src: { S: 's.t' } });
  });

  it('turns deletes into tombstones at their version', () => {
    const p = planEvents([ev('insert', 1, '10'), ev('delete', 1, '11')], mappings);
    expect(p.writes[0].item).toEqual({ pk: { S: 'T#1' }, _v: { N: '11' }, _del: { BOOL: true }, _src: { S: 's.t' } });
  });

  it('redirects (or tombstones) the old key of a primary-key change', () => {
    const change = ev('update', 2, '40', {}, { id: 1 });
    const r = planEvents([change], mappings);
    expect(r.writes.map((w) => w.key.pk.S)).toEqual(['T#2']);
    expect(r.redirects).toEqual([expect.objectContaining({ operation: 'delete', data: { id: 1 }, version: '40' })]);
    const d = planEvents([change], mappings, { pkChange: 'direct' });
    expect(d.redirects).toEqual([]);
    expect(d.writes.map((w) => [w.key.pk.S, w.item._del?.BOOL ?? false])).toEqual([['T#1', true], ['T#2', false]]);
  });

  it('dead-letters what cannot be mapped, and keeps the rest', () => {
    const p = planEvents([ev('insert', 1, '1'), { ...ev('insert', 2, '2'), table: 'other' }, ev('insert', 3, '3', { big: 'x'.repeat(MAX_ITEM_BYTES) })], mappings);
    expect(p.writes).toHaveLength(1);
    expect(p.deadLetters.map((d) => d.reason).sort()).toEqual(['item-too-large', 'unmapped-table']);
  });
});

describe('VersionCache', () => {
  it('knows only what it was told, and forgets completeness on eviction', () => {
    const c = new VersionCache(2);
    expect(c.lookup('a')).toBeUndefined();
    c.markComplete();
    expect(c.lookup('a')).toBeNull();
    c.set('a', 5n);
    c.set('b', null);
    expect(c.lookup('a')).toBe(5n);
    c.set('c', 7n); // evicts a
    expect(c.complete).toBe(false);
    expect(c.lookup('a')).toBeUndefined();
    c.reset();
    expect(c.size).toBe(0);
  });
});

describe('RateLimiter', () => {
  it('halves on throttles and grows back to the cap with time, never above', () => {
    let now = 0;
    const r = new RateLimiter({ maxRate: 1000, now: () => now });
    r.onThrottle();
    expect(r.currentRate).toBe(500);
    for (let i = 0; i < 20; i++) {
      now += 100;
      r.onSuccess();
    }
    expect(r.currentRate).toBe(1000);
    expect(r.throttles).toBe(1);
    expect(isThrottle({ name: 'ProvisionedThroughputExceededException' })).toBe(true);
    expect(isThrottle(new Error('x'))).toBe(false);
  });

  it('counts a burst of throttles from concurrent requests as one decrease', () => {
    let now = 0;
    const r = new RateLimiter({ maxRate: 8000, now: () => now });
    for (let i = 0; i < 24; i++) r.onThrottle(); // 24 requests in flight all pushed back
    expect(r.currentRate).toBe(4000);
    expect(r.throttles).toBe(24);
    now += 600; // still throttled after the hold: decrease again
    r.onThrottle();
    expect(r.currentRate).toBe(2000);
  });

  it('recovers with elapsed time, not with the number of requests in flight', () => {
    let now = 0;
    const r = new RateLimiter({ maxRate: 10_000, now: () => now });
    r.onThrottle();
    for (let i = 0; i < 500; i++) r.onSuccess(); // many successes at the same instant
    expect(r.currentRate).toBeLessThan(6_000);
    now += 1_000;
    r.onSuccess();
    expect(r.currentRate).toBe(10_000);
  });
});

describe('DlqGate', () => {
  it('says why it stops', () => {
    expect(new DlqGate({ maxEvents: 2 }).record(10, 3)).toMatch(/3 events dead-lettered, more than the allowed 2/);
    const g = new DlqGate({ maxRate: 0.1, window: 100 });
    expect(g.record(50, 40)).toBeUndefined(); // window not full yet
    expect(g.record(50, 0)).toMatch(/40 of the last 100 events/);
  });
});

describe('itemBytes', () => {
  it('counts names and values', () => {
    expect(itemBytes({ ab: { S: 'xyz' }, n: { N: '12345' } })).toBe(2 + 3 + 1 + 4);
  });

  it('bytesOverLimit names exactly the items itemBytes puts over the limit, with the same size', () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }));
    const attr: fc.Arbitrary<AttributeValue> = fc.letrec<{ v: AttributeValue }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        text.map((S) => ({ S })),
        fc.bigInt().map((n) => ({ N: String(n) })),
        fc.uint8Array().map((B) => ({ B })),
        fc.boolean().map((BOOL) => ({ BOOL })),
        fc.constant({ NULL: true }),
        fc.array(text, { minLength: 1 }).map((SS) => ({ SS })),
        fc.array(tie('v')).map((L) => ({ L })),
        fc.dictionary(text, tie('v')).map((M) => ({ M })),
      ),
    })).v;
    fc.assert(fc.property(fc.dictionary(text, attr, { minKeys: 1 }), fc.nat(400), (item, limit) => {
      const exact = itemBytes(item);
      expect(bytesOverLimit(item, limit)).toBe(exact > limit ? exact : undefined);
    }), { numRuns: 3_000 });
    expect(bytesOverLimit({ pk: { S: 'x' }, big: { S: 'é'.repeat(MAX_ITEM_BYTES / 2) } })).toBe(2 + 1 + 3 + MAX_ITEM_BYTES);
    expect(bytesOverLimit({ pk: { S: 'x' }, big: { S: 'é'.repeat(MAX_ITEM_BYTES / 2 - 10) } })).toBeUndefined();
  });
});
