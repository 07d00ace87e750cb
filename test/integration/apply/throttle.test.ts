/**
 * Throttling and rate limits against real dynalite behind a fault-injecting HTTP proxy (dynalite never throttles):
 * the proxy answers a share of BatchWriteItem and PutItem calls with DynamoDB's ThrottlingException /
 * ProvisionedThroughputExceededException. The apply slows down (counted throttles, lower rate), still writes every
 * item exactly once with its version, and a configured maximum write rate is respected.
 */
import * as http from 'node:http';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Applier } from '../../../src/pipeline/apply/apply';
import { compileMapping } from '../../../src/pipeline/transform/mapping';
import type { CdcEvent } from '../../../src/pipeline/types';
import { scanAll } from '../consumer/support';
import { uniqueName } from '../../support/ids';
import { startProxyBed, type ProxyBed } from './proxy-bed';

let bed: ProxyBed;
let proxied: DynamoDBClient;
let direct: DynamoDBClient;
const table = uniqueName('apply_throttle');
let throttled = 0;

beforeAll(async () => {
  let n = 0;
  bed = await startProxyBed(table, (target) => (req, res) => {
    const target_ = String(req.headers['x-amz-target'] ?? '');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (/BatchWriteItem|PutItem/.test(target_) && n++ % 3 === 0) {
        throttled++;
        const type = n % 2 ? 'ThrottlingException' : 'ProvisionedThroughputExceededException';
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': type });
        res.end(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: 'Rate of requests exceeds the allowed throughput.' }));
        return;
      }
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 500, r.headers);
        r.pipe(res);
      });
      up.end(Buffer.concat(chunks));
    });
  });
  ({ direct, proxied } = bed);
});

afterAll(() => bed.close());

const mapping = compileMapping({ source: 's.throttle', target: table, partitionKey: { attribute: 'pk', template: 'K#{id}' }, nulls: 'omit' });
const events = (from: number, n: number, version: number): CdcEvent[] =>
  Array.from({ length: n }, (_, i) => ({ operation: 'insert', schema: 's', table: 'throttle', data: { id: from + i, v: `x${i}` }, version: String(version) }));

test.each(['exclusive', 'shared'] as const)('%s mode slows down on throttling and still writes every item', async (mode) => {
  throttled = 0;
  const base = mode === 'exclusive' ? 0 : 10_000;
  const applier = new Applier({ client: proxied, mappings: [mapping], mode, maxWriteRate: 5_000 });
  const r = await applier.apply(events(base, 300, 100));
  expect(r.written).toBe(300);
  expect(throttled).toBeGreaterThan(0);
  expect(applier.limiter.throttles).toBeGreaterThan(0);
  expect(applier.limiter.currentRate).toBeLessThan(5_000);
  const items = (await scanAll(direct, table)).filter((i) => Number(i.id.N) >= base && Number(i.id.N) < base + 300);
  expect(items).toHaveLength(300);
  expect(items.every((i) => i._v.N === '100')).toBe(true);
});

test('a configured maximum write rate is respected', async () => {
  const applier = new Applier({ client: direct, mappings: [mapping], mode: 'exclusive', maxWriteRate: 400 });
  const t0 = Date.now();
  await applier.apply(events(20_000, 400, 100)); // the bucket starts with 1/10 s of tokens
  const seconds = (Date.now() - t0) / 1000;
  expect(400 / seconds).toBeLessThanOrEqual(400 * 1.15);
});
