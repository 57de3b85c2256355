// Writes classic pcap (draft-ietf-opsawg-pcap) files of synthetic Ethernet/IPv4
// traffic with valid checksums, for feeding RELOAD (RFC 6940) messages to Wireshark.
import { parseIpv4 } from '../codec/ip-address-port.ts';

export interface Endpoint { ip: string; port: number }

/** TCP header flag bits (RFC 9293 §3.1). */
export const TcpFlags = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

export interface TcpSegmentOptions {
  from: Endpoint;
  to: Endpoint;
  seq: number;
  ack: number;
  flags: number;
  payload?: Uint8Array;
}

export interface TcpConversationOptions {
  client: Endpoint;
  server: Endpoint;
  /** Seconds since the epoch for the SYN; later packets follow 1 ms apart. */
  startTime?: number;
  clientIsn?: number;
  serverIsn?: number;
}

export interface TcpConversation {
  /** Sends payload as PSH|ACK segments of at most 1460 bytes (Ethernet MSS). */
  send(fromClient: boolean, payload: Uint8Array): void;
  /** FIN/ACK from client, FIN/ACK from server, final ACK from client. */
  close(): void;
}

const DEFAULT_START = 1700000000;
const MSS = 1460; // 1500-byte Ethernet MTU minus 20-byte IPv4 and 20-byte TCP headers
const SNAPLEN = 262144;
const MACS = [
  Uint8Array.of(0x02, 0, 0, 0, 0, 0x01),
  Uint8Array.of(0x02, 0, 0, 0, 0, 0x02),
];
const EMPTY = new Uint8Array(0);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new Error(`invalid port: ${port}`);
  return port;
}

/** Adds b to a running 16-bit ones' complement sum (RFC 1071); odd length pads a zero byte. */
function onesSum(b: Uint8Array, sum = 0): number {
  for (let i = 0; i < b.length; i += 2) sum += (b[i] << 8) | (i + 1 < b.length ? b[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

const finish = (sum: number): number => ~sum & 0xffff;

/** TCP/UDP checksum over the IPv4 pseudo-header (RFC 9293 §3.1, RFC 768) and the segment. */
function l4Checksum(src: Uint8Array, dst: Uint8Array, proto: number, segment: Uint8Array): number {
  const pseudo = new Uint8Array(12);
  const v = new DataView(pseudo.buffer);
  pseudo.set(src, 0);
  pseudo.set(dst, 4);
  v.setUint8(9, proto);
  v.setUint16(10, segment.length);
  return finish(onesSum(segment, onesSum(pseudo)));
}

function ipv4Header(src: Uint8Array, dst: Uint8Array, proto: number, l4Length: number, id: number): Uint8Array {
  if (l4Length > 0xffff - 20) throw new Error(`IPv4 payload of ${l4Length} bytes is too large`);
  const h = new Uint8Array(20);
  const v = new DataView(h.buffer);
  v.setUint8(0, 0x45); // version 4, IHL 5 words
  v.setUint16(2, 20 + l4Length);
  v.setUint16(4, id);
  v.setUint16(6, 0x4000); // DF: segments are already sized to the MTU
  v.setUint8(8, 64); // TTL
  v.setUint8(9, proto);
  h.set(src, 12);
  h.set(dst, 16);
  v.setUint16(10, finish(onesSum(h))); // RFC 791 header checksum
  return h;
}

function ipv4Packet(src: Uint8Array, dst: Uint8Array, proto: number, l4: Uint8Array, id: number): Uint8Array {
  return concat([ipv4Header(src, dst, proto, l4.length, id), l4]);
}

function tcpSegmentBytes(o: TcpSegmentOptions, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const payload = o.payload ?? EMPTY;
  const seg = new Uint8Array(20 + payload.length);
  const v = new DataView(seg.buffer);
  v.setUint16(0, checkPort(o.from.port));
  v.setUint16(2, checkPort(o.to.port));
  v.setUint32(4, o.seq >>> 0);
  v.setUint32(8, o.ack >>> 0);
  v.setUint8(12, 5 << 4); // data offset: 5 words, no options
  v.setUint8(13, o.flags & 0xff);
  v.setUint16(14, 0xffff); // window
  seg.set(payload, 20);
  v.setUint16(16, l4Checksum(src, dst, 6, seg));
  return seg;
}

function udpDatagramBytes(from: Endpoint, to: Endpoint, payload: Uint8Array, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const seg = new Uint8Array(8 + payload.length);
  const v = new DataView(seg.buffer);
  v.setUint16(0, checkPort(from.port));
  v.setUint16(2, checkPort(to.port));
  v.setUint16(4, seg.length);
  seg.set(payload, 8);
  // RFC 768: a computed zero is sent as all ones, since zero means "no checksum".
  v.setUint16(6, l4Checksum(src, dst, 17, seg) || 0xffff);
  return seg;
}

export class PcapWriter {
  private readonly records: Uint8Array[] = [];
  private readonly macByIp = new Map<string, Uint8Array>();
  /** Next timestamp in whole microseconds, so 1 ms steps never drift. */
  private micros: number;
  private ipId = 0;

  constructor(startTime = DEFAULT_START) {
    this.micros = Math.round(startTime * 1e6);
  }

  /** Emits one TCP segment as given; tcpConversation builds on this. */
  tcpSegment(o: TcpSegmentOptions): void {
    const src = parseIpv4(o.from.ip);
    const dst = parseIpv4(o.to.ip);
    this.emit(o.from.ip, o.to.ip, ipv4Packet(src, dst, 6, tcpSegmentBytes(o, src, dst), this.nextIpId()));
  }

  /** Emits one UDP datagram with its checksum. */
  udp(from: Endpoint, to: Endpoint, payload: Uint8Array): void {
    const src = parseIpv4(from.ip);
    const dst = parseIpv4(to.ip);
    this.emit(from.ip, to.ip, ipv4Packet(src, dst, 17, udpDatagramBytes(from, to, payload, src, dst), this.nextIpId()));
  }

  /** Emits the three-way handshake now; the returned object sends data and closes. */
  tcpConversation(opts: TcpConversationOptions): TcpConversation {
    if (opts.startTime !== undefined) this.micros = Math.round(opts.startTime * 1e6);
    const { client, server } = opts;
    const next = { client: (opts.clientIsn ?? 0x1000_0000) >>> 0, server: (opts.serverIsn ?? 0x2000_0000) >>> 0 };
    let closed = false;
    const segment = (fromClient: boolean, flags: number, payload: Uint8Array = EMPTY): void => {
      const [from, to] = fromClient ? [client, server] : [server, client];
      const me = fromClient ? 'client' : 'server';
      const peer = fromClient ? 'server' : 'client';
      // The ack field must be zero when ACK is clear (RFC 9293 §3.1).
      const ack = flags & TcpFlags.ACK ? next[peer] : 0;
      this.tcpSegment({ from, to, seq: next[me], ack, flags, payload });
      const used = payload.length + (flags & (TcpFlags.SYN | TcpFlags.FIN) ? 1 : 0); // SYN and FIN take a seq number
      next[me] = (next[me] + used) >>> 0;
    };
    segment(true, TcpFlags.SYN);
    segment(false, TcpFlags.SYN | TcpFlags.ACK);
    segment(true, TcpFlags.ACK);
    return {
      send(fromClient: boolean, payload: Uint8Array): void {
        if (closed) throw new Error('TCP conversation already closed');
        for (let at = 0; at < payload.length; at += MSS) {
          segment(fromClient, TcpFlags.PSH | TcpFlags.ACK, payload.subarray(at, at + MSS));
        }
      },
      close(): void {
        if (closed) return;
        closed = true;
        segment(true, TcpFlags.FIN | TcpFlags.ACK);
        segment(false, TcpFlags.FIN | TcpFlags.ACK);
        segment(true, TcpFlags.ACK);
      },
    };
  }

  /** The whole capture: file header followed by every record so far. */
  toBytes(): Uint8Array {
    const header = new Uint8Array(24);
    const v = new DataView(header.buffer);
    v.setUint32(0, 0xa1b2c3d4, true); // microsecond-resolution magic
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setUint32(16, SNAPLEN, true);
    v.setUint32(20, 1, true); // LINKTYPE_ETHERNET
    return concat([header, ...this.records]);
  }

  private nextIpId(): number {
    this.ipId = (this.ipId + 1) & 0xffff;
    return this.ipId;
  }

  /** First address seen gets 02:00:00:00:00:01, every other one ...:02. */
  private mac(ip: string): Uint8Array {
    let mac = this.macByIp.get(ip);
    if (!mac) {
      mac = MACS[this.macByIp.size === 0 ? 0 : 1];
      this.macByIp.set(ip, mac);
    }
    return mac;
  }

  private emit(fromIp: string, toIp: string, packet: Uint8Array): void {
    const eth = new Uint8Array(14);
    eth.set(this.mac(fromIp), 6); // looked up first, so a new sender gets ...:01
    eth.set(this.mac(toIp), 0);
    eth[12] = 0x08; // EtherType IPv4
    const frame = concat([eth, packet]);
    const rec = new Uint8Array(16);
    const v = new DataView(rec.buffer);
    v.setUint32(0, Math.floor(this.micros / 1e6), true);
    v.setUint32(4, this.micros % 1e6, true);
    v.setUint32(8, frame.length, true);
    v.setUint32(12, frame.length, true);
    this.records.push(rec, frame);
    this.micros += 1000;
  }
}
