/**
 * An exclusive-mode blind write whose request outlives its lease window while the lease keeps being renewed (a slow
 * DynamoDB on a loaded machine, the partition's lease healthy). The window's timer aborts the request; the write must
 * go out again under the renewed window, not wait for a guard that never throws. Before the fix the chunk waited for
 * up to 100 windows, and with it every partition's fetches: the ETL applied nothing for minutes (row 1 of
 * docs/reliability.md, reproduced 2026-11-25 15:10 UTC). Real dynalite behind a proxy that delays the first
 * BatchWriteItem (test/integration/apply/proxy-bed.ts).
 */
import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { Applier } from '../../src/pipeline/apply/apply';
import { LeaseLostError } from '../../src/pipeline/apply/errors';
import { compileMapping } from '../../src/pipeline/transform/mapping';
import type { CdcEvent } from '../../src/pipeline/types';
import { scanAll } from '../integration/consumer/support';
import { startProxyBed, type ProxyBed } from '../integration/apply/proxy-bed';
import { uniqueName } from '../support/ids';

const table = uniqueName('fault_lease_window');
const WINDOW_MS = 600;
const SLOW_MS = 2_000;
let bed: ProxyBed;
let slowWrites = 0;
let writes = 0;

beforeAll(async () => {
  bed = await startProxyBed(table, (upstream) => (req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const slow = /BatchWriteItem/.test(target) && writes++ === 0; // the first blind write outlives the window
      if (slow) slowWrites++;
      setTimeout(() => {
        const up = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
          res.writeHead(r.statusCode ?? 500, r.headers);
          r.pipe(res);
        });
        up.on('error', () => res.destroy());
        up.end(Buffer.concat(chunks));
      }, slow ? SLOW_MS : 0);
    });
  });
});

afterAll(() => bed.close());

const mapping = compileMapping({ source: 's.lw', target: table, partitionKey: { attribute: 'pk', template: 'K#{id}' }, nulls: 'omit' });
const events = (n: number, version: number): CdcEvent[] =>
  Array.from({ length: n }, (_, i) => ({ operation: 'insert', schema: 's', table: 'lw', data: { id: i + 1, v: `x${i}` }, version: String(version) }));

/** A lease guard as control.ts builds one (monotonic window), renewed every `renewEveryMs` unless that is 0. */
function lease(renewEveryMs: number): { guard: () => number; stop: () => void } {
  let validUntil = performance.now() + WINDOW_MS;
  const t = renewEveryMs ? setInterval(() => (validUntil = performance.now() + WINDOW_MS), renewEveryMs) : undefined;
  return {
    guard: () => {
      const left = validUntil - performance.now();
      if (left <= 0) throw new LeaseLostError('g', 0, 'blind-write window expired before renewal');
      return left;
    },
    stop: () => clearInterval(t),
  };
}

test('a blind write aborted by its window is sent again under the renewed window, and lands', async () => {
  const l = lease(200);
  const applier = new Applier({ client: bed.proxied, mappings: [mapping], mode: 'exclusive', maxWriteRate: 10_000 });
  const t0 = Date.now();
  try {
    const r = await applier.apply(events(20, 7), { scope: '0', guard: l.guard });
    expect(r.written).toBe(20);
  } finally {
    l.stop();
  }
  expect(slowWrites).toBe(1); // the window really aborted one request (before the fix: ~100 windows, then AbortError)
  console.log(`applied in ${Date.now() - t0} ms with a ${WINDOW_MS} ms window and one request held ${SLOW_MS} ms`);
  const items = await scanAll(bed.direct, table);
  expect(items.map((i) => [i.pk.S, i._v?.N]).sort()).toEqual(Array.from({ length: 20 }, (_, i) => [`K#${i + 1}`, '7']).sort());
});

test('without a renewal the aborted blind write is not sent again: the lease is reported lost', async () => {
  writes = 0;
  slowWrites = 0;
  const l = lease(0);
  const applier = new Applier({ client: bed.proxied, mappings: [mapping], mode: 'exclusive', maxWriteRate: 10_000 });
  try {
    await expect(applier.apply(events(20, 9), { scope: '0', guard: l.guard })).rejects.toBeInstanceOf(LeaseLostError);
  } finally {
    l.stop();
  }
  expect(writes).toBe(1);
});
