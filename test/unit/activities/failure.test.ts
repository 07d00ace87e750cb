/**
 * The activity-failure boundary (src/activities/failure.ts): what crosses into workflow history carries the class
 * name and a message with quoted literals masked, never the cause chain or details; config messages stay verbatim.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { historySafeMessage, maskLiterals, toHistorySafeFailure } from '../../../src/activities/failure';
import { ConfigError, TransientError } from '../../../src/shared/errors';
import { TransformError } from '../../../src/pipeline/transform/errors';
import { encodeValue } from '../../../src/pipeline/transform/convert';

const MARK = 'SECRET-MARK';

describe('history-safe failures', () => {
  it('masks single- and double-quoted literals, greedy across quotes inside a value, keeping apostrophes in words', () => {
    expect(maskLiterals(`Duplicate entry 'O'${MARK}' for key 'PRIMARY'`)).toBe("Duplicate entry '…'");
    expect(maskLiterals(`bad value "${MARK}" in "x"`)).toBe('bad value "…" in "…"');
    expect(maskLiterals("over DynamoDB's 400 KB limit")).toBe("over DynamoDB's 400 KB limit");
    expect(maskLiterals('Incorrect value for column `d` at row 1')).toBe('Incorrect value for column `d` at row 1');
  });

  it('keeps the type and retryability, drops cause and details, and keeps config messages verbatim', () => {
    const mysqlLike = Object.assign(new Error(`Duplicate entry '${MARK}' for key 'PRIMARY'`), { code: 'ER_DUP_ENTRY' });
    const wrapped = new TransientError('write failed', { cause: mysqlLike });
    const f1 = toHistorySafeFailure(wrapped) as ApplicationFailure;
    expect({ type: f1.type, nonRetryable: f1.nonRetryable, cause: f1.cause, message: f1.message }).toEqual({ type: 'TransientError', nonRetryable: false, cause: undefined, message: 'write failed' });
    const f2 = toHistorySafeFailure(mysqlLike) as ApplicationFailure;
    expect({ type: f2.type, message: f2.message }).toEqual({ type: 'Error', message: expect.stringMatching(/^message withheld .* \[ER_DUP_ENTRY\]; worker log ref [0-9a-f]{10}$/) });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:13306'), { errno: -111, syscall: 'connect', code: 'ECONNREFUSED' });
    expect(historySafeMessage(refused)).toBe('connect ECONNREFUSED 127.0.0.1:13306');
    const withDetails = ApplicationFailure.create({ type: 'Odd', message: `row "${MARK}"`, details: [MARK], nonRetryable: true, cause: new Error(MARK) });
    const f3 = toHistorySafeFailure(withDetails) as ApplicationFailure;
    expect({ type: f3.type, nonRetryable: f3.nonRetryable, details: f3.details, cause: f3.cause }).toEqual({ type: 'Odd', nonRetryable: true, details: undefined, cause: undefined });
    expect(JSON.stringify({ m: f3.message, s: f3.stack })).not.toContain(MARK);
    const config = new ConfigError('unknown column "nope"', 'map.yaml', 'shop.users', 'rename.nope');
    expect(historySafeMessage(config)).toBe('map.yaml: shop.users: rename.nope: unknown column "nope"');
    const cancelled = new CancelledFailure('cancelled');
    expect(toHistorySafeFailure(cancelled)).toBe(cancelled);
  });

  it('conversion errors name the table and column but not the value', () => {
    const facts = { kind: 'string' as const };
    const cases: [string, Parameters<typeof encodeValue>[1]][] = [[`${MARK}`, 'datetime'], [`${MARK}`, 'boolean'], [`${MARK}`, 'number'], ['0000-00-00', 'datetime']];
    for (const [v, type] of cases) {
      let message = '';
      try {
        encodeValue(v, type, facts);
      } catch (e) {
        message = new TransformError((e as Error).message, 'shop.users', 'born').message;
      }
      expect(message).toMatch(/^shop\.users\.born: /);
      expect(message).not.toContain(MARK);
      expect(message).not.toContain('0000');
    }
    expect(() => encodeValue('1'.repeat(40), 'number', facts)).toThrow(/^40 significant digits/);
  });
});
