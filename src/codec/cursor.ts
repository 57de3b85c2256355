// The shared cursor every RELOAD structure reads from and writes to, the two error kinds,
// and the primitive codecs of the TLS presentation language (RFC 6940 §6.3.1).

/** A window over bytes: reads and writes move `pos` forward and never pass `end`. */
export class Cursor {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos: number;
  /** End of the innermost structure being decoded; vectors narrow it and restore it. */
  end: number;
  /** Path of the structure being decoded, kept only to name the field in an error. */
  readonly path: string[] = [];
  /** How many length-delimited structures enclose `pos`; 0 at the top of the input. */
  nested = 0;

  constructor(bytes: Uint8Array, pos = 0, end = bytes.length) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = pos;
    this.end = end;
  }

  static alloc(length: number): Cursor {
    return new Cursor(new Uint8Array(length));
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Claims `n` bytes for a field; throws the right kind of error when they are not there. */
  take(n: number, field: string): number {
    const at = this.pos;
    if (n > this.end - at) this.short(n, field);
    this.pos = at + n;
    return at;
  }

  private short(n: number, field: string): never {
    // Past the end of the whole input more bytes may still arrive; past the end of an
    // enclosing vector they never will: the inner length contradicts the outer one.
    if (this.nested === 0) {
      throw new NeedMoreBytes(this.fieldPath(field), n - (this.end - this.pos));
    }
    throw new InvalidEncoding(this.fieldPath(field), 'exceeds_parent', `needs ${n} bytes, ${this.end - this.pos} left in enclosing structure`);
  }

  fieldPath(field: string): string {
    return this.path.length === 0 ? field : `${this.path.join('.')}.${field}`;
  }

  invalid(field: string, reason: InvalidReason, detail: string): never {
    throw new InvalidEncoding(this.fieldPath(field), reason, detail);
  }
}

/** Base of every decoding failure; `field` names the field by its RFC path. */
export abstract class CodecError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

/** The bytes end early: a stream reader should wait for more, a datagram is truncated. */
export class NeedMoreBytes extends CodecError {
  override readonly name = 'NeedMoreBytes';
  readonly missing: number;
  constructor(field: string, missing: number) {
    super(field, `truncated, ${missing} more bytes needed`);
    this.missing = missing;
  }
}

export type InvalidReason =
  | 'bad_value' // a fixed or constrained field holds a value the RFC forbids
  | 'unknown_type' // a select tag we cannot skip over
  | 'exceeds_parent' // an inner length runs past the structure that contains it
  | 'too_large' // a length field is above the configured limit
  | 'length_mismatch' // a length field disagrees with the bytes its content used
  | 'trailing_bytes'; // bytes left after a complete structure

/** The bytes can never be a valid encoding: drop them or answer Error_Invalid_Message. */
export class InvalidEncoding extends CodecError {
  override readonly name = 'InvalidEncoding';
  readonly reason: InvalidReason;
  constructor(field: string, reason: InvalidReason, detail: string) {
    super(field, `${reason.replace(/_/g, ' ')}: ${detail}`);
    this.reason = reason;
  }
}

/** One RFC structure: its exact size, how to write it, how to read it. */
export interface Codec<T> {
  encodingLength(value: T): number;
  encode(value: T, c: Cursor): void;
  decode(c: Cursor): T;
}

/** Encodes `value` into a fresh buffer of exactly `encodingLength` bytes. */
export function encode<T>(codec: Codec<T>, value: T): Uint8Array {
  const c = Cursor.alloc(codec.encodingLength(value));
  codec.encode(value, c);
  if (c.pos !== c.bytes.length) throw new Error(`encodingLength ${c.bytes.length} but wrote ${c.pos}`);
  return c.bytes;
}

/** Decodes exactly one `codec` value filling `bytes`; trailing bytes are an error. */
export function decode<T>(codec: Codec<T>, bytes: Uint8Array, name = 'value'): T {
  const c = new Cursor(bytes);
  const value = field(c, name, codec);
  if (c.pos !== c.end) c.invalid(name, 'trailing_bytes', `${c.end - c.pos} bytes after the end`);
  return value;
}

/** Decodes a named sub-structure, so an error inside it carries the field path. */
export function field<T>(c: Cursor, name: string, codec: Codec<T>): T {
  c.path.push(name);
  const value = codec.decode(c);
  c.path.pop();
  return value;
}

// ---- integers (network byte order) ----

export const u8: Codec<number> = {
  encodingLength: () => 1,
  encode: (v, c) => writeU8(c, v),
  decode: (c) => c.bytes[c.take(1, 'uint8')],
};
export const u16: Codec<number> = {
  encodingLength: () => 2,
  encode: (v, c) => writeU16(c, v),
  decode: (c) => c.view.getUint16(c.take(2, 'uint16')),
};
export const u32: Codec<number> = {
  encodingLength: () => 4,
  encode: (v, c) => writeU32(c, v),
  decode: (c) => c.view.getUint32(c.take(4, 'uint32')),
};
export const i32: Codec<number> = {
  encodingLength: () => 4,
  encode: (v, c) => {
    if (!(v >= -0x80000000 && v <= 0x7fffffff && v === Math.floor(v))) throw new RangeError(`${v} does not fit in int32`);
    c.view.setInt32(c.pos, v);
    c.pos += 4;
  },
  decode: (c) => c.view.getInt32(c.take(4, 'int32')),
};
export const u64: Codec<bigint> = {
  encodingLength: () => 8,
  encode: (v, c) => writeU64(c, v),
  decode: (c) => c.view.getBigUint64(c.take(8, 'uint64')),
};

// Named reads: the hot paths read fields directly with the field's own name in errors.
export function readU8(c: Cursor, name: string): number {
  return c.bytes[c.take(1, name)];
}
export function readU16(c: Cursor, name: string): number {
  return c.view.getUint16(c.take(2, name));
}
export function readU32(c: Cursor, name: string): number {
  return c.view.getUint32(c.take(4, name));
}
export function readU64(c: Cursor, name: string): bigint {
  return c.view.getBigUint64(c.take(8, name));
}
export function readBoolean(c: Cursor, name: string): boolean {
  const b = c.bytes[c.take(1, name)];
  // §6.3.1: Boolean is an enum of false(0) and true(1); anything else is malformed.
  if (b > 1) c.invalid(name, 'bad_value', `Boolean must be 0 or 1, got ${b}`);
  return b === 1;
}
// Writers refuse values their width cannot hold: a silently wrapped number or length
// would put different, still well-formed, bytes on the wire.
function outOfRange(v: number, bits: number): never {
  throw new RangeError(`${v} does not fit in ${bits} bits`);
}
export function writeU8(c: Cursor, v: number): void {
  if (!(v >= 0 && v <= 0xff && v === Math.floor(v))) outOfRange(v, 8);
  c.bytes[c.pos++] = v;
}
export function writeU16(c: Cursor, v: number): void {
  if (!(v >= 0 && v <= 0xffff && v === Math.floor(v))) outOfRange(v, 16);
  c.view.setUint16(c.pos, v);
  c.pos += 2;
}
export function writeU24(c: Cursor, v: number): void {
  if (!(v >= 0 && v <= 0xffffff && v === Math.floor(v))) outOfRange(v, 24);
  c.bytes[c.pos] = v >>> 16;
  c.bytes[c.pos + 1] = v >>> 8;
  c.bytes[c.pos + 2] = v;
  c.pos += 3;
}
export function writeU32(c: Cursor, v: number): void {
  if (!(v >= 0 && v <= 0xffffffff && v === Math.floor(v))) outOfRange(v, 32);
  c.view.setUint32(c.pos, v);
  c.pos += 4;
}
export function writeU64(c: Cursor, v: bigint): void {
  if (v < 0n || v > 0xffffffffffffffffn) throw new RangeError(`${v} does not fit in 64 bits`);
  c.view.setBigUint64(c.pos, v);
  c.pos += 8;
}
export function writeBytes(c: Cursor, b: Uint8Array): void {
  c.bytes.set(b, c.pos);
  c.pos += b.length;
}

// ---- length prefixes and vectors ----

/** Width in bytes of the length prefix of a `<0..2^(8w)-1>` vector. */
export type PrefixWidth = 1 | 2 | 3 | 4;
const PREFIX_MAX = [0, 0xff, 0xffff, 0xffffff, 0xffffffff];

export function readLength(c: Cursor, width: PrefixWidth, name: string): number {
  const at = c.take(width, name);
  const b = c.bytes;
  switch (width) {
    case 1: return b[at];
    case 2: return (b[at] << 8) | b[at + 1];
    case 3: return (b[at] << 16) | (b[at + 1] << 8) | b[at + 2];
    case 4: return c.view.getUint32(at);
  }
}

export function writeLength(c: Cursor, width: PrefixWidth, n: number, name: string): void {
  if (n > PREFIX_MAX[width]) throw new RangeError(`${name}: ${n} bytes do not fit a ${width}-byte length`);
  switch (width) {
    case 1: writeU8(c, n); break;
    case 2: writeU16(c, n); break;
    case 3: writeU24(c, n); break;
    case 4: writeU32(c, n); break;
  }
}

/** `opaque name<0..2^(8w)-1>`, zero-copy: the result is a view into the input. */
export function opaque(width: PrefixWidth, name = 'opaque'): Codec<Uint8Array> {
  return {
    encodingLength: (v) => width + v.length,
    encode: (v, c) => { writeLength(c, width, v.length, name); writeBytes(c, v); },
    decode: (c) => readOpaque(c, width, name),
  };
}

export function readOpaque(c: Cursor, width: PrefixWidth, name: string): Uint8Array {
  const n = readLength(c, width, name);
  const at = c.take(n, name);
  return c.bytes.subarray(at, at + n);
}

export function writeOpaque(c: Cursor, width: PrefixWidth, v: Uint8Array, name: string): void {
  writeLength(c, width, v.length, name);
  writeBytes(c, v);
}

/** `T name[n]`: a fixed number of bytes, no prefix. */
export function fixedBytes(n: number, name: string): Codec<Uint8Array> {
  return {
    encodingLength: () => n,
    encode: (v, c) => {
      if (v.length !== n) throw new RangeError(`${name}: must be ${n} bytes, got ${v.length}`);
      writeBytes(c, v);
    },
    decode: (c) => {
      const at = c.take(n, name);
      return c.bytes.subarray(at, at + n);
    },
  };
}

/**
 * `T name<0..2^(8w)-1>`: a vector of structures whose prefix counts bytes, not elements
 * (§6.3.1). Each element must end inside the vector; the vector must end on an element.
 */
export function vector<T>(item: Codec<T>, width: PrefixWidth, name: string): Codec<T[]> {
  return {
    encodingLength(list) {
      let n = width;
      for (const v of list) n += item.encodingLength(v);
      return n;
    },
    encode(list, c) {
      let n = 0;
      for (const v of list) n += item.encodingLength(v);
      writeLength(c, width, n, name);
      for (const v of list) item.encode(v, c);
    },
    decode: (c) => readSequence(c, readLength(c, width, name), name, item),
  };
}

/**
 * Reads `item`s filling exactly `length` bytes: the body of a vector, or a list whose byte
 * length came from elsewhere (the forwarding header's list lengths). Each element must end
 * inside the list.
 */
export function readSequence<T>(c: Cursor, length: number, name: string, item: Codec<T>): T[] {
  return within(c, length, name, () => {
    const list: T[] = [];
    while (c.pos < c.end) {
      const at = c.pos;
      c.path.push(`${name}[${list.length}]`);
      list.push(item.decode(c));
      c.path.pop();
      // Every element takes at least one byte, so a list is bounded by its byte length.
      if (c.pos === at) throw new Error(`${name}: element codec consumed no bytes`);
    }
    return list;
  });
}

/**
 * Runs `read` with the cursor narrowed to the next `length` bytes, then checks it used every byte: a length
 * field that promises more than its contents is as malformed as one that promises less.
 */
export function within<T>(c: Cursor, length: number, name: string, read: () => T): T {
  const start = c.take(length, name);
  const end = start + length;
  c.pos = start;
  const outer = c.end;
  c.end = end;
  c.nested++;
  const value = read();
  if (c.pos !== end) c.invalid(name, 'length_mismatch', `${end - c.pos} bytes unread inside its length`);
  c.nested--;
  c.end = outer;
  return value;
}

/** Shared empty byte string for absent opaque values. */
export const EMPTY = new Uint8Array(0);

/**
 * Text fields the RFCs restrict to ASCII (ICE ufrag, password, foundation, role). Latin-1
 * maps each byte to one code unit and back, so any received bytes round-trip unchanged.
 */
export function readAscii(c: Cursor, width: PrefixWidth, name: string): string {
  const b = readOpaque(c, width, name);
  return b.length === 0 ? '' : Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
}

export function writeAscii(c: Cursor, width: PrefixWidth, s: string, name: string): void {
  writeLength(c, width, s.length, name);
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code > 0xff) throw new RangeError(`${name}: character outside Latin-1`);
    c.bytes[c.pos++] = code;
  }
}
