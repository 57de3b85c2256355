// Two media sessions on real UDP sockets on 127.0.0.1, negotiated through this layer's own
// offer/answer: audio flows both ways and is recognised as the tone each side sends, DTMF
// digits arrive in order, RTCP reports and BYE are exchanged, junk is counted and dropped,
// and stop() is final. One test drives the send timer on a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  acceptAnswer, answerOffer, createOffer, decodeRtp, encodeRtp, MediaSession, NullSink, SilenceSource, ToneSource,
  type AudioSink, type NegotiatedMedia,
} from '../src/sip/media/index.ts';
import { FakeClock, systemClock, type Clock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';

const components = { clock: systemClock, log: silentLogger };
const HOST = '127.0.0.1';

async function until(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Offer from `a`, answer from `b`, both started. */
function connect(a: MediaSession, b: MediaSession): { atA: NegotiatedMedia; atB: NegotiatedMedia } {
  const offer = createOffer({ address: HOST, port: a.port });
  const answer = answerOffer(offer.sdp, { address: HOST, port: b.port, codecs: ['PCMA', 'PCMU'] });
  assert.ok(answer.ok);
  if (!answer.ok) throw new Error('unreachable');
  const accepted = acceptAnswer(answer.sdp, offer);
  assert.ok(accepted.ok);
  if (!accepted.ok) throw new Error('unreachable');
  b.start(answer.negotiated);
  a.start(accepted.negotiated);
  return { atA: accepted.negotiated, atB: answer.negotiated };
}

test('two sessions: 440 Hz one way, 1000 Hz the other, DTMF "1234#" in order, RTCP both ways', async () => {
  const frames: number[] = [];
  const recording: AudioSink = { write: (f) => { frames.push(f.length); }, close: () => {} };
  const a = await MediaSession.open(components, { address: HOST, source: new ToneSource({ frequencyHz: 440 }), sink: new NullSink(), rtcpIntervalMs: 400 });
  const b = await MediaSession.open(components, { address: HOST, source: new ToneSource({ frequencyHz: 1000 }), sink: recording, rtcpIntervalMs: 400 });
  try {
    assert.equal(a.port % 2, 0);
    assert.notEqual(a.port, b.port);
    const { atA, atB } = connect(a, b);
    // PCMU is the offerer's first choice and acceptable to the answerer.
    assert.equal(atB.codec, 'PCMU');
    assert.equal(atA.telephoneEventPayloadType, 101);

    await until('tones detected', () => a.tone() !== null && b.tone() !== null);
    await sleep(300);
    const heardAtB = b.tone();
    const heardAtA = a.tone();
    assert.ok(heardAtB && Math.abs(heardAtB.frequencyHz - 440) <= 10, `B heard ${heardAtB?.frequencyHz}`);
    assert.ok(heardAtA && Math.abs(heardAtA.frequencyHz - 1000) <= 10, `A heard ${heardAtA?.frequencyHz}`);
    assert.ok(frames.length > 10 && frames.every((n) => n === 160));

    const digits: string[] = [];
    b.onDtmf = (d) => digits.push(d);
    assert.equal(a.sendDtmf('1234#'), 5);
    await until('five digits', () => digits.length >= 5, 5000);
    assert.equal(digits.join(''), '1234#');
    await until('sender done', () => a.counters.dtmfSent === 5);
    await sleep(200);
    assert.equal(digits.length, 5);

    await until('RTCP both ways', () => a.counters.rtcpReceived > 0 && b.counters.rtcpReceived > 0);
    const ca = a.counters;
    const cb = b.counters;
    for (const [name, c] of [['A', ca], ['B', cb]] as const) {
      assert.ok(c.rtpSent > 40, `${name} sent ${c.rtpSent}`);
      assert.ok(c.rtpReceived > 40, `${name} received ${c.rtpReceived}`);
      assert.ok(c.bytesSent > 40 * 172 && c.bytesReceived > 40 * 172);
      assert.equal(c.rtpDropped, 0);
      assert.equal(c.lost, 0);
      assert.ok(c.jitterMs >= 0 && c.jitterMs < 20, `${name} jitter ${c.jitterMs}`);
    }
    assert.equal(cb.dtmfReceived, 5);
    assert.equal(ca.dtmfSent, 5);
    // Round-trip time comes from B's reports of A's SRs (LSR/DLSR).
    await until('RTT known', () => a.counters.rttMs !== undefined);
    assert.ok(a.counters.rttMs! < 100);
  } finally {
    a.stop();
    b.stop();
  }
});

test('stop(): BYE reaches the peer, idempotent, no digits or audio after it', async () => {
  const a = await MediaSession.open(components, { address: HOST, source: new SilenceSource(), sink: new NullSink() });
  const b = await MediaSession.open(components, { address: HOST, source: new SilenceSource(), sink: new NullSink() });
  connect(a, b);
  await until('audio', () => b.counters.rtpReceived > 5);
  const seen: string[] = [];
  b.onDtmf = (d) => seen.push(d);
  a.sendDtmf('9');
  b.stop();
  b.stop();
  assert.equal(b.state, 'stopped');
  await until('BYE at A', () => a.counters.rtcpReceived > 0);
  await sleep(300);
  assert.deepEqual(seen, []);
  assert.equal(b.sendDtmf('1'), 0);
  const frozen = b.counters.rtpReceived;
  await sleep(100);
  assert.equal(b.counters.rtpReceived, frozen);
  assert.throws(() => b.start({ codec: 'PCMU', payloadType: 0, remote: { address: HOST, port: a.port }, direction: 'sendrecv' }));
  a.stop();
});

test('hostile datagrams are counted and dropped; unknown payload types are not played', async () => {
  const played: Int16Array[] = [];
  const s = await MediaSession.open(components, { address: HOST, source: new SilenceSource(), sink: { write: (f) => { played.push(f.slice()); }, close() {} } });
  const junk = createSocket('udp4');
  await new Promise<void>((r) => junk.bind(0, HOST, r));
  try {
    const send = (b: Uint8Array, port = s.port): Promise<void> => new Promise((r) => junk.send(b, port, HOST, () => r()));
    // Before start: dropped.
    await send(encodeRtp({ marker: false, payloadType: 0, sequenceNumber: 1, timestamp: 0, ssrc: 1, payload: new Uint8Array(160) }));
    await until('pre-start drop', () => s.counters.rtpDropped === 1);
    s.start({ codec: 'PCMU', payloadType: 0, telephoneEventPayloadType: 101, remote: { address: HOST, port: junk.address().port }, direction: 'sendrecv' });
    await send(Uint8Array.from([1, 2, 3]));
    await send(Uint8Array.from([0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    await send(new Uint8Array(2000));
    await send(encodeRtp({ marker: false, payloadType: 18, sequenceNumber: 2, timestamp: 0, ssrc: 1, payload: new Uint8Array(20) }));
    // A telephone-event packet too short for its payload.
    await send(encodeRtp({ marker: true, payloadType: 101, sequenceNumber: 3, timestamp: 0, ssrc: 1, payload: new Uint8Array(2) }));
    await send(Uint8Array.from([0x80, 0xc9, 0, 9]), s.port + 1);
    await send(Uint8Array.from([0x80, 0xc9, 0, 9]));
    await until('drops counted', () => s.counters.rtpDropped === 6 && s.counters.rtcpDropped === 2);
    assert.equal(played.length, 0);
    // A good packet still plays, 30 ms of it as one frame and a remainder.
    await send(encodeRtp({ marker: true, payloadType: 0, sequenceNumber: 4, timestamp: 0, ssrc: 1, payload: new Uint8Array(240).fill(0x80) }));
    await until('played', () => played.length === 1);
    assert.equal(played[0][0], 32124);
    // What the session sends is well-formed RTP with the negotiated payload type.
    const got = await new Promise<Buffer>((r) => junk.once('message', r));
    const p = decodeRtp(got);
    assert.equal(p.payloadType, 0);
    assert.equal(p.payload.length, 160);
  } finally {
    s.stop();
    junk.close();
  }
});

test('symmetric RTP: a session sends to where the peer\'s packets come from', async () => {
  const a = await MediaSession.open(components, { address: HOST, source: new ToneSource({ frequencyHz: 700 }), sink: new NullSink() });
  const b = await MediaSession.open(components, { address: HOST, source: new ToneSource({ frequencyHz: 1300 }), sink: new NullSink() });
  try {
    // B was told a wrong port for A (a NAT rewrote it, say); A knows B's right one.
    b.start({ codec: 'PCMA', payloadType: 8, remote: { address: HOST, port: 9 }, direction: 'sendrecv' });
    a.start({ codec: 'PCMA', payloadType: 8, remote: { address: HOST, port: b.port }, direction: 'sendrecv' });
    await until('A hears B', () => a.counters.rtpReceived > 10);
    await until('tone at A', () => Math.abs((a.tone()?.frequencyHz ?? 0) - 1300) < 10);
  } finally {
    a.stop();
    b.stop();
  }
});

test('ports come from the configured range, RTP even and RTCP next to it', async () => {
  const range = { min: 41001, max: 41020 };
  const sessions = await Promise.all([0, 1, 2].map(() => MediaSession.open(components, { address: HOST, source: new SilenceSource(), sink: new NullSink(), portRange: range })));
  try {
    const ports = sessions.map((s) => s.port);
    assert.equal(new Set(ports).size, 3);
    for (const p of ports) assert.ok(p % 2 === 0 && p >= 41002 && p <= 41018, `port ${p}`);
  } finally {
    for (const s of sessions) s.stop();
  }
});

test('fake clock: one packet per 20 ms, drift corrected; a stall skips slots instead of bursting', async () => {
  const fake = new FakeClock();
  let stall = 0;
  const clock: Clock = {
    now: () => fake.now() + stall,
    wallTime: () => fake.wallTime() + stall,
    setTimeout: (fn, ms) => fake.setTimeout(fn, ms),
    clearTimeout: (h) => fake.clearTimeout(h),
  };
  const peer = createSocket('udp4');
  await new Promise<void>((r) => peer.bind(0, HOST, r));
  const received: Buffer[] = [];
  peer.on('message', (m) => received.push(m));
  const s = await MediaSession.open({ clock, log: silentLogger }, { address: HOST, source: new ToneSource({ frequencyHz: 500 }), sink: new NullSink(), dtmfToneMs: 100 });
  try {
    s.start({ codec: 'PCMU', payloadType: 0, telephoneEventPayloadType: 101, remote: { address: HOST, port: peer.address().port }, direction: 'sendrecv' });
    fake.advance(1000 - 1);
    assert.equal(s.counters.rtpSent, 50);
    // While a digit is being sent, audio pauses: 50 ms to the first event packet, then 3 more.
    s.sendDtmf('5');
    fake.advance(200);
    assert.equal(s.counters.rtpSent, 54);
    assert.equal(s.counters.dtmfSent, 1);
    fake.advance(200);
    assert.equal(s.counters.rtpSent, 64);
    // The event loop stalls for 300 ms: of the 16 slots now due (1400..1700 ms), three are
    // sent at once and the rest skipped.
    stall = 300;
    fake.advance(1);
    assert.equal(s.counters.framesSkipped, 13);
    assert.equal(s.counters.rtpSent, 67);
    await until('packets at the peer', () => received.length === 67);
    const packets = received.map((b) => decodeRtp(b));
    const seq = packets.map((p) => p.sequenceNumber);
    for (let i = 1; i < seq.length; i++) assert.equal(seq[i], (seq[i - 1] + 1) & 0xffff);
    // Audio timestamps step by 160; the event's packets share one timestamp, between frames.
    const audio = packets.filter((p) => p.payloadType === 0);
    const events = packets.filter((p) => p.payloadType === 101);
    assert.equal(events.length, 4);
    assert.equal(new Set(events.map((p) => p.timestamp)).size, 1);
    assert.equal(events[0].marker, true);
    assert.equal((events[0].timestamp - audio[0].timestamp) >>> 0, 1000 * 8 - 8);
    assert.equal((audio[1].timestamp - audio[0].timestamp) >>> 0, 160);
    // The first audio packet after the event starts a talkspurt.
    const after = packets[packets.indexOf(events[3]) + 1];
    assert.equal(after.payloadType, 0);
    assert.equal(after.marker, true);
    assert.ok(audio[0].marker);
  } finally {
    s.stop();
    peer.close();
  }
  assert.equal(fake.pending, 0);
});

test('DTMF is refused before start, without telephone-event, and past the queue bound', async () => {
  const s = await MediaSession.open(components, { address: HOST, source: new SilenceSource(), sink: new NullSink(), dtmfQueueLimit: 4 });
  try {
    assert.equal(s.sendDtmf('1'), 0);
    s.start({ codec: 'PCMU', payloadType: 0, remote: { address: HOST, port: 9 }, direction: 'sendrecv' });
    assert.equal(s.sendDtmf('12'), 0);
    s.start({ codec: 'PCMU', payloadType: 0, telephoneEventPayloadType: 101, remote: { address: HOST, port: 9 }, direction: 'sendrecv' });
    assert.equal(s.sendDtmf('1234567890'), 5);
    assert.equal(s.counters.dtmfRefused, 1 + 2 + 5);
    assert.throws(() => s.sendDtmf('1?'), RangeError);
  } finally {
    s.stop();
  }
});
