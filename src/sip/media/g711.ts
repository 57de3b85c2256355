// ITU-T G.711 μ-law and A-law companding of 16-bit linear PCM, as the ITU's own reference
// (G.191 Software Tools Library, g711.c) does it: the 16-bit sample is taken as a
// left-justified 14-bit (μ-law) or 13-bit (A-law) value, negative values by one's complement,
// so that the coding is symmetric about zero. Decoding is a 256-entry table (RFC 3551 §4.5.14).

/** Encodes one 16-bit linear sample to a μ-law byte (G.711 Table 2a). */
export function linearToUlaw(sample: number): number {
  // G.191 ulaw_compress: magnitude in 14 bits, plus the bias 33 that makes segments align.
  let magnitude = ((sample < 0 ? ~sample : sample) >> 2) + 33;
  if (magnitude > 0x1fff) magnitude = 0x1fff;
  let segment = 1;
  for (let i = magnitude >> 6; i !== 0; i >>= 1) segment++;
  const high = 8 - segment;
  const low = 0x0f - ((magnitude >> segment) & 0x0f);
  const code = (high << 4) | low;
  return sample >= 0 ? code | 0x80 : code;
}

/** Encodes one 16-bit linear sample to an A-law byte (G.711 Table 1a), even bits inverted. */
export function linearToAlaw(sample: number): number {
  // G.191 alaw_compress: magnitude in 12 bits; segment 0 and 1 share one step size.
  let magnitude = (sample < 0 ? ~sample : sample) >> 4;
  if (magnitude > 15) {
    let exponent = 1;
    while (magnitude > 16 + 15) {
      magnitude >>= 1;
      exponent++;
    }
    magnitude -= 16;
    magnitude += exponent << 4;
  }
  if (sample >= 0) magnitude |= 0x80;
  return magnitude ^ 0x55;
}

function ulawExpand(code: number): number {
  // G.191 ulaw_expand: the decision value at the middle of the quantisation interval.
  const sign = code < 0x80 ? -1 : 1;
  const inverted = ~code & 0xff;
  const exponent = (inverted >> 4) & 0x07;
  const mantissa = inverted & 0x0f;
  const step = 4 << (exponent + 1);
  return sign * ((0x80 << exponent) + step * mantissa + step / 2 - 4 * 33);
}

function alawExpand(code: number): number {
  // G.191 alaw_expand.
  const bits = (code ^ 0x55) & 0x7f;
  const exponent = bits >> 4;
  let mantissa = bits & 0x0f;
  if (exponent > 0) mantissa += 16;
  mantissa = (mantissa << 4) + 8;
  if (exponent > 1) mantissa <<= exponent - 1;
  return code > 0x7f ? mantissa : -mantissa;
}

/** μ-law byte → 16-bit linear sample. */
export const ULAW_TO_LINEAR: Int16Array = Int16Array.from({ length: 256 }, (_, code) => ulawExpand(code));
/** A-law byte → 16-bit linear sample. */
export const ALAW_TO_LINEAR: Int16Array = Int16Array.from({ length: 256 }, (_, code) => alawExpand(code));

export function ulawToLinear(code: number): number {
  return ULAW_TO_LINEAR[code & 0xff];
}

export function alawToLinear(code: number): number {
  return ALAW_TO_LINEAR[code & 0xff];
}

/** The two G.711 laws by their RTP encoding names (RFC 3551 §4.5.14). */
export type G711Codec = 'PCMU' | 'PCMA';

/** Encodes `samples` into `out` (one byte per sample); `out` must be at least as long. */
export function g711Encode(codec: G711Codec, samples: Int16Array, out: Uint8Array = new Uint8Array(samples.length)): Uint8Array {
  if (out.length < samples.length) throw new RangeError(`g711Encode: output holds ${out.length} of ${samples.length} samples`);
  const encodeOne = codec === 'PCMU' ? linearToUlaw : linearToAlaw;
  for (let i = 0; i < samples.length; i++) out[i] = encodeOne(samples[i]);
  return out.length === samples.length ? out : out.subarray(0, samples.length);
}

/** Decodes `bytes` into `out` (one sample per byte); `out` must be at least as long. */
export function g711Decode(codec: G711Codec, bytes: Uint8Array, out: Int16Array = new Int16Array(bytes.length)): Int16Array {
  if (out.length < bytes.length) throw new RangeError(`g711Decode: output holds ${out.length} of ${bytes.length} samples`);
  const table = codec === 'PCMU' ? ULAW_TO_LINEAR : ALAW_TO_LINEAR;
  for (let i = 0; i < bytes.length; i++) out[i] = table[bytes[i]];
  return out.length === bytes.length ? out : out.subarray(0, bytes.length);
}
