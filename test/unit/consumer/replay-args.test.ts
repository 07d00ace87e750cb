/** `--replay-from` parsing and the reset options of `npm run etl`: bad input fails fast, naming the option. */
import { parseReplayFrom } from '../../../src/pipeline/consumer/replay';
import { resetRequest } from '../../../src/workers/etl-replay';

test('parses earliest, ISO timestamps with a zone, and partition:offset lists', () => {
  expect(parseReplayFrom('earliest')).toEqual({ earliest: true });
  expect(parseReplayFrom('2026-11-25T12:00:00Z')).toEqual({ timestamp: Date.UTC(2026, 10, 25, 12, 0, 0) });
  expect(parseReplayFrom('2026-11-25T13:00:00.250+01:00')).toEqual({ timestamp: Date.UTC(2026, 10, 25, 12, 0, 0, 250) });
  expect(parseReplayFrom('0:15,2:0')).toEqual({ offsets: { 0: '15', 2: '0' } });
  expect(parseReplayFrom('1:9007199254740993')).toEqual({ offsets: { 1: '9007199254740993' } }); // beyond 2^53, exact
});

test.each([
  ['latest', /--replay-from: expected earliest/],
  ['2026-11-25T12:00:00', /got "2026-11-25T12:00:00"/], // no zone: ambiguous
  ['2026-13-45T12:00:00Z', /expected earliest/],
  ['0:1,0:2', /partition 0 is given twice/],
  ['0:-1', /expected earliest/],
  ['', /expected earliest/],
])('refuses %j', (text, message) => {
  expect(() => parseReplayFrom(text)).toThrow(expect.objectContaining({ name: 'ConfigError', field: '--replay-from', message: expect.stringMatching(message) }));
});

test('reset options: rebuild needs no replay point, truncate only with rebuild', () => {
  expect(resetRequest({})).toEqual({ kind: 'none' });
  expect(resetRequest({ replayFrom: 'earliest' })).toEqual({ kind: 'replay', from: { earliest: true } });
  expect(resetRequest({ rebuild: true })).toEqual({ kind: 'rebuild', truncateTarget: false, freshBackfill: false });
  expect(resetRequest({ rebuild: true, truncateTarget: true })).toEqual({ kind: 'rebuild', truncateTarget: true, freshBackfill: false });
  expect(() => resetRequest({ rebuild: true, replayFrom: 'earliest' })).toThrow(expect.objectContaining({ name: 'ConfigError', field: '--rebuild' }));
  expect(() => resetRequest({ truncateTarget: true })).toThrow(expect.objectContaining({ name: 'ConfigError', field: '--truncate-target' }));
});
