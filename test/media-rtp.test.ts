// RTP and RTCP codecs (RFC 3550 §5.1, §6.4, §6.5, §6.6) and the receiver statistics of
// Appendix A: hand-worked vectors, round trips, a table of malformed datagrams each with
// its error, and a property that random bytes only ever raise the codec's own errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CodecError, InvalidEncoding, NeedMoreBytes, type InvalidReason } from '../src/codec/cursor.ts';
import { decodeRtp, encodeRtp, looksLikeRtcp, RtpPacketCodec, type RtpPacket } from '../src/sip/media/rtp.ts';
import { decodeRtcp, encodeRtcp, ntpFromUnixMs, ntpMiddle32, RtcpCompoundCodec, type RtcpPacket } from '../src/sip/media/rtcp.ts';
import { RtpReceiverStatistics } from '../src/sip/media/rtp-statistics.ts';
import { RtcpReporter } from '../src/sip/media/rtcp-reporter.ts';
import { FakeClock } from '../src/util/clock.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// ---- RTP ----

test('RTP: minimal packet matches the hand-worked bytes of §5.1', () => {
  const p: RtpPacket = { marker: true, payloadType: 0, sequenceNumber: 0x1234, timestamp: 0xdeadbeef, ssrc: 0x01020304, payload: hex('ffff') };
  const bytes = encodeRtp(p);
  assert.equal(toHex(bytes), '80801234deadbeef01020304ffff');
  assert.equal(RtpPacketCodec.encodingLength(p), bytes.length);
  const back = decodeRtp(bytes);
  assert.deepEqual({ ...back, payload: [...back.payload] }, { ...p, payload: [0xff, 0xff] });
});

test('RTP: CSRCs, header extension and padding', () => {
  const p: RtpPacket = {
    marker: false, payloadType: 8, sequenceNumber: 1, timestamp: 2, ssrc: 3, csrc: [10, 11],
    extension: { profile: 0xbede, data: hex('11223344') }, payload: hex('aa'), padding: 3,
  };
  const bytes = encodeRtp(p);
  assert.equal(toHex(bytes), 'b2080001' + '00000002' + '00000003' + '0000000a0000000b' + 'bede0001' + '11223344' + 'aa' + '000003');
  const back = decodeRtp(bytes);
  assert.deepEqual(back.csrc, [10, 11]);
  assert.equal(back.extension?.profile, 0xbede);
  assert.equal(toHex(back.extension!.data), '11223344');
  assert.equal(toHex(back.payload), 'aa');
  assert.equal(back.padding, 3);
});

test('RTP: the encoder refuses values its fields cannot hold', () => {
  const base: RtpPacket = { marker: false, payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0, payload: new Uint8Array(0) };
  assert.throws(() => encodeRtp({ ...base, payloadType: 128 }), RangeError);
  assert.throws(() => encodeRtp({ ...base, sequenceNumber: 0x10000 }), RangeError);
  assert.throws(() => encodeRtp({ ...base, csrc: new Array(16).fill(1) }), RangeError);
  assert.throws(() => encodeRtp({ ...base, extension: { profile: 1, data: new Uint8Array(3) } }), RangeError);
});

type Expect = 'truncated' | InvalidReason;
const RTP_MALFORMED: [string, string, Expect][] = [
  ['empty datagram', '', 'truncated'],
  ['11-byte header', '8000000100000002000000', 'truncated'],
  ['version 1', '4000000100000002000000030000', 'bad_value'],
  ['version 0', '0000000100000002000000030000', 'bad_value'],
  ['CC=3 with one CSRC', '83000001000000020000000300000004', 'truncated'],
  ['X bit, no extension header', '900000010000000200000003', 'truncated'],
  ['extension longer than the datagram', '90000001000000020000000300010002aabbccdd', 'truncated'],
  ['padding count 0', 'a0000001000000020000000300aa00', 'length_mismatch'],
  ['padding count past the header', 'a00000010000000200000003aa09', 'length_mismatch'],
  ['P bit and nothing after the header', 'a00000010000000200000003', 'bad_value'],
];

for (const [name, bytes, expected] of RTP_MALFORMED) {
  test(`RTP malformed: ${name}`, () => {
    assert.throws(() => decodeRtp(hex(bytes)), (e: unknown) => {
      if (expected === 'truncated') return e instanceof NeedMoreBytes;
      return e instanceof InvalidEncoding && e.reason === expected && e.field.startsWith('rtp.');
    });
  });
}

test('RFC 5761 §4: RTCP packet types are told apart from RTP payload types', () => {
  assert.equal(looksLikeRtcp(hex('80c8')), true); // SR
  assert.equal(looksLikeRtcp(hex('80c9')), true); // RR
  assert.equal(looksLikeRtcp(hex('8000')), false); // PCMU
  assert.equal(looksLikeRtcp(hex('80e5')), false); // marker + PT 101
  assert.equal(looksLikeRtcp(hex('80')), false);
});

// ---- RTCP ----

const RR_SDES_BYE =
  '81c90007' + '11111111' + '22222222' + '40' + 'fffffe' + '00010005' + '00000010' + '12345678' + '00008000' +
  '81ca0003' + '11111111' + '0104' + '61626364' + '0000' +
  '81cb0002' + '11111111' + '03' + '627965';

test('RTCP: RR + SDES CNAME + BYE compound matches the hand-worked bytes', () => {
  const packets: RtcpPacket[] = [
    {
      type: 'rr', ssrc: 0x11111111, reports: [{
        ssrc: 0x22222222, fractionLost: 0x40, cumulativeLost: -2, highestSequence: 0x10005, jitter: 16, lastSr: 0x12345678, delaySinceLastSr: 0x8000,
      }],
    },
    { type: 'sdes', chunks: [{ ssrc: 0x11111111, items: [{ type: 1, text: 'abcd' }] }] },
    { type: 'bye', sources: [0x11111111], reason: 'bye' },
  ];
  const bytes = encodeRtcp(packets);
  assert.equal(toHex(bytes), RR_SDES_BYE);
  assert.equal(RtcpCompoundCodec.encodingLength(packets), bytes.length);
  assert.deepEqual(decodeRtcp(bytes), packets);
});

test('RTCP: SR with report blocks round-trips; padding on the last packet is accepted', () => {
  const sr: RtcpPacket = {
    type: 'sr', ssrc: 7, ntpSeconds: 0xe0000000, ntpFraction: 0x80000000, rtpTimestamp: 160, packetCount: 50, octetCount: 8000,
    reports: [{ ssrc: 9, fractionLost: 0, cumulativeLost: 0x7fffff, highestSequence: 1, jitter: 0, lastSr: 0, delaySinceLastSr: 0 }],
  };
  const bytes = encodeRtcp([sr]);
  assert.equal(bytes.length, 4 + 24 + 24);
  assert.deepEqual(decodeRtcp(bytes), [sr]);
  // Padded RR with no blocks: length 2 words = ssrc + 4 padding octets ending in 4.
  const padded = hex('a0c90002' + '00000001' + '00000004');
  assert.deepEqual(decodeRtcp(padded), [{ type: 'rr', ssrc: 1, reports: [] }]);
  // SDES with an empty chunk, BYE without reason, and an APP packet kept opaque.
  const mixed: RtcpPacket[] = [
    { type: 'sdes', chunks: [{ ssrc: 5, items: [] }] },
    { type: 'bye', sources: [] },
    { type: 'other', packetType: 204, count: 1, body: hex('0000000561626364') },
  ];
  assert.deepEqual(decodeRtcp(encodeRtcp(mixed)), mixed);
});

test('RTCP: cumulative lost is clamped to 24 signed bits, not wrapped', () => {
  const block = { ssrc: 1, fractionLost: 0, highestSequence: 0, jitter: 0, lastSr: 0, delaySinceLastSr: 0 };
  const lostAfterRoundTrip = (cumulativeLost: number): number => {
    const [rr] = decodeRtcp(encodeRtcp([{ type: 'rr', ssrc: 0, reports: [{ ...block, cumulativeLost }] }]));
    assert.equal(rr.type, 'rr');
    return rr.type === 'rr' ? rr.reports[0].cumulativeLost : NaN;
  };
  assert.equal(lostAfterRoundTrip(1e9), 0x7fffff);
  assert.equal(lostAfterRoundTrip(-1e9), -0x800000);
  assert.equal(lostAfterRoundTrip(-5), -5);
});

const RTCP_MALFORMED: [string, string, Expect][] = [
  ['empty datagram', '', 'bad_value'],
  ['three bytes', '81c900', 'truncated'],
  ['version 1', '41c9000100000001', 'bad_value'],
  ['length past the datagram', '81c9000700000001', 'exceeds_parent'],
  ['RC=2 in a body for one block', '82c90007' + '00000001' + '00'.repeat(24), 'exceeds_parent'],
  ['padding on a packet that is not the last', 'a0c9000100000001' + '81c9000100000001', 'bad_value'],
  ['padding count 0', 'a0c900020000000100000000', 'length_mismatch'],
  ['padding count over the body', 'a0c900020000000100000009', 'length_mismatch'],
  ['SDES item longer than the chunk', '81ca0002' + '00000001' + '01090000', 'exceeds_parent'],
  ['trailing partial header after a packet', '80c9000100000001' + '81', 'truncated'],
];

for (const [name, bytes, expected] of RTCP_MALFORMED) {
  test(`RTCP malformed: ${name}`, () => {
    assert.throws(() => decodeRtcp(hex(bytes)), (e: unknown) => {
      if (expected === 'truncated') return e instanceof NeedMoreBytes;
      return e instanceof InvalidEncoding && e.reason === expected;
    });
  });
}

test('NTP timestamps (§4) and the middle 32 bits used by LSR (§6.4.1)', () => {
  const t = ntpFromUnixMs(0);
  assert.deepEqual(t, { seconds: 2_208_988_800, fraction: 0 });
  const half = ntpFromUnixMs(1500);
  assert.equal(half.seconds, 2_208_988_801);
  assert.equal(half.fraction, 0x80000000);
  assert.equal(ntpMiddle32(0x12345678, 0x9abcdef0), 0x56789abc);
});

// ---- properties ----

function onlyTyped(run: () => unknown): void {
  try {
    run();
  } catch (e) {
    if (e instanceof CodecError) return;
    throw e;
  }
}

test('random bytes: RTP, RTCP and telephone-event decoders only raise CodecError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 128 }), (bytes) => {
    onlyTyped(() => decodeRtp(bytes));
    onlyTyped(() => decodeRtcp(bytes));
    // Biased towards plausible RTCP headers so the inner structures get exercised.
    const rtcp = bytes.slice();
    if (rtcp.length > 1) {
      rtcp[0] = 0x80 | (rtcp[0] & 0x3f);
      rtcp[1] = 200 + (rtcp[1] % 5);
    }
    onlyTyped(() => decodeRtcp(rtcp));
  }), { numRuns: 5000 });
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const rtpPacket: fc.Arbitrary<RtpPacket> = fc.record({
  marker: fc.boolean(),
  payloadType: fc.integer({ min: 0, max: 127 }),
  sequenceNumber: fc.integer({ min: 0, max: 0xffff }),
  timestamp: u32,
  ssrc: u32,
  csrc: fc.array(u32, { maxLength: 15 }),
  extension: fc.option(fc.record({ profile: fc.integer({ min: 0, max: 0xffff }), data: fc.integer({ min: 0, max: 4 }).chain((w) => fc.uint8Array({ minLength: w * 4, maxLength: w * 4 })) }), { nil: undefined }),
  payload: fc.uint8Array({ maxLength: 200 }),
  padding: fc.integer({ min: 0, max: 255 }),
});

test('RTP: any packet round-trips, encodingLength equals the bytes written', () => {
  fc.assert(fc.property(rtpPacket, (p) => {
    const bytes = encodeRtp(p);
    assert.equal(bytes.length, RtpPacketCodec.encodingLength(p));
    const back = decodeRtp(bytes);
    assert.equal(back.marker, p.marker);
    assert.equal(back.payloadType, p.payloadType);
    assert.equal(back.sequenceNumber, p.sequenceNumber);
    assert.equal(back.timestamp, p.timestamp);
    assert.equal(back.ssrc, p.ssrc);
    assert.deepEqual(back.csrc ?? [], p.csrc);
    assert.deepEqual(back.extension && { profile: back.extension.profile, data: [...back.extension.data] }, p.extension && { profile: p.extension.profile, data: [...p.extension.data] });
    assert.deepEqual([...back.payload], [...p.payload]);
    assert.equal(back.padding ?? 0, p.padding);
  }), { numRuns: 500 });
});

const reportBlock = fc.record({
  ssrc: u32, fractionLost: fc.integer({ min: 0, max: 255 }), cumulativeLost: fc.integer({ min: -0x800000, max: 0x7fffff }),
  highestSequence: u32, jitter: u32, lastSr: u32, delaySinceLastSr: u32,
});
const text = fc.string({ maxLength: 40 });
const rtcpPacket: fc.Arbitrary<RtcpPacket> = fc.oneof(
  fc.record({ type: fc.constant('sr' as const), ssrc: u32, ntpSeconds: u32, ntpFraction: u32, rtpTimestamp: u32, packetCount: u32, octetCount: u32, reports: fc.array(reportBlock, { maxLength: 3 }) }),
  fc.record({ type: fc.constant('rr' as const), ssrc: u32, reports: fc.array(reportBlock, { maxLength: 3 }) }),
  fc.record({ type: fc.constant('sdes' as const), chunks: fc.array(fc.record({ ssrc: u32, items: fc.array(fc.record({ type: fc.integer({ min: 1, max: 8 }), text }), { maxLength: 3 }) }), { maxLength: 3 }) }),
  fc.record({ type: fc.constant('bye' as const), sources: fc.array(u32, { maxLength: 3 }), reason: fc.option(text, { nil: undefined }) }),
);

test('RTCP: any compound packet round-trips', () => {
  fc.assert(fc.property(fc.array(rtcpPacket, { minLength: 1, maxLength: 4 }), (packets) => {
    const bytes = encodeRtcp(packets);
    assert.equal(bytes.length % 4, 0);
    const back = decodeRtcp(bytes);
    // An absent BYE reason decodes as absent; JSON drops undefined fields on both sides.
    assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(packets)));
  }), { numRuns: 500 });
});

// ---- receiver statistics (Appendix A) ----

test('A.1/A.3: loss, fraction lost and the extended highest sequence across a wrap', () => {
  const s = new RtpReceiverStatistics();
  // Probation: the first packet only starts it; the second in sequence makes the source valid.
  assert.equal(s.updateSequence(65530), 'probation');
  assert.equal(s.updateSequence(65531), 'counted');
  for (let seq = 65532; seq < 65536 + 10; seq++) {
    if (seq === 65534 || seq === 65536 + 3) continue; // two losses, one on each side of the wrap
    s.updateSequence(seq & 0xffff);
  }
  assert.equal(s.extendedHighestSequence, 0x10000 + 9);
  assert.equal(s.cumulativeLost, 2);
  const block = s.reportBlock(42);
  assert.equal(block.ssrc, 42);
  assert.equal(block.cumulativeLost, 2);
  assert.equal(block.highestSequence, 0x10009);
  // 15 expected since the base (65531..65545), 13 received: 2/15 of 256.
  assert.equal(block.fractionLost, Math.floor((2 * 256) / 15));
  // The next interval is clean: fraction lost returns to 0, cumulative stays.
  s.updateSequence(10);
  s.updateSequence(11);
  const next = s.reportBlock(42);
  assert.equal(next.fractionLost, 0);
  assert.equal(next.cumulativeLost, 2);
});

test('A.1: duplicates count as received (lost may go negative); a big jump needs two packets', () => {
  const s = new RtpReceiverStatistics();
  for (let seq = 100; seq < 110; seq++) s.updateSequence(seq);
  assert.equal(s.updateSequence(105), 'duplicate_or_late');
  assert.equal(s.cumulativeLost, -1);
  assert.equal(s.updateSequence(30000), 'restart_pending');
  assert.equal(s.updateSequence(30001), 'counted');
  assert.equal(s.extendedHighestSequence, 30001);
  assert.equal(s.cumulativeLost, 0);
});

test('A.8: steady packets give zero jitter, alternating delay converges on its size', () => {
  const steady = new RtpReceiverStatistics();
  for (let i = 0; i < 100; i++) steady.updateJitter(i * 160, 1000 + i * 160);
  assert.equal(steady.jitter, 0);
  const jittery = new RtpReceiverStatistics();
  // Every other packet 80 units (10 ms) late: |D| = 80 each time.
  for (let i = 0; i < 400; i++) jittery.updateJitter(i * 160, i * 160 + (i % 2) * 80);
  assert.ok(Math.abs(jittery.jitter - 80) < 1, `jitter ${jittery.jitter}`);
  // Repeated timestamps (RFC 4733 updates) do not count.
  const events = new RtpReceiverStatistics();
  events.updateJitter(0, 0);
  for (let i = 1; i < 10; i++) events.updateJitter(0, i * 400);
  assert.equal(events.jitter, 0);
  // The timestamp wraps at 2^32 without a jump in jitter.
  const wrap = new RtpReceiverStatistics();
  wrap.updateJitter(0xffffff60, 0);
  wrap.updateJitter(0, 160);
  assert.equal(wrap.jitter, 0);
});

test('RTCP reporter: SR while sending, RR when not, CNAME always, RTT from LSR/DLSR', () => {
  const clock = new FakeClock();
  const a = new RtcpReporter({ clock }, { ssrc: 1, cname: 'a' });
  const b = new RtcpReporter({ clock }, { ssrc: 2, cname: 'b' });
  // Nothing sent yet: RR.
  assert.equal(decodeRtcp(a.report())[0].type, 'rr');
  for (let i = 0; i < 50; i++) {
    a.noteSent(1000 + i * 160, 160);
    b.noteReceived(1, i, 1000 + i * 160, true);
    clock.advance(20);
  }
  const fromA = decodeRtcp(a.report());
  assert.equal(fromA[0].type, 'sr');
  const sr = fromA[0] as Extract<RtcpPacket, { type: 'sr' }>;
  assert.equal(sr.packetCount, 50);
  assert.equal(sr.octetCount, 8000);
  assert.equal(sr.rtpTimestamp, 1000 + 49 * 160 + 160);
  assert.deepEqual(fromA[1], { type: 'sdes', chunks: [{ ssrc: 1, items: [{ type: 1, text: 'a' }] }] });
  b.receive(fromA);
  clock.advance(250);
  const fromB = decodeRtcp(b.report({ reason: 'done' }));
  assert.equal(fromB[0].type, 'rr');
  const block = (fromB[0] as Extract<RtcpPacket, { type: 'rr' }>).reports[0];
  assert.equal(block.ssrc, 1);
  assert.equal(block.lastSr, ntpMiddle32(sr.ntpSeconds, sr.ntpFraction));
  assert.equal(block.delaySinceLastSr, 65536 / 4);
  assert.deepEqual(fromB[2], { type: 'bye', sources: [2], reason: 'done' });
  clock.advance(30);
  a.receive(fromB);
  // 250 ms held at B, 30 ms of "network" afterwards: the RTT is what is left, ≈ 30 ms.
  assert.ok(a.rttMs !== undefined && Math.abs(a.rttMs - 30) < 1, `rtt ${a.rttMs}`);
  // A sent in the previous interval, so the next report is still an SR; the one after is an RR.
  assert.equal(decodeRtcp(a.report())[0].type, 'sr');
  assert.equal(decodeRtcp(a.report())[0].type, 'rr');
});

test('RTCP reporter: RFC 4733 events interleaved with audio (as baresip sends them) do not count as jitter', () => {
  const clock = new FakeClock();
  const r = new RtcpReporter({ clock }, { ssrc: 1, cname: 'x' });
  let seq = 0;
  for (let i = 0; i < 100; i++) {
    r.noteReceived(2, seq++, 10_000 + i * 160, true);
    // The event's updates carry its start time, 20 ms after 20 ms.
    if (i >= 20 && i < 40) r.noteReceived(2, seq++, 10_000 + 20 * 160, false);
    clock.advance(20);
  }
  assert.equal(r.statistics.jitter, 0);
  assert.equal(r.statistics.cumulativeLost, 0);
  // A new SSRC starts the statistics afresh.
  r.noteReceived(3, 500, 0, true);
  assert.equal(r.remoteSsrc, 3);
  assert.equal(r.statistics.received, 0);
});
