// FramedLink over an in-memory duplex pair with a fake clock: framing, ACKs, RTO, failure
// detection, keepalive, bounds and close (RFC 6940 §6.6.2, §6.6.5; RFC 6298).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { encode, FramedMessage, FrameReader } from '../src/codec/index.ts';
import { FakeClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import { duplexPair, FramedLink, type FramedLinkOptions, memoryLinkPair } from '../src/link/index.ts';

const A = new Uint8Array(16).fill(0xaa);
const B = new Uint8Array(16).fill(0xbb);
const msg = (i: number): Uint8Array => new TextEncoder().encode(`message ${i}`);

/** Lets the in-memory streams deliver what was written. */
async function flush(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
}

/** A FramedLink on one end; the test plays the peer on the other end, frame by frame. */
function rawPeer(options: FramedLinkOptions = {}, socket?: Duplex) {
  const clock = new FakeClock();
  const [near, far] = duplexPair();
  const link = new FramedLink(
    { clock, log: silentLogger, socket: socket ?? near },
    { ...options, remoteNodeId: B, remoteCertificate: new Uint8Array(0), remote: { host: 'memory', port: 0 }, outbound: true },
  );
  const received: Uint8Array[] = [];
  const closes: string[] = [];
  link.onMessage = (m) => received.push(m);
  link.onClose = (r) => closes.push(r);
  const reader = new FrameReader();
  const frames: FramedMessage[] = [];
  far.on('data', (c: Buffer) => frames.push(...reader.push(new Uint8Array(c.buffer, c.byteOffset, c.length))));
  const send = (f: FramedMessage): void => void far.write(encode(FramedMessage, f));
  const data = (sequence: number): void => send({ type: 'data', sequence, message: msg(sequence) });
  const ack = (ackSequence: number): void => send({ type: 'ack', ackSequence, received: 0 });
  return { clock, link, far, frames, received, closes, send, data, ack };
}

test('data frames are numbered from 0, +1 per message (§6.6.2)', async () => {
  const p = rawPeer();
  for (let i = 0; i < 3; i++) assert.equal(p.link.send(msg(i)), true);
  await flush();
  assert.deepEqual(p.frames, [0, 1, 2].map((i) => ({ type: 'data', sequence: i, message: msg(i) })));
  assert.equal(p.link.stats.framesSent, 3);
  p.link.close('done');
});

test('each data frame is ACKed at once; received bit (N-M) marks earlier frames (§6.6.2)', async () => {
  const p = rawPeer();
  for (let i = 0; i < 6; i++) p.data(i);
  await flush();
  const masks = [0, 0b10, 0b110, 0b1110, 0b11110, 0b111110];
  assert.deepEqual(p.frames, masks.map((received, i) => ({ type: 'ack', ackSequence: i, received })));
  assert.deepEqual(p.received, [0, 1, 2, 3, 4, 5].map(msg));
  p.link.close('done');

  const gaps = rawPeer();
  for (const s of [0, 2, 3, 5]) gaps.data(s);
  await flush();
  assert.deepEqual(gaps.frames.at(-1), { type: 'ack', ackSequence: 5, received: (1 << 2) | (1 << 3) | (1 << 5) });
  gaps.link.close('done');

  // Only M > N-32 counts, so once 32 frames are in, bits 1..31 are set and bit 0 never is.
  const many = rawPeer();
  for (let i = 0; i < 40; i++) many.data(i);
  await flush();
  assert.deepEqual(many.frames.at(-1), { type: 'ack', ackSequence: 39, received: 0xfffffffe });
  many.link.close('done');
});

test('RTO follows RFC 6298 from ACK timing and converges toward the measured RTT', async () => {
  const p = rawPeer({ minRtoMs: 1 });
  assert.equal(p.link.stats.rtoMs, 1000, 'initial RTO (RFC 6298 §2.1)');
  assert.equal(p.link.stats.srttMs, undefined);
  const roundTrip = async (i: number, rttMs: number): Promise<void> => {
    p.link.send(msg(i));
    await flush();
    p.clock.advance(rttMs);
    p.ack(i);
    await flush();
  };
  await roundTrip(0, 100);
  assert.equal(p.link.stats.srttMs, 100);
  assert.equal(p.link.stats.rtoMs, 300, 'SRTT + 4 * R/2 (§2.2)');
  await roundTrip(1, 200);
  assert.equal(p.link.stats.srttMs, 112.5, '7/8 * 100 + 1/8 * 200 (§2.3)');
  assert.equal(p.link.stats.rtoMs, Math.ceil(112.5 + 4 * 62.5));
  for (let i = 2; i < 60; i++) await roundTrip(i, 100);
  assert.ok(Math.abs(p.link.stats.srttMs! - 100) < 1, `srtt ${p.link.stats.srttMs}`);
  assert.ok(p.link.stats.rtoMs >= 101 && p.link.stats.rtoMs <= 110, `rto ${p.link.stats.rtoMs}`);
  assert.equal(p.link.stats.acksReceived, 60);
  p.link.close('done');

  const floored = rawPeer();
  for (let i = 0; i < 30; i++) {
    floored.link.send(msg(i));
    await flush();
    floored.clock.advance(5);
    floored.ack(i);
    await flush();
  }
  assert.equal(floored.link.stats.rtoMs, 200, 'minRtoMs floor');
  floored.link.close('done');
});

test('the link fails when the oldest frame waits max(failureTimeoutMs, 4*RTO) for its ACK (§6.6.5)', async () => {
  const p = rawPeer();
  p.link.send(msg(0));
  await flush();
  p.clock.advance(3999); // initial RTO 1000 ms: 4 * RTO = 4000 ms is the larger bound
  assert.equal(p.link.closed, false);
  p.clock.advance(1);
  assert.equal(p.link.closed, true);
  assert.deepEqual(p.closes, ['ack timeout']);
  assert.equal(p.clock.pending, 0, 'all timers cleared');
});

test('ACKs that keep coming keep the link up; when they stop, it fails after failureTimeoutMs', async () => {
  const p = rawPeer({ failureTimeoutMs: 2000 });
  for (let i = 0; i < 20; i++) {
    p.link.send(msg(i));
    await flush();
    p.clock.advance(10);
    p.ack(i);
    await flush();
    p.clock.advance(490);
  }
  assert.equal(p.link.closed, false);
  assert.equal(p.link.stats.rtoMs, 200);
  p.link.send(msg(20));
  p.clock.advance(1000);
  p.link.send(msg(21));
  p.ack(20); // the oldest is acknowledged: the timer moves on to frame 21
  await flush();
  // That 1000 ms sample raised the RTO, so 4 * RTO now exceeds failureTimeoutMs.
  const timeout = Math.max(2000, 4 * p.link.stats.rtoMs);
  assert.ok(timeout > 2000);
  p.clock.advance(timeout - 1);
  assert.equal(p.link.closed, false);
  p.clock.advance(1);
  assert.deepEqual(p.closes, ['ack timeout']);
});

test('an ACK for a frame never sent is ignored', async () => {
  const p = rawPeer({ failureTimeoutMs: 1000, initialRtoMs: 200 });
  p.link.send(msg(0));
  await flush();
  p.ack(7);
  await flush();
  p.clock.advance(1000);
  assert.deepEqual(p.closes, ['ack timeout']);
});

test('an idle link repeats its last ACK and calls onIdle; a busy one does not', async () => {
  const p = rawPeer({ ackRepeatIdleMs: 1000 });
  let idle = 0;
  p.link.onIdle = () => idle++;
  p.clock.advance(1000);
  await flush();
  assert.equal(idle, 1, 'onIdle even before anything was received');
  assert.equal(p.frames.length, 0, 'no ACK is invented for a frame never received');

  p.data(0);
  p.data(1);
  await flush();
  p.frames.length = 0;
  p.clock.advance(1000);
  await flush();
  assert.equal(idle, 2);
  assert.deepEqual(p.frames, [{ type: 'ack', ackSequence: 1, received: 0b10 }]);
  p.clock.advance(1000);
  await flush();
  assert.equal(idle, 3);
  assert.equal(p.frames.length, 2);

  p.frames.length = 0;
  for (let i = 0; i < 10; i++) {
    p.link.send(msg(i));
    await flush();
    p.ack(i);
    p.clock.advance(600);
  }
  await flush();
  assert.equal(idle, 3, 'no keepalive while sending');
  assert.equal(p.frames.filter((f) => f.type === 'ack').length, 0);
  p.link.close('done');
});

test('an idle link calls onIdle every second but repeats its ACK only after LINK_ACK_REPEAT_IDLE_MS', async () => {
  const p = rawPeer();
  let idle = 0;
  p.link.onIdle = () => idle++;
  p.data(0);
  await flush();
  p.frames.length = 0;
  for (let i = 0; i < 10; i++) {
    p.clock.advance(1000);
    await flush();
  }
  assert.equal(idle, 10);
  assert.equal(p.frames.length, 0, 'no ACK repeated within 10 s');
  for (let i = 0; i < 20; i++) {
    p.clock.advance(1000);
    await flush();
  }
  assert.deepEqual(p.frames, [{ type: 'ack', ackSequence: 0, received: 0 }]);
  p.link.close('done');
});

test('send refuses and counts when too many frames are unacknowledged', async () => {
  const p = rawPeer({ sendQueueLimit: 4 });
  for (let i = 0; i < 4; i++) assert.equal(p.link.send(msg(i)), true);
  assert.equal(p.link.send(msg(4)), false);
  assert.equal(p.link.stats.sendQueueDrops, 1);
  p.ack(3); // cumulative on an ordered stream: frames 0..3 are all in
  await flush();
  assert.equal(p.link.send(msg(4)), true);
  assert.equal(p.link.send(new Uint8Array(5001)), false, 'over max-message-size');
  p.link.close('done');
  assert.equal(p.link.send(msg(5)), false, 'closed');
  assert.equal(p.link.stats.sendQueueDrops, 3);
});

test('send refuses when the socket write buffer is over its cap (backpressure)', () => {
  const stalled = new Duplex({ read() {}, write(_c, _e, _cb) {} }); // never drains
  const p = rawPeer({ writeBufferLimitBytes: 1000, sendQueueLimit: 1000 }, stalled);
  let sent = 0;
  while (p.link.send(new Uint8Array(100))) sent++;
  assert.ok(sent >= 9 && sent <= 11, `sent ${sent}`);
  assert.ok(stalled.writableLength <= 1000 + 108);
  assert.equal(p.link.stats.sendQueueDrops, 1);
  p.link.close('done');
});

test('a message over max-message-size calls onOversize, then closes the link (§6.6)', async () => {
  const p = rawPeer();
  const order: string[] = [];
  p.link.onOversize = (detail) => {
    order.push(`oversize open=${!p.link.closed} ${detail}`);
    p.link.send(msg(99)); // the overlay's Error_Message_Too_Large would go here
  };
  p.link.onClose = (r) => order.push(`close ${r}`);
  p.far.write(encode(FramedMessage, { type: 'data', sequence: 0, message: new Uint8Array(5001) }).subarray(0, 8));
  await flush();
  assert.equal(order.length, 2);
  assert.match(order[0], /^oversize open=true .*5001/);
  assert.equal(order[1], 'close message too large');
  assert.deepEqual(p.frames, [{ type: 'data', sequence: 0, message: msg(99) }], 'the answer is flushed before the close');
  assert.equal(p.far.readableEnded, true, 'the stream is closed');
});

test('garbage bytes close the link without throwing', async () => {
  const p = rawPeer();
  p.far.write(Uint8Array.of(0x16, 0x03, 0x01, 0x00));
  await flush();
  assert.deepEqual(p.closes, ['framing error']);
  assert.equal(p.clock.pending, 0);
});

test('a throwing owner callback is contained', async () => {
  const p = rawPeer();
  p.link.onMessage = () => {
    throw new Error('owner bug');
  };
  p.data(0);
  p.data(1);
  await flush();
  assert.equal(p.link.closed, false);
  assert.equal(p.frames.length, 2, 'both frames ACKed');
  p.link.close('done');
});

test('the peer ending the stream, or the stream failing, closes the link with a reason', async () => {
  const ended = rawPeer();
  ended.far.end();
  await flush();
  assert.deepEqual(ended.closes, ['remote closed']);
  const [near] = duplexPair();
  const failed = rawPeer({}, near);
  near.destroy(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
  await flush();
  assert.deepEqual(failed.closes, ['socket error: ECONNRESET']);
});

test('a memory link pair carries 100 messages each way, in order', async () => {
  const clock = new FakeClock();
  const [a, b] = memoryLinkPair({ clock }, { nodeId: A }, { nodeId: B });
  assert.deepEqual([a.outbound, b.outbound, a.remoteNodeId, b.remoteNodeId], [true, false, B, A]);
  const atA: Uint8Array[] = [];
  const atB: Uint8Array[] = [];
  a.onMessage = (m) => atA.push(m);
  b.onMessage = (m) => atB.push(m);
  for (let i = 0; i < 100; i++) {
    assert.equal(a.send(msg(i)), true);
    assert.equal(b.send(msg(1000 + i)), true);
    if (i % 50 === 49) await flush();
  }
  await flush();
  assert.deepEqual(atB, Array.from({ length: 100 }, (_, i) => msg(i)));
  assert.deepEqual(atA, Array.from({ length: 100 }, (_, i) => msg(1000 + i)));
  assert.equal(a.stats.acksReceived, 100);
  assert.equal(b.stats.framesReceived, 100);
  a.close('done');
  await flush();
  assert.equal(b.closed, true);
});

test('close is idempotent, clears its timers, and nothing calls back after it', async () => {
  const clock = new FakeClock();
  const [a, b] = memoryLinkPair({ clock }, { nodeId: A }, { nodeId: B });
  const calls: string[] = [];
  a.onMessage = () => calls.push('message');
  a.onClose = (r) => calls.push(`close ${r}`);
  a.onIdle = () => calls.push('idle');
  a.onOversize = () => calls.push('oversize');
  b.onMessage = () => {};
  a.send(msg(0)); // unacknowledged when closed: its failure timer must go too
  a.close('first');
  a.close('second');
  assert.deepEqual(calls, ['close first']);
  assert.equal(b.send(msg(1)), true);
  clock.advance(60_000);
  await flush();
  assert.deepEqual(calls, ['close first']);
  assert.equal(b.closed, true);
  assert.equal(clock.pending, 0);
});
