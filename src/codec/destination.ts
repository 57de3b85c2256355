// Destination and Via list entries (RFC 6940 §6.3.2.2), GRUUs built on them (RFC 7904 §6).
import { NODE_ID_BYTES } from './constants.ts';
import { type Codec, type Cursor, readU8, writeU8, writeU16, writeBytes, encode, decode, vector, readSequence, InvalidEncoding, writeLength } from './cursor.ts';
import type { NodeId, ResourceId } from './ids.ts';

export type Destination =
  | { type: 'node'; id: NodeId }
  | { type: 'resource'; id: ResourceId }
  | { type: 'opaque'; id: Uint8Array }
  /** The 16-bit compact form: top bit set, 15 bits of opaque ID. */
  | { type: 'compact'; id: number }
  /** "This structure may be extended with new types": kept raw, never routable. */
  | { type: 'unknown'; code: number; data: Uint8Array };

const NODE = 1;
const RESOURCE = 2;
const OPAQUE = 3;

export const Destination: Codec<Destination> = {
  encodingLength(d) {
    switch (d.type) {
      case 'node': return 2 + d.id.length;
      case 'resource':
      case 'opaque': return 3 + d.id.length;
      case 'compact': return 2;
      case 'unknown': return 2 + d.data.length;
    }
  },
  encode(d, c) {
    switch (d.type) {
      case 'node':
        writeU8(c, NODE); writeLength(c, 1, d.id.length, 'node_id'); writeBytes(c, d.id);
        return;
      case 'resource':
      case 'opaque':
        // The data is itself an opaque<0..2^8-1>, so it carries its own length byte:
        // `02 11 10 <16 bytes>` for a 128-bit Resource-ID.
        if (d.id.length > 254) throw new RangeError(`${d.type} destination longer than 254 bytes`);
        writeU8(c, d.type === 'resource' ? RESOURCE : OPAQUE);
        writeU8(c, d.id.length + 1); writeU8(c, d.id.length); writeBytes(c, d.id);
        return;
      case 'compact':
        if (d.id < 0 || d.id > 0x7fff) throw new RangeError(`compact destination ${d.id} out of range`);
        writeU16(c, 0x8000 | d.id);
        return;
      case 'unknown':
        writeU8(c, d.code); writeLength(c, 1, d.data.length, 'destination_data'); writeBytes(c, d.data);
    }
  },
  decode(c) {
    const first = readU8(c, 'type');
    // §6.3.2.2: "If the first bit is 1, then the rest of the 16 bits is an opaque ID."
    if (first & 0x80) return { type: 'compact', id: ((first & 0x7f) << 8) | readU8(c, 'opaque_id') };
    const length = readU8(c, 'length');
    const at = c.take(length, 'destination_data');
    const data = c.bytes.subarray(at, at + length);
    switch (first) {
      case 0:
        return c.invalid('type', 'bad_value', 'invalidDestinationType(0)');
      case NODE:
        if (length !== NODE_ID_BYTES) c.invalid('length', 'bad_value', `node_id must be ${NODE_ID_BYTES} bytes, got ${length}`);
        return { type: 'node', id: data };
      case RESOURCE:
      case OPAQUE:
        if (length === 0 || data[0] !== length - 1) {
          c.invalid(first === RESOURCE ? 'resource_id' : 'opaque_id', 'length_mismatch', `inner length ${data[0]} in a ${length}-byte entry`);
        }
        return { type: first === RESOURCE ? 'resource' : 'opaque', id: data.subarray(1) };
      default:
        return { type: 'unknown', code: first, data };
    }
  },
};

/** Reads Destination entries filling exactly `length` bytes (the header's list lengths). */
export function decodeDestinationList(c: Cursor, length: number, name: string): Destination[] {
  return readSequence(c, length, name, Destination);
}

export function destinationListLength(list: readonly Destination[]): number {
  let n = 0;
  for (const d of list) n += Destination.encodingLength(d);
  return n;
}

export function encodeDestinationList(list: readonly Destination[], c: Cursor): void {
  for (const d of list) Destination.encode(d, c);
}

/** `Destination destination_list<0..2^16-1>` with a byte-count prefix, as in SipRegistration. */
export const DestinationVector = vector(Destination, 2, 'destination_list');

/** A bare destination list of a known byte length, e.g. the hex of a reload:// URI. */
export const DestinationList: Codec<Destination[]> = {
  encodingLength: destinationListLength,
  encode: encodeDestinationList,
  decode: (c) => decodeDestinationList(c, c.remaining, 'destination_list'),
};

export const nodeDestination = (id: NodeId): Destination => ({ type: 'node', id });
export const resourceDestination = (id: ResourceId): Destination => ({ type: 'resource', id });

// ---- GRUU (RFC 7904 §6): <aor>;gr=<base64 of a Destination list, '~' for '='> ----

export function gruuValue(list: readonly Destination[]): string {
  return Buffer.from(encode(DestinationList, list as Destination[])).toString('base64').replace(/=/g, '~');
}

export function encodeGruu(aor: string, list: readonly Destination[]): string {
  return `${aor};gr=${gruuValue(list)}`;
}

/** Splits `aor;gr=value` and decodes the value; throws a CodecError on a malformed value. */
export function decodeGruu(gruu: string): { aor: string; destinations: Destination[] } {
  const m = /^(.*?);gr=([A-Za-z0-9+/]*~{0,2})$/.exec(gruu);
  if (!m || m[2].length % 4 !== 0) throw new InvalidEncoding('gr', 'bad_value', `not a RELOAD GRUU: ${gruu.slice(0, 80)}`);
  const bytes = new Uint8Array(Buffer.from(m[2].replace(/~/g, '='), 'base64'));
  return { aor: m[1], destinations: decode(DestinationList, bytes, 'gr') };
}
