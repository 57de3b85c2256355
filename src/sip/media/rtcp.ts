// RTCP compound packets (RFC 3550 §6.1): SR (§6.4.1), RR (§6.4.2), SDES (§6.5) and BYE (§6.6);
// any other packet type is kept opaque so a compound packet with APP, XR or feedback still
// decodes. Every packet's length field must land exactly on the next packet (Appendix A.2).
import { Cursor, encode, readU16, readU32, readU8, writeBytes, writeU16, writeU32, writeU8, type Codec } from '../../codec/cursor.ts';

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;
/** RFC 3550 §6.5.1: the canonical end-point identifier SDES item. */
export const SDES_CNAME = 1;

const REPORT_BLOCK_BYTES = 24;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** §6.4.1: one reception report block, about one source heard from. */
export interface ReportBlock {
  ssrc: number;
  /** Lost fraction since the previous report, as a fixed point number with the binary point at the left (0..255). */
  fractionLost: number;
  /** Cumulative number of packets lost: a signed 24-bit number (duplicates can make it negative). */
  cumulativeLost: number;
  /** Extended highest sequence number received: cycles in the high 16 bits. */
  highestSequence: number;
  /** Interarrival jitter, in timestamp units. */
  jitter: number;
  /** LSR: the middle 32 bits of the NTP timestamp of the last SR received, 0 if none. */
  lastSr: number;
  /** DLSR: delay since that SR, in units of 1/65536 s. */
  delaySinceLastSr: number;
}

export interface SenderReport {
  type: 'sr';
  ssrc: number;
  /** NTP timestamp, seconds since 1900 (§4). */
  ntpSeconds: number;
  /** NTP timestamp, fraction of a second in units of 2^-32 s. */
  ntpFraction: number;
  /** "the same time as the NTP timestamp (above), but in the same units ... as the RTP timestamps". */
  rtpTimestamp: number;
  packetCount: number;
  /** Payload octets sent, headers and padding excluded. */
  octetCount: number;
  reports: ReportBlock[];
}

export interface ReceiverReport {
  type: 'rr';
  ssrc: number;
  reports: ReportBlock[];
}

export interface SdesItem {
  /** 1 CNAME, 2 NAME, … 8 PRIV (§6.5). */
  type: number;
  text: string;
}

export interface SourceDescription {
  type: 'sdes';
  chunks: { ssrc: number; items: SdesItem[] }[];
}

export interface Goodbye {
  type: 'bye';
  sources: number[];
  reason?: string;
}

/** A packet type this module does not interpret (APP, XR, RTPFB, PSFB, …), kept whole. */
export interface OtherRtcpPacket {
  type: 'other';
  packetType: number;
  /** The 5-bit count/subtype field. */
  count: number;
  body: Uint8Array;
}

export type RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Goodbye | OtherRtcpPacket;

function utf8Length(s: string): number {
  return textEncoder.encode(s).length;
}

function reportBlocksLength(reports: ReportBlock[]): number {
  return reports.length * REPORT_BLOCK_BYTES;
}

function sdesChunkLength(chunk: { items: SdesItem[] }): number {
  let n = 4;
  for (const item of chunk.items) n += 2 + utf8Length(item.text);
  // §6.5: the item list ends with at least one null octet, then pads to 32 bits.
  return (n + 1 + 3) & ~3;
}

function bodyLength(p: RtcpPacket): number {
  switch (p.type) {
    case 'sr': return 24 + reportBlocksLength(p.reports);
    case 'rr': return 4 + reportBlocksLength(p.reports);
    case 'sdes': return p.chunks.reduce((n, ch) => n + sdesChunkLength(ch), 0);
    case 'bye': return 4 * p.sources.length + (p.reason === undefined ? 0 : (1 + utf8Length(p.reason) + 3) & ~3);
    case 'other': return p.body.length;
  }
}

function writeReportBlock(c: Cursor, r: ReportBlock): void {
  writeU32(c, r.ssrc);
  writeU8(c, r.fractionLost);
  // §6.4.1: cumulative lost is signed 24 bits; clamp rather than wrap (Appendix A.3 does the same).
  const lost = Math.max(-0x800000, Math.min(0x7fffff, r.cumulativeLost)) & 0xffffff;
  c.bytes[c.pos++] = lost >>> 16;
  c.bytes[c.pos++] = (lost >>> 8) & 0xff;
  c.bytes[c.pos++] = lost & 0xff;
  writeU32(c, r.highestSequence);
  writeU32(c, r.jitter);
  writeU32(c, r.lastSr);
  writeU32(c, r.delaySinceLastSr);
}

function readReportBlock(c: Cursor, i: number): ReportBlock {
  const ssrc = readU32(c, `report[${i}].ssrc`);
  const fractionLost = readU8(c, `report[${i}].fraction_lost`);
  const at = c.take(3, `report[${i}].cumulative_lost`);
  const raw = (c.bytes[at] << 16) | (c.bytes[at + 1] << 8) | c.bytes[at + 2];
  const cumulativeLost = raw & 0x800000 ? raw - 0x1000000 : raw;
  return {
    ssrc, fractionLost, cumulativeLost,
    highestSequence: readU32(c, `report[${i}].highest_sequence`),
    jitter: readU32(c, `report[${i}].jitter`),
    lastSr: readU32(c, `report[${i}].lsr`),
    delaySinceLastSr: readU32(c, `report[${i}].dlsr`),
  };
}

function writeHeader(c: Cursor, count: number, packetType: number, bodyBytes: number): void {
  if (count > 31) throw new RangeError(`rtcp: count ${count} needs more than 5 bits`);
  if (bodyBytes % 4 !== 0) throw new RangeError('rtcp: packet body must be a multiple of 32 bits');
  writeU8(c, 0x80 | count);
  writeU8(c, packetType);
  // §6.4.1: "The length of this RTCP packet in 32-bit words minus one, including the header".
  writeU16(c, bodyBytes / 4);
}

function writeText(c: Cursor, s: string, field: string): void {
  const b = textEncoder.encode(s);
  if (b.length > 255) throw new RangeError(`rtcp: ${field} is ${b.length} octets, at most 255`);
  writeU8(c, b.length);
  writeBytes(c, b);
}

function encodePacket(p: RtcpPacket, c: Cursor): void {
  const body = bodyLength(p);
  switch (p.type) {
    case 'sr':
    case 'rr': {
      writeHeader(c, p.reports.length, p.type === 'sr' ? RTCP_SR : RTCP_RR, body);
      writeU32(c, p.ssrc);
      if (p.type === 'sr') {
        writeU32(c, p.ntpSeconds);
        writeU32(c, p.ntpFraction);
        writeU32(c, p.rtpTimestamp);
        writeU32(c, p.packetCount);
        writeU32(c, p.octetCount);
      }
      for (const r of p.reports) writeReportBlock(c, r);
      return;
    }
    case 'sdes': {
      writeHeader(c, p.chunks.length, RTCP_SDES, body);
      for (const chunk of p.chunks) {
        const start = c.pos;
        writeU32(c, chunk.ssrc);
        for (const item of chunk.items) {
          if (item.type < 1 || item.type > 255) throw new RangeError(`rtcp: SDES item type ${item.type}`);
          writeU8(c, item.type);
          writeText(c, item.text, 'SDES item');
        }
        const end = start + sdesChunkLength(chunk);
        c.bytes.fill(0, c.pos, end);
        c.pos = end;
      }
      return;
    }
    case 'bye': {
      writeHeader(c, p.sources.length, RTCP_BYE, body);
      for (const s of p.sources) writeU32(c, s);
      if (p.reason !== undefined) {
        const start = c.pos;
        writeText(c, p.reason, 'BYE reason');
        const end = start + ((1 + utf8Length(p.reason) + 3) & ~3);
        c.bytes.fill(0, c.pos, end);
        c.pos = end;
      }
      return;
    }
    case 'other':
      writeHeader(c, p.count, p.packetType, body);
      writeBytes(c, p.body);
      return;
  }
}

function readText(c: Cursor, field: string): string {
  const n = readU8(c, `${field}.length`);
  const at = c.take(n, field);
  return textDecoder.decode(c.bytes.subarray(at, at + n));
}

function decodeSdes(c: Cursor, count: number): SourceDescription {
  const chunks: SourceDescription['chunks'] = [];
  for (let i = 0; i < count; i++) {
    const start = c.pos;
    const ssrc = readU32(c, `chunk[${i}].ssrc`);
    const items: SdesItem[] = [];
    for (;;) {
      const type = readU8(c, `chunk[${i}].item_type`);
      if (type === 0) break;
      items.push({ type, text: readText(c, `chunk[${i}].item[${items.length}]`) });
    }
    // Skip the rest of the null padding up to the 32-bit boundary of the chunk.
    const used = c.pos - start;
    c.take(((used + 3) & ~3) - used, `chunk[${i}].padding`);
    chunks.push({ ssrc, items });
  }
  return { type: 'sdes', chunks };
}

function decodeBody(c: Cursor, packetType: number, count: number): RtcpPacket {
  switch (packetType) {
    case RTCP_SR:
    case RTCP_RR: {
      const ssrc = readU32(c, 'ssrc');
      let sender: Omit<SenderReport, 'type' | 'ssrc' | 'reports'> | undefined;
      if (packetType === RTCP_SR) {
        sender = {
          ntpSeconds: readU32(c, 'ntp_seconds'), ntpFraction: readU32(c, 'ntp_fraction'), rtpTimestamp: readU32(c, 'rtp_timestamp'),
          packetCount: readU32(c, 'packet_count'), octetCount: readU32(c, 'octet_count'),
        };
      }
      const reports: ReportBlock[] = [];
      for (let i = 0; i < count; i++) reports.push(readReportBlock(c, i));
      // §6.4.1: a profile-specific extension may follow the report blocks; it is skipped.
      c.pos = c.end;
      return sender ? { type: 'sr', ssrc, ...sender, reports } : { type: 'rr', ssrc, reports };
    }
    case RTCP_SDES: {
      const sdes = decodeSdes(c, count);
      if (c.pos !== c.end) c.invalid('sdes', 'length_mismatch', `${c.end - c.pos} octets after the last chunk`);
      return sdes;
    }
    case RTCP_BYE: {
      const sources: number[] = [];
      for (let i = 0; i < count; i++) sources.push(readU32(c, `source[${i}]`));
      const bye: Goodbye = { type: 'bye', sources };
      // §6.6: "Optionally, the BYE packet MAY include an 8-bit octet count followed by that
      // many octets of text"; the rest up to the length is null padding.
      if (c.pos < c.end) bye.reason = readText(c, 'reason');
      c.pos = c.end;
      return bye;
    }
    default: {
      const at = c.take(c.end - c.pos, 'body');
      return { type: 'other', packetType, count, body: c.bytes.subarray(at, c.end) };
    }
  }
}

/** A compound RTCP packet: one datagram, one or more RTCP packets back to back. */
export const RtcpCompoundCodec: Codec<RtcpPacket[]> = {
  encodingLength: (packets) => packets.reduce((n, p) => n + 4 + bodyLength(p), 0),
  encode(packets, c) {
    for (const p of packets) encodePacket(p, c);
  },
  decode(c) {
    const packets: RtcpPacket[] = [];
    if (c.pos === c.end) c.invalid('rtcp', 'bad_value', 'empty datagram');
    while (c.pos < c.end) {
      c.path.push(`rtcp[${packets.length}]`);
      const first = readU8(c, 'version');
      if (first >> 6 !== 2) c.invalid('version', 'bad_value', `version ${first >> 6}, expected 2`);
      const packetType = readU8(c, 'packet_type');
      const words = readU16(c, 'length');
      const bodyStart = c.pos;
      let bodyEnd = bodyStart + words * 4;
      if (bodyEnd > c.end) c.invalid('length', 'exceeds_parent', `${words * 4} octets announced, ${c.end - bodyStart} in the datagram`);
      if (first & 0x20) {
        // Appendix A.2: padding is only allowed on the last packet of a compound packet.
        if (bodyEnd !== c.end) c.invalid('padding', 'bad_value', 'padding on a packet that is not the last');
        const count = words === 0 ? 0 : c.bytes[bodyEnd - 1];
        if (count === 0 || count > words * 4) c.invalid('padding', 'length_mismatch', `${count} padding octets in a ${words * 4}-octet body`);
        bodyEnd -= count;
      }
      const outer = c.end;
      c.end = bodyEnd;
      c.nested++;
      packets.push(decodeBody(c, packetType, first & 0x1f));
      c.nested--;
      c.end = outer;
      c.pos = first & 0x20 ? outer : bodyEnd;
      c.path.pop();
    }
    return packets;
  },
};

export function encodeRtcp(packets: RtcpPacket[]): Uint8Array {
  return encode(RtcpCompoundCodec, packets);
}

/** A whole datagram as a compound packet; throws NeedMoreBytes or InvalidEncoding. */
export function decodeRtcp(datagram: Uint8Array): RtcpPacket[] {
  return RtcpCompoundCodec.decode(new Cursor(datagram));
}

/** Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (RFC 3550 §4). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

/** Wall-clock milliseconds since 1970 as an NTP timestamp (RFC 3550 §4). */
export function ntpFromUnixMs(ms: number): { seconds: number; fraction: number } {
  const whole = Math.floor(ms / 1000);
  const fraction = Math.floor(((ms - whole * 1000) / 1000) * 2 ** 32);
  return { seconds: (whole + NTP_UNIX_OFFSET_S) >>> 0, fraction: Math.min(fraction, 0xffffffff) >>> 0 };
}

/** §6.4.1 LSR: "the middle 32 bits out of 64 in the NTP timestamp". */
export function ntpMiddle32(seconds: number, fraction: number): number {
  return (((seconds & 0xffff) << 16) | (fraction >>> 16)) >>> 0;
}
