/** The redrive options of `npm run etl`: parsed without I/O, bad text fails fast naming the option. */
import { redriveRequest } from '../../../src/workers/etl-replay';

test('no --redrive-dlq: no redrive, and its sub-options are refused', () => {
  expect(redriveRequest({})).toBeUndefined();
  expect(() => redriveRequest({ redriveFrom: 'earliest' })).toThrow(/--redrive-from: only meaningful with --redrive-dlq/);
  expect(() => redriveRequest({ redriveReasons: 'transform' })).toThrow(/--redrive-reasons: only meaningful with --redrive-dlq/);
});

test('from, reasons and source offsets are parsed', () => {
  expect(redriveRequest({ redriveDlq: true })).toEqual({ from: undefined, reasons: undefined, sourceOffsets: undefined });
  expect(redriveRequest({ redriveDlq: true, redriveFrom: 'earliest' })?.from).toEqual({ earliest: true });
  expect(redriveRequest({ redriveDlq: true, redriveFrom: '0:15,2:007' })?.from).toEqual({ offsets: { 0: '15', 2: '7' } });
  expect(redriveRequest({ redriveDlq: true, redriveReasons: 'item-too-large, transform' })?.reasons).toEqual(['item-too-large', 'transform']);
  expect(redriveRequest({ redriveDlq: true, redriveSourceOffsets: '1:1500' })?.sourceOffsets).toEqual([{ partition: 1, offset: '1500' }]);
});

test('bad text and combinations fail fast, naming the option', () => {
  expect(() => redriveRequest({ redriveDlq: true, redriveFrom: 'yesterday' })).toThrow(/--redrive-from: expected partition:offset/);
  expect(() => redriveRequest({ redriveDlq: true, redriveReasons: 'too-big' })).toThrow(/--redrive-reasons: unknown reason\(s\) too-big; known: unparseable/);
  expect(() => redriveRequest({ redriveDlq: true, redriveSourceOffsets: '1-5' })).toThrow(/--redrive-source-offsets/);
  expect(() => redriveRequest({ redriveDlq: true, rebuild: true })).toThrow(/--redrive-dlq: a redrive runs on its own/);
  expect(() => redriveRequest({ redriveDlq: true, replayFrom: 'earliest' })).toThrow(/--redrive-dlq/);
});

test('a DLQ partition given twice in --redrive-from is refused', () => {
  expect(() => redriveRequest({ redriveDlq: true, redriveFrom: '0:1,0:2' })).toThrow(/--redrive-from: partition 0 is given twice/);
  expect(redriveRequest({ redriveDlq: true, redriveSourceOffsets: '0:1,0:2' })?.sourceOffsets).toHaveLength(2); // two positions of one partition
});
