/**
 * BatchWriteItem's partial answers, against real dynalite behind a rewriting HTTP proxy (dynalite always processes a
 * whole batch and accepts any item our mappings produce):
 *  - the proxy forwards only the first half of each batch and returns the rest as `UnprocessedItems`, as DynamoDB
 *    does under load: the applier retries exactly those, every item lands once with its version, and each partial
 *    answer counts as a throttle signal;
 *  - the proxy answers a batch holding one marked item with a ValidationException, and that item's single PutItem too:
 *    the applier isolates it (the other 24 of its batch are written one by one) and dead-letters only it, naming
 *    `validation`.
 */
import * as http from 'node:http';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Applier } from '../../../src/pipeline/apply/apply';
import { compileMapping } from '../../../src/pipeline/transform/mapping';
import type { CdcEvent } from '../../../src/pipeline/types';
import { scanAll } from '../consumer/support';
import { uniqueName } from '../../support/ids';
import { startProxyBed, type ProxyBed } from './proxy-bed';

type Json = Record<string, unknown>;
type WriteRequests = Record<string, Json[]>;

const table = uniqueName('apply_unprocessed');
const POISON = 'K#777';
let bed: ProxyBed;
let proxied: DynamoDBClient;
let direct: DynamoDBClient;
const seen = { partial: 0, validation: 0, puts: 0 };

const validationError = (res: http.ServerResponse): void => {
  res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': 'ValidationException' });
  res.end(JSON.stringify({ __type: 'com.amazon.coral.validate#ValidationException', message: 'One or more parameter values were invalid' }));
};

const hasPoison = (body: Json): boolean => JSON.stringify(body).includes(`"${POISON}"`);

beforeAll(async () => {
  bed = await startProxyBed(table, (target) => {
    const forward = (req: http.IncomingMessage, body: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> =>
      new Promise((resolve, reject) => {
        const headers = { ...req.headers, 'content-length': String(Buffer.byteLength(body)) };
        const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (r) => {
          const parts: Buffer[] = [];
          r.on('data', (c: Buffer) => parts.push(c));
          r.on('end', () => resolve({ status: r.statusCode ?? 500, headers: r.headers, text: Buffer.concat(parts).toString() }));
        });
        up.on('error', reject);
        up.end(body);
      });
    return (req, res) => {
      const op = String(req.headers['x-amz-target'] ?? '');
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const raw = Buffer.concat(chunks).toString();
          const body = JSON.parse(raw || '{}') as Json;
          if (/PutItem$/.test(op) && hasPoison(body)) {
            seen.puts++;
            return validationError(res);
          }
          if (!/BatchWriteItem$/.test(op)) {
            const r = await forward(req, raw);
            res.writeHead(r.status, { 'content-type': String(r.headers['content-type'] ?? 'application/x-amz-json-1.0') });
            return res.end(r.text);
          }
          if (hasPoison(body)) {
            seen.validation++;
            return validationError(res);
          }
          // The first half of each table's requests goes through; the rest comes back unprocessed.
          const items = body.RequestItems as WriteRequests;
          const sent: WriteRequests = {};
          const held: WriteRequests = {};
          for (const [t, reqs] of Object.entries(items)) {
            const k = Math.ceil(reqs.length / 2);
            sent[t] = reqs.slice(0, k);
            if (reqs.length > k) held[t] = reqs.slice(k);
          }
          if (Object.keys(held).length) seen.partial++;
          const r = await forward(req, JSON.stringify({ ...body, RequestItems: sent }));
          if (r.status !== 200) {
            res.writeHead(r.status, { 'content-type': 'application/x-amz-json-1.0' });
            return res.end(r.text);
          }
          const answer = JSON.parse(r.text) as Json;
          res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(JSON.stringify({ ...answer, UnprocessedItems: held }));
        })().catch((e: unknown) => {
          res.writeHead(500);
          res.end(String(e));
        });
      });
    };
  });
  ({ direct, proxied } = bed);
});

afterAll(() => bed.close());

const mapping = compileMapping({ source: 's.unprocessed', target: table, partitionKey: { attribute: 'pk', template: 'K#{id}' }, nulls: 'omit' });
const events = (from: number, n: number, version: number): CdcEvent[] =>
  Array.from({ length: n }, (_, i) => ({ operation: 'insert', schema: 's', table: 'unprocessed', data: { id: from + i, v: `x${i}` }, version: String(version) }));

async function itemsIn(from: number, to: number): Promise<Record<string, { N?: string; S?: string }>[]> {
  return (await scanAll(direct, table)).filter((i) => Number(i.id.N) >= from && Number(i.id.N) < to);
}

test('UnprocessedItems are retried until every item is written once, with its version', async () => {
  seen.partial = 0;
  const applier = new Applier({ client: proxied, mappings: [mapping], mode: 'exclusive' });
  const r = await applier.apply(events(0, 200, 100));
  expect(seen.partial).toBeGreaterThan(0);
  expect(r.written).toBe(200);
  expect(r.deadLetters).toHaveLength(0);
  expect(applier.limiter.throttles).toBeGreaterThan(0);
  const items = await itemsIn(0, 200);
  expect(items).toHaveLength(200);
  expect(items.every((i) => i._v.N === '100')).toBe(true);
  expect(new Set(items.map((i) => i.pk.S)).size).toBe(200);
});

test('an item DynamoDB rejects as invalid is isolated and dead-lettered; the rest of its batch is written', async () => {
  seen.validation = 0;
  seen.puts = 0;
  const applier = new Applier({ client: proxied, mappings: [mapping], mode: 'exclusive' });
  const r = await applier.apply(events(770, 25, 200)); // ids 770..794, one batch, holding K#777
  expect(seen.validation).toBeGreaterThan(0);
  expect(seen.puts).toBeGreaterThan(0);
  expect(r.deadLetters).toHaveLength(1);
  expect(r.deadLetters[0].reason).toBe('validation');
  expect(r.deadLetters[0].event?.data?.id).toBe(777);
  expect(r.written).toBe(24);
  const items = await itemsIn(770, 795);
  expect(items.map((i) => Number(i.id.N)).sort((a, b) => a - b)).toEqual(events(770, 25, 200).map((e) => Number(e.data?.id)).filter((id) => id !== 777));
  expect(items.every((i) => i._v.N === '200')).toBe(true);
});
