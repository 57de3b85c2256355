// ForwardingHeader (RFC 6940 §6.3.2): the per-hop part of every message, 38 fixed bytes
// followed by the via list, the destination list and the forwarding options.
import {
  DEFAULT_MAX_MESSAGE_SIZE_BYTES, FORWARDING_HEADER_FIXED_BYTES, FRAGMENT_UNFRAGMENTED, RELOAD_VERSION, RELO_TOKEN,
} from './constants.ts';
import { type Cursor, readSequence, readU8, readU16, readU32, readU64, writeU8, writeU16, writeU32, writeU64 } from './cursor.ts';
import { type Destination, decodeDestinationList, destinationListLength, encodeDestinationList } from './destination.ts';
import { ForwardingOption } from './forwarding-option.ts';

export interface ForwardingHeader {
  /** Low 32 bits of SHA-1(overlay instance name), see `overlayHash`. */
  overlay: number;
  configurationSequence: number;
  ttl: number;
  /** Bit 31 always set, bit 30 last fragment, bits 23..0 offset (§6.7). */
  fragment: number;
  /** Bytes of the whole message or fragment including this header; filled in on encode. */
  length: number;
  transactionId: bigint;
  maxResponseLength: number;
  viaList: Destination[];
  destinationList: Destination[];
  options: ForwardingOption[];
}

export interface HeaderLimits {
  /** Largest `length` accepted; configuration max-message-size, default 5000 (§11.1). */
  maxMessageSize?: number;
}

const LAST_FRAGMENT = 0x40000000;
const FRAGMENT_OFFSET_MASK = 0x00ffffff;

export function isFragment(h: ForwardingHeader): boolean {
  return (h.fragment & FRAGMENT_OFFSET_MASK) !== 0 || (h.fragment & LAST_FRAGMENT) === 0;
}

export function fragmentOffset(h: ForwardingHeader): number {
  return h.fragment & FRAGMENT_OFFSET_MASK;
}

export function fragmentField(offset: number, last: boolean): number {
  return (0x80000000 | (last ? LAST_FRAGMENT : 0) | offset) >>> 0;
}

export { FRAGMENT_UNFRAGMENTED };

export function optionsLength(options: readonly ForwardingOption[]): number {
  let n = 0;
  for (const o of options) n += ForwardingOption.encodingLength(o);
  return n;
}

export function forwardingHeaderLength(h: ForwardingHeader): number {
  return FORWARDING_HEADER_FIXED_BYTES + destinationListLength(h.viaList) + destinationListLength(h.destinationList) + optionsLength(h.options);
}

/** Writes the header with `length` as given; `encodeMessage` computes it first. */
export function encodeForwardingHeader(h: ForwardingHeader, c: Cursor): void {
  const via = destinationListLength(h.viaList);
  const dest = destinationListLength(h.destinationList);
  const opts = optionsLength(h.options);
  if (via > 0xffff || dest > 0xffff || opts > 0xffff) throw new RangeError('forwarding header list longer than 65535 bytes');
  writeU32(c, RELO_TOKEN);
  writeU32(c, h.overlay);
  writeU16(c, h.configurationSequence);
  writeU8(c, RELOAD_VERSION);
  writeU8(c, h.ttl);
  writeU32(c, h.fragment);
  writeU32(c, h.length);
  writeU64(c, h.transactionId);
  writeU32(c, h.maxResponseLength);
  writeU16(c, via);
  writeU16(c, dest);
  writeU16(c, opts);
  encodeDestinationList(h.viaList, c);
  encodeDestinationList(h.destinationList, c);
  for (const o of h.options) ForwardingOption.encode(o, c);
}

/**
 * Reads a forwarding header. The `length` field is checked against the limit before the
 * caller buffers or allocates anything for the rest of the message.
 */
export function decodeForwardingHeader(c: Cursor, limits: HeaderLimits = {}): ForwardingHeader {
  const max = limits.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE_BYTES;
  c.path.push('forwarding_header');
  const token = readU32(c, 'relo_token');
  if (token !== RELO_TOKEN) c.invalid('relo_token', 'bad_value', `0x${token.toString(16)} is not 0xd2454c4f`);
  const overlay = readU32(c, 'overlay');
  const configurationSequence = readU16(c, 'configuration_sequence');
  const version = readU8(c, 'version');
  if (version !== RELOAD_VERSION) c.invalid('version', 'bad_value', `0x${version.toString(16)} is not 0x0a`);
  const ttl = readU8(c, 'ttl');
  const fragment = readU32(c, 'fragment');
  // §6.7: "the high bit ... MUST be set ... a receiver MUST discard" a message without it.
  if ((fragment & 0x80000000) === 0) c.invalid('fragment', 'bad_value', 'high bit clear');
  const length = readU32(c, 'length');
  if (length > max) c.invalid('length', 'too_large', `${length} bytes exceeds max-message-size ${max}`);
  const transactionId = readU64(c, 'transaction_id');
  const maxResponseLength = readU32(c, 'max_response_length');
  const viaLength = readU16(c, 'via_list_length');
  const destLength = readU16(c, 'destination_list_length');
  const optLength = readU16(c, 'options_length');
  if (FORWARDING_HEADER_FIXED_BYTES + viaLength + destLength + optLength > length) {
    c.invalid('length', 'length_mismatch', `${length} bytes cannot hold the forwarding header's lists`);
  }
  const viaList = decodeDestinationList(c, viaLength, 'via_list');
  const destinationList = decodeDestinationList(c, destLength, 'destination_list');
  const options = readSequence(c, optLength, 'options', ForwardingOption);
  c.path.pop();
  return {
    overlay, configurationSequence, ttl, fragment, length, transactionId, maxResponseLength,
    viaList, destinationList, options,
  };
}
