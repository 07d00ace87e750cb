/**
 * normalizeNumber's fast path (text already canonical is returned as is) must agree with the full normalisation for
 * every input, including the errors. A leading space forces the full path (it accepts surrounding whitespace), so
 * `normalizeNumber(s)` and `normalizeNumber(' ' + s)` are compared on generated number texts of every shape.
 */
import fc from 'fast-check';
import { normalizeNumber } from '../../../src/pipeline/transform/convert';

const outcome = (s: string): string => {
  try {
    return `ok ${normalizeNumber(s)}`;
  } catch (e) {
    return `${(e as Error).name} ${(e as Error).message.replace(/text of \d+ characters/, 'text')}`; // the length counts the space
  }
};

const digits = (min: number, max: number) => fc.array(fc.constantFrom(...'0123456789'), { minLength: min, maxLength: max }).map((d) => d.join(''));
const numberText = fc.tuple(fc.constantFrom('', '-', '+'), digits(0, 42), fc.option(digits(0, 42), { nil: undefined }), fc.option(fc.integer({ min: -140, max: 140 }), { nil: undefined }))
  .map(([sign, int, frac, exp]) => `${sign}${int}${frac === undefined ? '' : `.${frac}`}${exp === undefined ? '' : `e${exp}`}`);

describe('normalizeNumber', () => {
  it('returns canonical text unchanged and normalises the rest, exactly as the full normalisation does', () => {
    fc.assert(fc.property(fc.oneof(numberText, fc.bigInt().map(String), fc.double({ noNaN: true }).map(String), fc.string()), (s) => {
      expect(outcome(s)).toBe(outcome(` ${s}`));
    }), { numRuns: 20_000 });
  });

  it('keeps the canonical forms and the limits', () => {
    expect(normalizeNumber('1000000000')).toBe('1000000000');
    expect(normalizeNumber('-0.05')).toBe('-0.05');
    expect(normalizeNumber('-0')).toBe('0');
    expect(normalizeNumber('0.50')).toBe('0.5');
    expect(normalizeNumber('007')).toBe('7');
    expect(normalizeNumber('1'.repeat(38))).toBe('1'.repeat(38));
    expect(() => normalizeNumber('1'.repeat(39))).toThrow(/39 significant digits/);
    expect(normalizeNumber(`1${'0'.repeat(40)}`)).toBe(`1${'0'.repeat(40)}`);
  });
});
