import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { declaredPast } from '../src/emulator/body-reader.js';

describe('the declared body length check', () => {
  it('says what Number(content-length) > limit says, for digits and for anything else', () => {
    const declared = fc.oneof(fc.stringMatching(/^[0-9]{0,14}$/), fc.nat().map(String), fc.string({ maxLength: 12 }), fc.constantFrom(' 12', '1e3', '0x10', '-1', '12 ', '', '0065536', '65536', '65537'));
    fc.assert(
      fc.property(declared, fc.oneof(fc.constantFrom(0, 1, 65_536), fc.integer({ min: 0, max: 2 ** 30 })), (text, limit) => {
        expect(declaredPast(text, limit)).toBe(Number(text) > limit);
      }),
      { numRuns: 5000 },
    );
  });
});
