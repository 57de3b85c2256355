import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaptureError, readCapture, tcpStreams } from '../src/decode/pcap-reader.ts';
import type { CapturedSegment } from '../src/decode/pcap-reader.ts';
import { PcapWriter, TcpFlags } from '../src/decode/pcap-writer.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Deterministic xorshift32 bytes, so failures reproduce. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function num(value: number, size: 2 | 4, le: boolean): Uint8Array {
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  if (size === 2) v.setUint16(0, value, le);
  else v.setUint32(0, value, le);
  return b;
}

// ---- pcapng building blocks (draft-ietf-opsawg-pcapng §4) ----

function block(type: number, body: Uint8Array, le: boolean): Uint8Array {
  const padded = concat(body, new Uint8Array((4 - (body.length % 4)) % 4));
  const len = padded.length + 12;
  return concat(num(type, 4, le), num(len, 4, le), padded, num(len, 4, le));
}

const shb = (le: boolean): Uint8Array =>
  block(0x0a0d0d0a, concat(num(0x1a2b3c4d, 4, le), num(1, 2, le), num(0, 2, le), new Uint8Array(8).fill(0xff)), le);

function idb(linkType: number, le: boolean, tsresol?: number): Uint8Array {
  const options = tsresol === undefined ? new Uint8Array(0)
    : concat(num(9, 2, le), num(1, 2, le), Uint8Array.of(tsresol, 0, 0, 0), new Uint8Array(4));
  return block(1, concat(num(linkType, 2, le), num(0, 2, le), num(0, 4, le), options), le);
}

function epb(iface: number, ts: bigint, data: Uint8Array, le: boolean): Uint8Array {
  const head = concat(num(iface, 4, le), num(Number(ts >> 32n), 4, le), num(Number(ts & 0xffffffffn), 4, le),
    num(data.length, 4, le), num(data.length, 4, le));
  return block(6, concat(head, data), le);
}

const spb = (data: Uint8Array, le: boolean): Uint8Array => block(3, concat(num(data.length, 4, le), data), le);

// ---- packets ----

const A = { ip: '10.0.0.1', port: 40000 };
const B = { ip: '10.0.0.2', port: 6084 };

/** The IPv4 packets of a writer capture, without pcap record or Ethernet headers. */
function ipv4Packets(w: PcapWriter): Uint8Array[] {
  const b = w.toBytes();
  const out: Uint8Array[] = [];
  for (let off = 24; off < b.length; ) {
    const len = new DataView(b.buffer, b.byteOffset + off + 8).getUint32(0, true);
    out.push(b.subarray(off + 16 + 14, off + 16 + len));
    off += 16 + len;
  }
  return out;
}

function ipv4Udp(payload: Uint8Array): Uint8Array {
  const w = new PcapWriter();
  w.udp(A, B, payload);
  return ipv4Packets(w)[0];
}

const V6_SRC = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1);
const V6_DST = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 2);

/** IPv6 packet carrying TCP behind hop-by-hop, AH (RFC 4302) and destination-options headers. */
function ipv6Tcp(seq: number, payload: Uint8Array, firstHeader = 0): Uint8Array {
  const hopByHop = concat(Uint8Array.of(51, 0), new Uint8Array(6));
  const auth = concat(Uint8Array.of(60, 4), new Uint8Array(22)); // 24 bytes: (4 + 2) 4-octet units
  const destOpts = concat(Uint8Array.of(6, 1), new Uint8Array(14));
  const tcp = concat(num(4000, 2, false), num(5000, 2, false), num(seq, 4, false), new Uint8Array(4),
    Uint8Array.of(0x50, TcpFlags.PSH | TcpFlags.ACK), new Uint8Array(6), payload);
  const rest = concat(hopByHop, auth, destOpts, tcp);
  const fixed = concat(Uint8Array.of(0x60, 0, 0, 0), num(rest.length, 2, false), Uint8Array.of(firstHeader, 64),
    V6_SRC, V6_DST);
  return concat(fixed, rest);
}

const streamOf = (segs: CapturedSegment[], key: string): Uint8Array | undefined => tcpStreams(segs).get(key);

// ---- tests ----

test('writer → reader: TCP conversation reassembles per direction', () => {
  const w = new PcapWriter();
  const c = w.tcpConversation({ client: A, server: B });
  const big = noise(5000, 7);
  const reply = noise(3001, 8);
  c.send(true, text('hello '));
  c.send(false, reply);
  c.send(true, big);
  c.close();
  const segs = readCapture(w.toBytes());
  assert.equal(segs.length, 1 + 3 + 4); // 5000 bytes need 4 segments of <= 1460
  assert.ok(segs.every((s) => s.proto === 'tcp' && s.payload.length <= 1460 && s.flags === (TcpFlags.PSH | TcpFlags.ACK)));
  assert.ok(Math.abs(segs[0].time - (1700000000 + 0.003)) < 1e-6, 'SYN, SYN-ACK, ACK come first, 1 ms apart');
  assert.deepEqual(streamOf(segs, '10.0.0.1:40000>10.0.0.2:6084'), concat(text('hello '), big));
  assert.deepEqual(streamOf(segs, '10.0.0.2:6084>10.0.0.1:40000'), reply);
  assert.throws(() => c.send(true, text('late')), /closed/);
});

test('reassembly: out-of-order, retransmitted and overlapping segments across seq wrap', () => {
  const data = text('abcdefghijklmnopqrstuvwxyz0123456789');
  const isn = 0xfffffff8; // wraps after 8 bytes
  const w = new PcapWriter();
  const piece = (from: number, to: number, dir = A): void =>
    w.tcpSegment({ from: dir, to: dir === A ? B : A, seq: (isn + from) >>> 0, ack: 1, flags: TcpFlags.PSH | TcpFlags.ACK,
      payload: data.subarray(from, to) });
  piece(10, 20); piece(0, 10); piece(0, 10); piece(5, 15); piece(20, 36); piece(10, 20); piece(30, 36);
  piece(0, 10, B); piece(20, 36, B); // B→A is missing bytes 10..20
  const segs = readCapture(w.toBytes());
  assert.deepEqual(streamOf(segs, '10.0.0.1:40000>10.0.0.2:6084'), data);
  assert.deepEqual(streamOf(segs, '10.0.0.2:6084>10.0.0.1:40000'), data.subarray(0, 10), 'stops at the gap');
});

test('writer → reader: UDP datagrams', () => {
  const w = new PcapWriter(1800000000.5);
  const payload = noise(1200, 3);
  w.udp({ ip: '192.168.1.10', port: 5060 }, { ip: '192.168.1.20', port: 5061 }, payload);
  w.udp(B, A, text('x'));
  const segs = readCapture(w.toBytes());
  assert.equal(segs.length, 2);
  assert.deepEqual(segs[0], { time: 1800000000.5, proto: 'udp', src: '192.168.1.10:5060', dst: '192.168.1.20:5061', payload });
  assert.equal(segs[1].src, '10.0.0.2:6084');
  assert.ok(Math.abs(segs[1].time - 1800000000.501) < 1e-6);
  assert.deepEqual(segs[1].payload, text('x'));
});

for (const le of [true, false]) {
  test(`pcapng (${le ? 'little' : 'big'}-endian SHB): raw IPv4 (linktype 101) UDP in an EPB`, () => {
    const unknown = block(0x0bad, Uint8Array.of(1, 2, 3), le);
    const cap = concat(shb(le), idb(101, le, 9), unknown, epb(0, 1700000000123456789n, ipv4Udp(text('reload')), le));
    const [seg, ...rest] = readCapture(cap);
    assert.equal(rest.length, 0);
    assert.equal(seg.proto, 'udp');
    assert.equal(seg.src, '10.0.0.1:40000');
    assert.equal(seg.dst, '10.0.0.2:6084');
    assert.deepEqual(seg.payload, text('reload'));
    assert.ok(Math.abs(seg.time - 1700000000.123456789) < 1e-6, 'if_tsresol 9 means nanoseconds');
  });
}

test('pcapng: per-interface link types, VLAN, IPv6 extension headers, fragments skipped', () => {
  const le = true;
  const v4 = ipv4Udp(text('v4'));
  const v6 = ipv6Tcp(77, text('v6'));
  const eth = (type: number): Uint8Array => concat(new Uint8Array(12), num(type, 2, false));
  const sll = concat(new Uint8Array(14), num(0x0800, 2, false));
  const sll2 = concat(num(0x86dd, 2, false), new Uint8Array(18));
  const frames: [number, Uint8Array][] = [
    [0, concat(num(2, 4, true), v4)], // BSD loopback, AF_INET little-endian
    [0, concat(num(30, 4, false), v6)], // AF_INET6 (Darwin) big-endian
    [1, concat(eth(0x8100), num(42, 2, false), num(0x86dd, 2, false), v6)], // 802.1Q tag
    [1, concat(eth(0x0800), v4, new Uint8Array(10))], // Ethernet padding beyond IPv4 total length
    [113, concat(sll, v4)],
    [276, concat(sll2, v6)],
    [228, v4],
    [229, v6],
    [229, ipv6Tcp(1, text('frag'), 44)], // fragment header: skipped
    [1, concat(eth(0x0806), new Uint8Array(28))], // ARP: skipped
  ];
  const blocks = [shb(le), ...frames.map(([lt]) => idb(lt, le)), ...frames.map(([, f], i) => epb(i, 1n, f, le))];
  const segs = readCapture(concat(...blocks));
  assert.equal(segs.length, 8);
  for (const s of segs) {
    if (s.proto === 'udp') {
      assert.deepEqual([s.src, s.dst, s.payload], ['10.0.0.1:40000', '10.0.0.2:6084', text('v4')]);
    } else {
      assert.deepEqual([s.src, s.dst, s.seq, s.payload], ['[2001:db8::1:0:0:1]:4000', '[2001:db8::2]:5000', 77, text('v6')]);
    }
  }
  const simple = readCapture(concat(shb(le), idb(228, le), spb(v4, le)));
  assert.deepEqual(simple.map((s) => [s.time, s.payload]), [[0, text('v4')]]);
});

test('pcapng: IPv4 non-first fragments are skipped', () => {
  const frag = ipv4Udp(text('later fragment')).slice();
  frag[7] = 0x10; // fragment offset 16 octets; header checksum is not validated by the reader
  assert.deepEqual(readCapture(concat(shb(true), idb(101, true), epb(0, 0n, frag, true))), []);
});

/** Rewrites a little-endian microsecond pcap in the requested byte order and resolution. */
function reencode(pcap: Uint8Array, le: boolean, nano: boolean): Uint8Array {
  const src = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength);
  const out = new Uint8Array(pcap);
  const dst = new DataView(out.buffer);
  dst.setUint32(0, nano ? 0xa1b23c4d : 0xa1b2c3d4, le);
  for (const off of [4, 6]) dst.setUint16(off, src.getUint16(off, true), le);
  for (const off of [8, 12, 16, 20]) dst.setUint32(off, src.getUint32(off, true), le);
  for (let off = 24; off < pcap.length; ) {
    const len = src.getUint32(off + 8, true);
    dst.setUint32(off, src.getUint32(off, true), le);
    dst.setUint32(off + 4, src.getUint32(off + 4, true) * (nano ? 1000 : 1), le);
    dst.setUint32(off + 8, len, le);
    dst.setUint32(off + 12, src.getUint32(off + 12, true), le);
    off += 16 + len;
  }
  return out;
}

test('classic pcap: big-endian and nanosecond variants read the same', () => {
  const w = new PcapWriter();
  const c = w.tcpConversation({ client: A, server: B, startTime: 1750000000.25 });
  c.send(true, noise(2000, 5));
  w.udp(A, B, text('dgram'));
  const original = readCapture(w.toBytes());
  assert.equal(original.length, 3);
  for (const [le, nano] of [[false, false], [false, true], [true, true]]) {
    const segs = readCapture(reencode(w.toBytes(), le, nano));
    assert.equal(segs.length, original.length);
    segs.forEach((s, i) => {
      assert.ok(Math.abs(s.time - original[i].time) < 1e-6);
      assert.deepEqual({ ...s, time: 0 }, { ...original[i], time: 0 });
    });
  }
});

function assertTruncationsFail(cap: Uint8Array, validCuts: Set<number>): void {
  for (let cut = 0; cut < cap.length; cut++) {
    let result: CapturedSegment[] | undefined;
    try {
      result = readCapture(cap.subarray(0, cut));
    } catch (e) {
      assert.ok(e instanceof CaptureError, `cut at ${cut}: ${String(e)}`);
      assert.ok(!validCuts.has(cut), `cut at ${cut} is a record boundary and should parse`);
      continue;
    }
    assert.ok(validCuts.has(cut) && Array.isArray(result), `cut at ${cut} parsed but is not a record boundary`);
  }
}

test('truncation at every byte throws only CaptureError', () => {
  const w = new PcapWriter();
  w.tcpConversation({ client: A, server: B }).send(false, text('pong'));
  w.udp(A, B, text('ping'));
  const pcap = w.toBytes();
  const cuts = new Set<number>();
  for (let off = 24; off < pcap.length; off += 16 + new DataView(pcap.buffer, off + 8).getUint32(0, true)) cuts.add(off);
  assertTruncationsFail(pcap, cuts);

  const blocks = [shb(false), idb(1, false, 6), epb(0, 5n, pcap.subarray(24 + 16), false), spb(text('x'), false)];
  const ngCuts = new Set<number>();
  blocks.reduce((at, b) => (ngCuts.add(at + b.length), at + b.length), 0);
  assertTruncationsFail(concat(...blocks), ngCuts);
});

test('1 MB of random bytes throws CaptureError quickly', () => {
  const random = noise(1 << 20, 0x5eed);
  const started = performance.now();
  assert.throws(() => readCapture(random), CaptureError);
  // With a valid file header the records themselves are random.
  for (const header of [new PcapWriter().toBytes(), concat(shb(true), idb(1, true))]) {
    try {
      readCapture(concat(header, random));
    } catch (e) {
      assert.ok(e instanceof CaptureError, String(e));
    }
  }
  assert.ok(performance.now() - started < 1000, 'took too long');
});
