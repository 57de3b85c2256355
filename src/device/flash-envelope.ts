// The envelope around every record on flash: pure bytes, no I/O. A record file is one
// self-described CBOR item (RFC 8949 §3.4.6, tag 55799) holding a 7-element array:
//
//   55799([ "p2psip-flash", 1, name, sequence, writtenAtMs, payload, sha256 ])
//
// payload is the record's value as canonical CBOR (RFC 8949 §4.2, so that an unchanged value
// gives the same bytes and is not rewritten); sha256 covers every byte of the file before it,
// so a torn write, a truncated file or a flipped bit is caught before anything is decoded.
import { createHash } from 'node:crypto';
import cbor from 'cbor';
import { FLASH_FORMAT_VERSION, FLASH_MAGIC } from './flash-constants.ts';

export interface FlashEnvelope {
  /** The record's name; a file copied under another record's name is refused. */
  name: string;
  /** One more than the previous write of the record. */
  sequence: number;
  /** Wall-clock time of the write, ms since 1970. */
  writtenAtMs: number;
  /** The value, canonical CBOR. */
  payload: Uint8Array;
}

export type EnvelopeProblem = 'empty' | 'wrong_magic' | 'truncated' | 'checksum' | 'version' | 'name' | 'malformed';

/** A file that is not a good record: `problem` says how, the message in words. */
export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
  constructor(readonly problem: EnvelopeProblem, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** d9 d9 f7 (tag 55799), 87 (array of 7), then the magic text string. */
const PREFIX = Buffer.concat([Buffer.from([0xd9, 0xd9, 0xf7, 0x87]), cbor.encodeCanonical(FLASH_MAGIC)]);
/** 58 20: a 32-byte byte string, the SHA-256 item that ends the file. */
const DIGEST_HEADER = Buffer.from([0x58, 0x20]);
const DIGEST_ITEM_BYTES = DIGEST_HEADER.length + 32;

/** Bytes the envelope adds to a payload of a record named `name`, at most. */
export function envelopeOverhead(name: string): number {
  // prefix, version, name, two 9-byte integers, the payload's byte-string header, digest.
  return PREFIX.length + 1 + cbor.encodeCanonical(name).length + 9 + 9 + 9 + DIGEST_ITEM_BYTES;
}

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

export function encodeEnvelope(e: FlashEnvelope): Uint8Array {
  const body = Buffer.concat([
    PREFIX,
    cbor.encodeCanonical(FLASH_FORMAT_VERSION),
    cbor.encodeCanonical(e.name),
    cbor.encodeCanonical(e.sequence),
    cbor.encodeCanonical(e.writtenAtMs),
    // A Buffer, not a Uint8Array: node-cbor would tag the latter (RFC 8746 tag 64).
    cbor.encodeCanonical(Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength)),
  ]);
  return new Uint8Array(Buffer.concat([body, DIGEST_HEADER, sha256(body)]));
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * The envelope of a record file, checked in the order that names the damage best: empty,
 * not ours (magic), torn or altered (digest), then the fields. Throws EnvelopeError.
 */
export function decodeEnvelope(bytes: Uint8Array, expectedName: string): FlashEnvelope {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length === 0) throw new EnvelopeError('empty', 'empty file');
  if (b.length < PREFIX.length || !b.subarray(0, PREFIX.length).equals(PREFIX)) {
    if (PREFIX.subarray(0, b.length).equals(b)) throw new EnvelopeError('truncated', `truncated: ${b.length} bytes`);
    throw new EnvelopeError('wrong_magic', `not a ${FLASH_MAGIC} record (wrong magic)`);
  }
  const end = b.length - DIGEST_ITEM_BYTES;
  const digestOk = end >= PREFIX.length
    && b.subarray(end, end + DIGEST_HEADER.length).equals(DIGEST_HEADER)
    && sha256(b.subarray(0, end)).equals(b.subarray(end + DIGEST_HEADER.length));
  let items: unknown;
  try {
    items = cbor.decodeFirstSync(b.subarray(3));
  } catch (e) {
    if (!digestOk && /insufficient data/i.test((e as Error).message)) throw new EnvelopeError('truncated', `truncated: ${b.length} bytes`, { cause: e });
    if (!digestOk) throw new EnvelopeError('checksum', 'SHA-256 mismatch: the file was altered', { cause: e });
    throw new EnvelopeError('malformed', `undecodable: ${(e as Error).message}`, { cause: e });
  }
  if (!digestOk) throw new EnvelopeError('checksum', 'SHA-256 mismatch: the file was altered');
  if (!Array.isArray(items) || items.length !== 7) throw new EnvelopeError('malformed', 'the envelope is not a 7-element array');
  const [, version, name, sequence, writtenAtMs, payload] = items as unknown[];
  if (version !== FLASH_FORMAT_VERSION) throw new EnvelopeError('version', `format version ${String(version)}, this program reads ${FLASH_FORMAT_VERSION}`);
  if (name !== expectedName) throw new EnvelopeError('name', `holds record ${JSON.stringify(name)}, not ${JSON.stringify(expectedName)}`);
  if (!isUint(sequence) || !isUint(writtenAtMs) || !(payload instanceof Uint8Array)) throw new EnvelopeError('malformed', 'envelope fields of the wrong type');
  return { name, sequence, writtenAtMs, payload: new Uint8Array(payload) };
}

/** The record's value: canonical CBOR, so equal values give equal bytes. */
export function encodePayload(value: unknown): Uint8Array {
  return new Uint8Array(cbor.encodeCanonical(value));
}

export function decodePayload(payload: Uint8Array): unknown {
  try {
    return cbor.decodeFirstSync(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
  } catch (e) {
    throw new EnvelopeError('malformed', `undecodable payload: ${(e as Error).message}`, { cause: e });
  }
}
