// The RTP data packet (RFC 3550 §5.1) over the shared cursor. A datagram is one packet:
// the payload runs to the end of the datagram, less the padding the P bit announces.
// Decoding is bounds-checked and fails only with a CodecError naming the field.
import { Cursor, encode, readU16, readU32, readU8, writeBytes, writeU16, writeU32, writeU8, type Codec } from '../../codec/cursor.ts';

export { CodecError, InvalidEncoding, NeedMoreBytes } from '../../codec/cursor.ts';

/** RFC 3550 §5.1: "This field identifies the version of RTP... version two (2)". */
export const RTP_VERSION = 2;
/** Fixed header: V/P/X/CC, M/PT, sequence number, timestamp, SSRC. */
export const RTP_HEADER_BYTES = 12;

/** RFC 3550 §5.3.1: the one header extension a packet may carry. */
export interface RtpHeaderExtension {
  /** "defined by profile": the 16 bits that name the extension's format. */
  profile: number;
  /** Contents; a multiple of 4 bytes ("length... in 32-bit words"). */
  data: Uint8Array;
}

export interface RtpPacket {
  /** M: "the marking of significant events such as frame boundaries" (RFC 3551 §4.1: talkspurt start). */
  marker: boolean;
  /** PT, 7 bits. */
  payloadType: number;
  /** 16 bits, incremented by one per packet sent. */
  sequenceNumber: number;
  /** 32 bits, the sampling instant of the first octet of the payload. */
  timestamp: number;
  /** 32 bits, the synchronization source. */
  ssrc: number;
  /** Contributing sources, at most 15 (CC is 4 bits). */
  csrc?: number[];
  extension?: RtpHeaderExtension;
  /** A view into the decoded datagram: copy it if it must outlive the packet. */
  payload: Uint8Array;
  /**
   * Padding octets at the end, including the last one that counts them (RFC 3550 §5.1 P);
   * 0 or absent for none.
   */
  padding?: number;
}

/** RFC 5761 §4: a second octet of 192..223 is an RTCP packet type (SR 200 … 207), not M+PT. */
export function looksLikeRtcp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[1] >= 192 && bytes[1] <= 223;
}

export const RtpPacketCodec: Codec<RtpPacket> = {
  encodingLength(p) {
    const ext = p.extension ? 4 + p.extension.data.length : 0;
    return RTP_HEADER_BYTES + 4 * (p.csrc?.length ?? 0) + ext + p.payload.length + (p.padding ?? 0);
  },

  encode(p, c) {
    const csrc = p.csrc ?? [];
    const padding = p.padding ?? 0;
    if (csrc.length > 15) throw new RangeError(`rtp: ${csrc.length} CSRCs, at most 15`);
    if (p.payloadType > 127) throw new RangeError(`rtp: payload type ${p.payloadType} needs more than 7 bits`);
    if (padding > 255) throw new RangeError(`rtp: ${padding} padding octets, at most 255`);
    if (p.extension && p.extension.data.length % 4 !== 0) throw new RangeError('rtp: extension data must be a multiple of 32 bits');
    writeU8(c, (RTP_VERSION << 6) | (padding > 0 ? 0x20 : 0) | (p.extension ? 0x10 : 0) | csrc.length);
    writeU8(c, (p.marker ? 0x80 : 0) | p.payloadType);
    writeU16(c, p.sequenceNumber);
    writeU32(c, p.timestamp);
    writeU32(c, p.ssrc);
    for (const s of csrc) writeU32(c, s);
    if (p.extension) {
      writeU16(c, p.extension.profile);
      writeU16(c, p.extension.data.length / 4);
      writeBytes(c, p.extension.data);
    }
    writeBytes(c, p.payload);
    if (padding > 0) {
      // §5.1: "The last octet of the padding contains a count of how many padding octets
      // should be ignored, including itself."
      c.bytes.fill(0, c.pos, c.pos + padding - 1);
      c.pos += padding - 1;
      writeU8(c, padding);
    }
  },

  decode(c) {
    const first = readU8(c, 'version');
    if (first >> 6 !== RTP_VERSION) c.invalid('version', 'bad_value', `version ${first >> 6}, expected 2`);
    const hasPadding = (first & 0x20) !== 0;
    const hasExtension = (first & 0x10) !== 0;
    const csrcCount = first & 0x0f;
    const second = readU8(c, 'payload_type');
    const sequenceNumber = readU16(c, 'sequence_number');
    const timestamp = readU32(c, 'timestamp');
    const ssrc = readU32(c, 'ssrc');
    const packet: RtpPacket = { marker: (second & 0x80) !== 0, payloadType: second & 0x7f, sequenceNumber, timestamp, ssrc, payload: c.bytes.subarray(0, 0) };
    if (csrcCount > 0) {
      packet.csrc = [];
      for (let i = 0; i < csrcCount; i++) packet.csrc.push(readU32(c, `csrc[${i}]`));
    }
    if (hasExtension) {
      const profile = readU16(c, 'extension.profile');
      const words = readU16(c, 'extension.length');
      const at = c.take(words * 4, 'extension.data');
      packet.extension = { profile, data: c.bytes.subarray(at, at + words * 4) };
    }
    let end = c.end;
    if (hasPadding) {
      if (c.pos >= end) c.invalid('padding', 'bad_value', 'P bit set but no octet left to count the padding');
      const count = c.bytes[end - 1];
      // A count of zero cannot include its own octet; one larger than the payload is junk.
      if (count === 0 || count > end - c.pos) c.invalid('padding', 'length_mismatch', `${count} padding octets, ${end - c.pos} after the header`);
      packet.padding = count;
      end -= count;
    }
    packet.payload = c.bytes.subarray(c.pos, end);
    c.pos = c.end;
    return packet;
  },
};

/** One packet into a fresh datagram. */
export function encodeRtp(packet: RtpPacket): Uint8Array {
  return encode(RtpPacketCodec, packet);
}

/** A whole datagram as one packet; throws NeedMoreBytes (truncated) or InvalidEncoding. */
export function decodeRtp(datagram: Uint8Array): RtpPacket {
  const c = new Cursor(datagram);
  c.path.push('rtp');
  const packet = RtpPacketCodec.decode(c);
  c.path.pop();
  return packet;
}
