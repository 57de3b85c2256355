// Minimal DER (ITU-T X.690 §8, §10) for the one certificate shape RELOAD needs (RFC 6940
// §11.3): writers for the few universal types a certificate uses, and a strict TLV reader for
// finding fields in a certificate. Definite, minimal lengths and low tag numbers only.

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Bytes that break DER; callers turn it into their own typed error. */
export class DerError extends Error {
  override readonly name = 'DerError';
}

// ---- Writing ----

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

/** One TLV whose content is the concatenation of `parts`. */
export function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const head = [tag, ...lengthBytes(length)];
  const out = new Uint8Array(head.length + length);
  out.set(head, 0);
  let at = head.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const sequence = (...parts: Uint8Array[]): Uint8Array => tlv(Tag.SEQUENCE, ...parts);
export const set = (...parts: Uint8Array[]): Uint8Array => tlv(Tag.SET, ...parts);
export const octetString = (b: Uint8Array): Uint8Array => tlv(Tag.OCTET_STRING, b);
export const derNull = (): Uint8Array => tlv(Tag.NULL);
export const boolean = (v: boolean): Uint8Array => tlv(Tag.BOOLEAN, Uint8Array.of(v ? 0xff : 0x00));
/** A BIT STRING of whole bytes, or with `unusedBits` trailing bits padding the last byte. */
export const bitString = (b: Uint8Array, unusedBits = 0): Uint8Array => tlv(Tag.BIT_STRING, Uint8Array.of(unusedBits), b);
/** [n] EXPLICIT, or a constructed/primitive [n] IMPLICIT when `constructed` says so. */
export const context = (n: number, constructed: boolean, ...parts: Uint8Array[]): Uint8Array =>
  tlv(0x80 | (constructed ? 0x20 : 0) | n, ...parts);

/** An IA5String; only 7-bit ASCII is representable (X.680 §41). */
export function ia5String(s: string, tag: number = Tag.IA5_STRING): Uint8Array {
  if (!/^[\x00-\x7f]*$/.test(s)) throw new RangeError(`not an IA5String: ${JSON.stringify(s.slice(0, 40))}`);
  return tlv(tag, new TextEncoder().encode(s));
}

export const utf8String = (s: string): Uint8Array => tlv(Tag.UTF8_STRING, new TextEncoder().encode(s));

/** A non-negative INTEGER from big-endian magnitude bytes, minimally encoded (X.690 §8.3.2). */
export function unsignedInteger(magnitude: Uint8Array | number): Uint8Array {
  let b = typeof magnitude === 'number' ? numberBytes(magnitude) : magnitude;
  let start = 0;
  while (start < b.length - 1 && b[start] === 0) start++;
  b = b.subarray(start);
  if (b.length === 0) b = Uint8Array.of(0);
  return (b[0] & 0x80) ? tlv(Tag.INTEGER, Uint8Array.of(0), b) : tlv(Tag.INTEGER, b);
}

function numberBytes(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a non-negative integer: ${n}`);
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return Uint8Array.from(out.length ? out : [0]);
}

export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0)) throw new RangeError(`bad OID ${dotted}`);
  const out: number[] = [];
  const arc = (v: number): void => {
    const septets = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) septets.unshift(0x80 | (x & 0x7f));
    out.push(...septets);
  };
  arc(arcs[0] * 40 + arcs[1]);
  for (const a of arcs.slice(2)) arc(a);
  return tlv(Tag.OID, Uint8Array.from(out));
}

/** UTCTime through 2049, GeneralizedTime from 2050, whole seconds, Z (RFC 5280 §4.1.2.5). */
export function time(ms: number): Uint8Array {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const year = d.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new RangeError(`certificate time out of range: ${d.toISOString()}`);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const rest = `${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
  return year < 2050 ? ia5String(`${p2(year % 100)}${rest}`, Tag.UTC_TIME) : ia5String(`${year}${rest}`, Tag.GENERALIZED_TIME);
}

// ---- Reading ----

export interface Tlv {
  tag: number;
  /** The whole element, header included: what a signature or a hash covers. */
  bytes: Uint8Array;
  content: Uint8Array;
}

/** Reads the element at `pos`; `end` is where the next one starts. */
export function readTlv(b: Uint8Array, pos: number): Tlv & { end: number } {
  if (pos + 2 > b.length) throw new DerError('truncated element');
  const tag = b[pos];
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used here');
  let length = b[pos + 1];
  let at = pos + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    // 0x80 is BER's indefinite length; DER forbids it and leading zero or needless long forms.
    if (n === 0 || n > 4) throw new DerError(`bad length form 0x${length.toString(16)}`);
    if (at + n > b.length) throw new DerError('truncated length');
    if (b[at] === 0) throw new DerError('non-minimal length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + b[at + i];
    if (length < 0x80) throw new DerError('non-minimal length');
    at += n;
  }
  const end = at + length;
  if (end > b.length) throw new DerError('element longer than its container');
  return { tag, bytes: b.subarray(pos, end), content: b.subarray(at, end), end };
}

/** Reads one element filling `b` exactly. */
export function readOne(b: Uint8Array, tag: number, what: string): Tlv {
  const t = readTlv(b, 0);
  if (t.end !== b.length) throw new DerError(`${what}: trailing bytes`);
  return expectTag(t, tag, what);
}

/** The elements that fill a constructed element's content. */
export function children(content: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = 0; pos < content.length;) {
    const t = readTlv(content, pos);
    out.push(t);
    pos = t.end;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t) throw new DerError(`${what}: missing`);
  if (t.tag !== tag) throw new DerError(`${what}: tag 0x${t.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  return t;
}

export function readOid(t: Tlv): string {
  expectTag(t, Tag.OID, 'OID');
  const c = t.content;
  if (c.length === 0 || (c[c.length - 1] & 0x80)) throw new DerError('bad OID');
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < c.length; i++) {
    if (v === 0 && c[i] === 0x80) throw new DerError('non-minimal OID arc');
    v = v * 128 + (c[i] & 0x7f);
    if (!(c[i] & 0x80)) {
      if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    }
  }
  return arcs.join('.');
}

export function readBoolean(t: Tlv): boolean {
  expectTag(t, Tag.BOOLEAN, 'BOOLEAN');
  if (t.content.length !== 1 || (t.content[0] !== 0 && t.content[0] !== 0xff)) throw new DerError('bad BOOLEAN');
  return t.content[0] === 0xff;
}

/** ASCII text of a string-typed element (IA5String, or an implicitly tagged one). */
export function readAscii(t: Tlv): string {
  for (const b of t.content) if (b > 0x7f) throw new DerError('non-ASCII byte in an IA5String');
  return Buffer.from(t.content.buffer, t.content.byteOffset, t.content.byteLength).toString('latin1');
}
