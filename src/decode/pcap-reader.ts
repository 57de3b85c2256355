// Reads classic pcap (draft-ietf-opsawg-pcap) and pcapng (draft-ietf-opsawg-pcapng)
// captures down to TCP/UDP payloads, for inspecting RELOAD (RFC 6940) traffic.
// Malformed container framing throws CaptureError; a malformed frame inside sound
// framing is skipped, since snaplen-cut or non-IP frames are normal in real captures.

import { formatIpv4, formatIpv6 } from '../codec/ip-address-port.ts';

export class CaptureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaptureError';
  }
}

export interface CapturedSegment {
  time: number; // seconds since the epoch; 0 for pcapng Simple Packet Blocks, which carry none
  proto: 'tcp' | 'udp';
  src: string; // "ip:port" or "[ipv6]:port"
  dst: string;
  seq?: number; // TCP sequence number of the first payload byte
  flags?: number; // TCP flags, NS bit as 0x100
  payload: Uint8Array; // a view into the capture bytes; never empty for TCP
}

const fail = (message: string): never => {
  throw new CaptureError(message);
};

function need(b: Uint8Array, off: number, len: number, what: string): void {
  if (!(off >= 0 && len >= 0 && off + len <= b.length)) {
    fail(`${what}: need ${len} bytes at offset ${off}, only ${Math.max(0, b.length - off)} available`);
  }
}

function u8(b: Uint8Array, off: number, what = 'packet'): number {
  need(b, off, 1, what);
  return b[off];
}

function u16(b: Uint8Array, off: number, le = false, what = 'packet'): number {
  need(b, off, 2, what);
  return le ? b[off] | (b[off + 1] << 8) : (b[off] << 8) | b[off + 1];
}

function u32(b: Uint8Array, off: number, le = false, what = 'packet'): number {
  need(b, off, 4, what);
  const v = le
    ? b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)
    : (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3];
  return v >>> 0;
}

function slice(b: Uint8Array, off: number, len: number, what: string): Uint8Array {
  need(b, off, len, what);
  return b.subarray(off, off + len);
}

function tcp(l4: Uint8Array, src: string, dst: string, time: number): CapturedSegment | null {
  const offsetByte = u8(l4, 12);
  const dataOffset = (offsetByte >> 4) * 4; // RFC 9293 §3.1: header length in 32-bit words
  if (dataOffset < 20 || dataOffset > l4.length) return null;
  const payload = l4.subarray(dataOffset);
  if (payload.length === 0) return null;
  const flags = ((offsetByte & 1) << 8) | u8(l4, 13);
  return { time, proto: 'tcp', src: `${src}:${u16(l4, 0)}`, dst: `${dst}:${u16(l4, 2)}`, seq: u32(l4, 4), flags, payload };
}

function udp(l4: Uint8Array, src: string, dst: string, time: number): CapturedSegment | null {
  need(l4, 0, 8, 'UDP header');
  const len = u16(l4, 4);
  if (len !== 0 && len < 8) return null;
  // Length 0 appears with IPv6 jumbograms (RFC 2675 §4); trust the captured bytes then.
  const payload = l4.subarray(8, len === 0 ? l4.length : Math.min(len, l4.length));
  return { time, proto: 'udp', src: `${src}:${u16(l4, 0)}`, dst: `${dst}:${u16(l4, 2)}`, payload };
}

function transport(proto: number, l4: Uint8Array, src: string, dst: string, time: number): CapturedSegment | null {
  if (proto === 6) return tcp(l4, src, dst, time);
  if (proto === 17) return udp(l4, src, dst, time);
  return null;
}

function ipv4(d: Uint8Array, time: number): CapturedSegment | null {
  const ihl = (u8(d, 0) & 0x0f) * 4;
  const total = u16(d, 2);
  if (ihl < 20 || (u16(d, 6) & 0x1fff) !== 0) return null; // non-first fragments carry no L4 header (RFC 791 §3.1)
  // Total length 0 is written by segmentation offload on the capturing host; use what was captured.
  const end = total === 0 ? d.length : Math.min(total, d.length);
  if (end < ihl) return null; // so the 20-byte fixed header is known to be present
  return transport(d[9], d.subarray(ihl, end), formatIpv4(d.subarray(12)), formatIpv4(d.subarray(16)), time);
}

function ipv6(d: Uint8Array, time: number): CapturedSegment | null {
  need(d, 0, 40, 'IPv6 header');
  const payloadLen = u16(d, 4);
  const end = payloadLen === 0 ? d.length : Math.min(40 + payloadLen, d.length);
  let next = d[6];
  let off = 40;
  // Hop-by-hop (0), routing (43), destination options (60): length in 8-octet units
  // beyond the first 8 (RFC 8200 §4.3-4.6); AH (51) in 4-octet units minus 2 (RFC 4302 §2.2).
  while (next === 0 || next === 43 || next === 60 || next === 51) {
    const len = u8(d, off + 1, 'IPv6 extension header');
    const size = next === 51 ? (len + 2) * 4 : (len + 1) * 8;
    next = d[off];
    off += size;
  }
  if (next === 44 || off > end) return null; // fragments (RFC 8200 §4.5) are not reassembled
  const src = `[${formatIpv6(d.subarray(8, 24))}]`;
  const dst = `[${formatIpv6(d.subarray(24, 40))}]`;
  return transport(next, d.subarray(off, end), src, dst, time);
}

function ip(d: Uint8Array, time: number): CapturedSegment | null {
  const version = u8(d, 0) >> 4;
  return version === 4 ? ipv4(d, time) : version === 6 ? ipv6(d, time) : null;
}

const isIpEthertype = (t: number): boolean => t === 0x0800 || t === 0x86dd;

function ethernet(d: Uint8Array): Uint8Array | null {
  let off = 12;
  let type = u16(d, off, false, 'Ethernet header');
  // IEEE 802.1Q / 802.1ad tags: 2-byte TPID already read plus 2-byte TCI, then the next type.
  while (type === 0x8100 || type === 0x88a8 || type === 0x9100) {
    off += 4;
    type = u16(d, off, false, 'VLAN tag');
  }
  return isIpEthertype(type) ? d.subarray(off + 2) : null;
}

function nullLoopback(d: Uint8Array): Uint8Array | null {
  // 4-byte AF_ value in the capturing host's byte order: AF_INET 2, AF_INET6 24/28/30.
  const family = u32(d, 0, true, 'loopback header');
  const known = [2, 24, 28, 30];
  return known.includes(family) || known.includes(u32(d, 0, false)) ? d.subarray(4) : null;
}

function linuxSll(d: Uint8Array): Uint8Array | null {
  return isIpEthertype(u16(d, 14, false, 'SLL header')) ? d.subarray(16) : null;
}

function linuxSll2(d: Uint8Array): Uint8Array | null {
  need(d, 0, 20, 'SLL2 header');
  return isIpEthertype(u16(d, 0)) ? d.subarray(20) : null;
}

/** Strips the link header; linkType is a LINKTYPE_ value of the tcpdump.org registry. */
function networkLayer(linkType: number, d: Uint8Array): Uint8Array | null {
  switch (linkType) {
    case 0: return nullLoopback(d);
    case 1: return ethernet(d);
    case 101: case 228: case 229: return d;
    case 113: return linuxSll(d);
    case 276: return linuxSll2(d);
    default: return null;
  }
}

function decodeFrame(linkType: number, frame: Uint8Array, time: number): CapturedSegment | null {
  try {
    const packet = networkLayer(linkType, frame);
    return packet ? ip(packet, time) : null;
  } catch (e) {
    if (e instanceof CaptureError) return null; // malformed frame: skip it, keep the capture
    throw e;
  }
}

const PCAP_MICRO = 0xa1b2c3d4;
const PCAP_NANO = 0xa1b23c4d;

function readPcap(b: Uint8Array, le: boolean, unitsPerSec: number): CapturedSegment[] {
  if (b.length < 24) fail(`pcap: file header needs 24 bytes, only ${b.length} present`);
  const major = u16(b, 4, le);
  if (major !== 2) fail(`pcap: unsupported version ${major}.${u16(b, 6, le)}`);
  const linkType = u32(b, 20, le) & 0xffff; // upper bits hold FCS length flags
  const out: CapturedSegment[] = [];
  for (let off = 24; off < b.length; ) {
    if (b.length - off < 16) fail(`pcap: truncated record header at offset ${off}`);
    const caplen = u32(b, off + 8, le);
    if (caplen > b.length - off - 16) {
      fail(`pcap: record at offset ${off} claims ${caplen} bytes, only ${b.length - off - 16} remain`);
    }
    const time = u32(b, off, le) + u32(b, off + 4, le) / unitsPerSec;
    const seg = decodeFrame(linkType, b.subarray(off + 16, off + 16 + caplen), time);
    if (seg) out.push(seg);
    off += 16 + caplen;
  }
  return out;
}

const SHB = 0x0a0d0d0a; // a byte-order palindrome, so it reads the same before the order is known
const IDB = 1;
const SPB = 3;
const EPB = 6;

interface Iface { linkType: number; unitsPerSec: number }

function byteOrder(b: Uint8Array, off: number): boolean {
  const magic = u32(b, off + 8, true);
  if (magic === 0x1a2b3c4d) return true;
  if (magic === 0x4d3c2b1a) return false;
  return fail(`pcapng: bad byte-order magic in section header at offset ${off}`);
}

/** Checks a block's framing against the bytes that remain; returns its total length. */
function blockLength(b: Uint8Array, off: number, le: boolean): number {
  const len = u32(b, off + 4, le);
  if (len < 12 || len % 4 !== 0) fail(`pcapng: invalid block length ${len} at offset ${off}`);
  if (len > b.length - off) fail(`pcapng: block at offset ${off} claims ${len} bytes, only ${b.length - off} remain`);
  if (u32(b, off + len - 4, le) !== len) fail(`pcapng: trailing length mismatch in block at offset ${off}`);
  return len;
}

function sectionHeader(body: Uint8Array, le: boolean, at: string): void {
  if (body.length < 16) fail(`pcapng: Section Header Block ${at} too short`);
  const major = u16(body, 4, le);
  if (major !== 1) fail(`pcapng: unsupported major version ${major} ${at}`);
}

/** Units per second from the if_tsresol option (code 9); default microseconds. */
function tsresol(body: Uint8Array, start: number, le: boolean): number {
  let units = 1e6;
  for (let off = start; off + 4 <= body.length; ) {
    const code = u16(body, off, le);
    const len = u16(body, off + 2, le);
    if (code === 0) break; // opt_endofopt
    const value = slice(body, off + 4, len, 'pcapng option');
    // MSB clear: negative power of 10; MSB set: negative power of 2.
    if (code === 9 && len >= 1) units = value[0] & 0x80 ? 2 ** (value[0] & 0x7f) : 10 ** value[0];
    off += 4 + ((len + 3) & ~3);
  }
  return units;
}

function interfaceDescription(body: Uint8Array, le: boolean, at: string): Iface {
  if (body.length < 8) fail(`pcapng: Interface Description Block ${at} too short`);
  return { linkType: u16(body, 0, le), unitsPerSec: tsresol(body, 8, le) };
}

function iface(ifaces: Iface[], id: number, at: string): Iface {
  if (id >= ifaces.length) fail(`pcapng: packet ${at} uses undeclared interface ${id}`);
  return ifaces[id];
}

function enhancedPacket(body: Uint8Array, le: boolean, ifaces: Iface[], at: string): CapturedSegment | null {
  if (body.length < 20) fail(`pcapng: Enhanced Packet Block ${at} too short`);
  const { linkType, unitsPerSec } = iface(ifaces, u32(body, 0, le), at);
  const data = slice(body, 20, u32(body, 12, le), `pcapng: packet data ${at}`);
  const time = (u32(body, 4, le) * 2 ** 32 + u32(body, 8, le)) / unitsPerSec;
  return decodeFrame(linkType, data, time);
}

function simplePacket(body: Uint8Array, le: boolean, ifaces: Iface[], at: string): CapturedSegment | null {
  if (body.length < 4) fail(`pcapng: Simple Packet Block ${at} too short`);
  const caplen = Math.min(u32(body, 0, le), body.length - 4); // original length, less any snapping
  return decodeFrame(iface(ifaces, 0, at).linkType, body.subarray(4, 4 + caplen), 0); // SPBs carry no timestamp
}

function readPcapng(b: Uint8Array): CapturedSegment[] {
  const out: CapturedSegment[] = [];
  let le = true;
  let ifaces: Iface[] = [];
  for (let off = 0; off < b.length; ) {
    if (b.length - off < 12) fail(`pcapng: truncated block header at offset ${off}`);
    const type = u32(b, off, le);
    if (type === SHB) le = byteOrder(b, off);
    else if (off === 0) fail('pcapng: first block is not a Section Header Block');
    const len = blockLength(b, off, le);
    const body = b.subarray(off + 8, off + len - 4);
    const at = `at offset ${off}`;
    let seg: CapturedSegment | null = null;
    if (type === SHB) {
      sectionHeader(body, le, at);
      ifaces = []; // interface ids are scoped to their section
    } else if (type === IDB) ifaces.push(interfaceDescription(body, le, at));
    else if (type === EPB) seg = enhancedPacket(body, le, ifaces, at);
    else if (type === SPB) seg = simplePacket(body, le, ifaces, at);
    if (seg) out.push(seg);
    off += len;
  }
  return out;
}

export function readCapture(bytes: Uint8Array): CapturedSegment[] {
  if (bytes.length < 4) fail(`capture too short (${bytes.length} bytes) to hold a file magic`);
  if (u32(bytes, 0) === SHB) return readPcapng(bytes);
  for (const le of [true, false]) {
    const magic = u32(bytes, 0, le);
    if (magic === PCAP_MICRO) return readPcap(bytes, le, 1e6);
    if (magic === PCAP_NANO) return readPcap(bytes, le, 1e9);
  }
  return fail('not a pcap or pcapng capture (unknown file magic)');
}

/**
 * Reassembles each TCP direction, keyed `${src}>${dst}`, in sequence order.
 * Retransmitted and overlapping bytes are kept once; output stops at the first gap.
 */
export function tcpStreams(segs: CapturedSegment[]): Map<string, Uint8Array> {
  const byDirection = new Map<string, CapturedSegment[]>();
  for (const s of segs) {
    if (s.proto !== 'tcp' || s.seq === undefined || s.payload.length === 0) continue;
    const key = `${s.src}>${s.dst}`;
    if (!byDirection.has(key)) byDirection.set(key, []);
    byDirection.get(key)?.push(s);
  }
  const streams = new Map<string, Uint8Array>();
  for (const [key, list] of byDirection) streams.set(key, reassemble(list));
  return streams;
}

function reassemble(list: CapturedSegment[]): Uint8Array {
  const base = list[0].seq ?? 0;
  // Signed 32-bit distance from the first seen seq, so numbers that wrapped
  // past 2^32 (RFC 9293 §3.4) still sort after it.
  const items = list
    .map((s) => ({ rel: ((s.seq ?? 0) - base) | 0, data: s.payload }))
    .sort((a, b) => a.rel - b.rel);
  const parts: Uint8Array[] = [];
  let next = items[0].rel;
  let total = 0;
  for (const { rel, data } of items) {
    const end = rel + data.length;
    if (end <= next) continue; // retransmission of bytes already taken
    if (rel > next) break; // bytes missing from the capture
    const fresh = data.subarray(next - rel);
    parts.push(fresh);
    total += fresh.length;
    next = end;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
