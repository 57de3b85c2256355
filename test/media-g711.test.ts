// G.711 μ-law and A-law (ITU-T G.711, G.191 reference coding): known code values, the full
// 16-bit range round trip, and the decode tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALAW_TO_LINEAR, alawToLinear, g711Decode, g711Encode, linearToAlaw, linearToUlaw, ULAW_TO_LINEAR, ulawToLinear,
} from '../src/sip/media/g711.ts';

test('μ-law: 0xFF and 0x7F are zero; 0x00/0x80 are the extremes', () => {
  assert.equal(linearToUlaw(0), 0xff);
  assert.equal(ulawToLinear(0xff), 0);
  // "Negative zero" decodes to 0 too.
  assert.equal(ulawToLinear(0x7f), 0);
  assert.equal(ulawToLinear(0x00), -32124);
  assert.equal(ulawToLinear(0x80), 32124);
  assert.equal(linearToUlaw(32767), 0x80);
  assert.equal(linearToUlaw(-32768), 0x00);
  // G.191 codes negative samples by one's complement: -1 lies in the zero interval.
  assert.equal(linearToUlaw(-1), 0x7f);
});

test('μ-law: segment boundaries of G.711 Table 2a', () => {
  // Codes 0xEF..0xE0 run segment 1; each decoded value is the middle of its interval.
  assert.equal(ulawToLinear(0xfe), 8);
  assert.equal(ulawToLinear(0xf0), 120);
  assert.equal(ulawToLinear(0xef), 132);
  assert.equal(ulawToLinear(0xe0), 372);
  assert.equal(ulawToLinear(0x8f), 16764);
  assert.equal(ulawToLinear(0x0f), -16764);
  assert.equal(linearToUlaw(1000), 0xce);
  assert.equal(linearToUlaw(-1000), 0x4e);
});

test('A-law: 0xD5 is +8, 0x55 is -8; 0xAA/0x2A are the extremes', () => {
  assert.equal(linearToAlaw(0), 0xd5);
  assert.equal(alawToLinear(0xd5), 8);
  assert.equal(alawToLinear(0x55), -8);
  assert.equal(linearToAlaw(-1), 0x55);
  assert.equal(alawToLinear(0xaa), 32256);
  assert.equal(alawToLinear(0x2a), -32256);
  assert.equal(linearToAlaw(32767), 0xaa);
  assert.equal(linearToAlaw(-32768), 0x2a);
  assert.equal(linearToAlaw(1000), 0xfa);
  assert.equal(alawToLinear(0xfa), 1008);
});

for (const [name, enc, dec, maxRelError] of [
  ['μ-law', linearToUlaw, ulawToLinear, 1 / 32],
  ['A-law', linearToAlaw, alawToLinear, 1 / 32],
] as const) {
  test(`${name}: decode(encode(x)) is monotonic over all 65536 samples and close to x`, () => {
    let previous = -Infinity;
    for (let x = -32768; x <= 32767; x++) {
      const y = dec(enc(x));
      assert.ok(y >= previous, `${name} not monotonic at ${x}: ${y} < ${previous}`);
      previous = y;
      // Companding keeps the error within half a step; steps are at most 1/16 of the value
      // (plus the fixed first-segment step near zero).
      assert.ok(Math.abs(y - x) <= Math.abs(x) * maxRelError + 16 || Math.abs(x) > 32000, `${name}: ${x} → ${y}`);
    }
  });

  test(`${name}: codes are symmetric about zero`, () => {
    for (let x = 0; x <= 32767; x++) assert.equal(dec(enc(x)) + dec(enc(-x - 1)), 0, `${name} at ${x}`);
  });
}

test('every A-law code and every μ-law code but negative zero re-encodes to itself', () => {
  for (let c = 0; c < 256; c++) {
    assert.equal(linearToAlaw(alawToLinear(c)), c, `A-law 0x${c.toString(16)}`);
    assert.equal(linearToUlaw(ulawToLinear(c)), c === 0x7f ? 0xff : c, `μ-law 0x${c.toString(16)}`);
  }
  assert.equal(new Set(ALAW_TO_LINEAR).size, 256);
  assert.equal(new Set(ULAW_TO_LINEAR).size, 255);
});

test('buffer encode/decode match the per-sample functions', () => {
  const samples = Int16Array.from({ length: 160 }, (_, i) => Math.round(20000 * Math.sin(i / 7)));
  for (const codec of ['PCMU', 'PCMA'] as const) {
    const bytes = g711Encode(codec, samples);
    assert.equal(bytes.length, 160);
    const back = g711Decode(codec, bytes);
    for (let i = 0; i < 160; i++) {
      assert.equal(bytes[i], codec === 'PCMU' ? linearToUlaw(samples[i]) : linearToAlaw(samples[i]));
      assert.equal(back[i], codec === 'PCMU' ? ulawToLinear(bytes[i]) : alawToLinear(bytes[i]));
    }
  }
  // A larger output buffer is used in part.
  const out = new Uint8Array(400);
  assert.equal(g711Encode('PCMU', samples, out).length, 160);
  assert.throws(() => g711Encode('PCMU', samples, new Uint8Array(10)), RangeError);
});
