// DTMF: the RFC 4733 payload, the sender's packet schedule on a fake clock, the receiver's
// exactly-once delivery under loss, duplication and timeouts, and SIP INFO bodies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NeedMoreBytes } from '../src/codec/cursor.ts';
import {
  decodeTelephoneEvent, digitToEvent, DtmfReceiver, DtmfSender, encodeTelephoneEvent, eventToDigit, formatDtmfInfo, parseDtmfInfo,
  type DtmfPacket,
} from '../src/sip/media/dtmf.ts';
import { FakeClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';

const log = silentLogger;

test('telephone-event payload (RFC 4733 §2.3): hand-worked bytes, R bit ignored', () => {
  const bytes = encodeTelephoneEvent({ event: 5, end: true, volume: 10, duration: 800 });
  assert.equal(Buffer.from(bytes).toString('hex'), '058a0320');
  assert.deepEqual(decodeTelephoneEvent(bytes), { event: 5, end: true, volume: 10, duration: 800 });
  // R set by a sloppy sender: ignored (§2.3.3).
  assert.deepEqual(decodeTelephoneEvent(Uint8Array.from([11, 0x4a, 0, 160])), { event: 11, end: false, volume: 10, duration: 160 });
  assert.throws(() => decodeTelephoneEvent(Uint8Array.from([1, 2, 3])), NeedMoreBytes);
  assert.throws(() => encodeTelephoneEvent({ event: 1, end: false, volume: 64, duration: 1 }), RangeError);
});

test('event codes of §3.2 map to digits both ways', () => {
  assert.equal([...Array(16).keys()].map((e) => eventToDigit(e)).join(''), '0123456789*#ABCD');
  assert.equal(eventToDigit(16), undefined);
  assert.equal(digitToEvent('#'), 11);
  assert.equal(digitToEvent('d'), 15);
  assert.equal(digitToEvent('E'), undefined);
  assert.equal(digitToEvent('12'), undefined);
});

interface Sent extends DtmfPacket {
  at: number;
}

function makeSender(clock: FakeClock, init: Partial<ConstructorParameters<typeof DtmfSender>[1]> = {}) {
  const sent: Sent[] = [];
  const done: string[] = [];
  const sender = new DtmfSender({ clock, log }, {
    send: (p) => sent.push({ ...p, at: clock.now() }),
    // The audio timeline: 8 units per ms from an arbitrary base.
    timestamp: () => (1000 + clock.now() * 8) >>> 0,
    onDigitSent: (d) => done.push(d),
    ...init,
  });
  return { sender, sent, done };
}

test('sender: one digit is M+400, E+800 three times, every 50 ms, one timestamp (RFC 4733 §5 Table 5)', () => {
  const clock = new FakeClock();
  const { sender, sent, done } = makeSender(clock);
  assert.equal(sender.enqueue('5'), 1);
  assert.equal(sender.busy, true);
  clock.advance(1000);
  assert.deepEqual(sent.map((p) => [p.at, p.marker, p.event.end, p.event.duration, p.timestamp, p.event.event, p.event.volume]), [
    [50, true, false, 400, 1000, 5, 10],
    [100, false, true, 800, 1000, 5, 10],
    [150, false, true, 800, 1000, 5, 10],
    [200, false, true, 800, 1000, 5, 10],
  ]);
  assert.deepEqual(done, ['5']);
  assert.equal(sender.state, 'idle');
  assert.equal(sender.busy, false);
  assert.equal(sender.stats.sent, 1);
  assert.equal(clock.pending, 0);
});

test('sender: a queue of digits goes out in order with a gap, each with its own timestamp', () => {
  const clock = new FakeClock();
  const { sender, sent, done } = makeSender(clock, { toneMs: 160, gapMs: 40 });
  sender.enqueue('1234#');
  clock.advance(5000);
  assert.deepEqual(done, ['1', '2', '3', '4', '#']);
  const starts = sent.filter((p) => p.marker);
  assert.deepEqual(starts.map((p) => p.event.event), [1, 2, 3, 4, 11]);
  // 160 ms at 50 ms intervals: 400, 800, 1200, then 1280 with E (three times).
  assert.deepEqual(sent.slice(0, 6).map((p) => [p.event.duration, p.event.end]), [[400, false], [800, false], [1200, false], [1280, true], [1280, true], [1280, true]]);
  // Digit n+1 starts after digit n's last packet (at 300 ms) plus the 40 ms gap.
  const timestamps = [...new Set(sent.map((p) => p.timestamp))];
  assert.deepEqual(timestamps, [0, 340, 680, 1020, 1360].map((ms) => 1000 + ms * 8));
});

test('sender: queue bound refuses and counts; bad characters throw; stop() ends everything', () => {
  const clock = new FakeClock();
  const { sender, sent } = makeSender(clock, { queueLimit: 3 });
  // The first digit starts at once, so the queue holds the next three.
  assert.equal(sender.enqueue('123456'), 4);
  assert.equal(sender.stats.refused, 2);
  assert.equal(sender.queued, 3);
  assert.throws(() => sender.enqueue('1x'), RangeError);
  clock.advance(60);
  assert.equal(sent.length, 1);
  sender.stop();
  sender.stop();
  assert.equal(clock.pending, 0);
  clock.advance(10_000);
  assert.equal(sent.length, 1);
  assert.equal(sender.enqueue('1'), 0);
});

function receiverOn(clock: FakeClock) {
  const digits: string[] = [];
  const receiver = new DtmfReceiver({ clock, log }, { onDigit: (d) => digits.push(d) });
  return { receiver, digits };
}

/** Runs a sender for `digits` and returns its packets with their send times. */
function senderPackets(digits: string): Sent[] {
  const clock = new FakeClock();
  const { sender, sent } = makeSender(clock);
  sender.enqueue(digits);
  clock.advance(60_000);
  return sent;
}

/** Delivers `packets` to a receiver on its own clock at their send times. */
function deliver(packets: Sent[], keep: (p: Sent, i: number) => boolean = () => true): { digits: string[]; receiver: DtmfReceiver; clock: FakeClock } {
  const clock = new FakeClock();
  const { receiver, digits } = receiverOn(clock);
  packets.forEach((p, i) => {
    if (p.at > clock.now()) clock.advance(p.at - clock.now());
    if (keep(p, i)) receiver.receive(p.event, p.timestamp, p.marker);
  });
  clock.advance(1000);
  return { digits, receiver, clock };
}

test('receiver: every digit exactly once, in order, from the sender\'s packets', () => {
  const packets = senderPackets('1234#*0ABCD');
  assert.deepEqual(deliver(packets).digits.join(''), '1234#*0ABCD');
  // Each packet twice (a duplicating network): still once.
  const doubled = packets.flatMap((p) => [p, p]);
  assert.equal(deliver(doubled).digits.join(''), '1234#*0ABCD');
});

test('receiver: first packets lost, end packets lost, only one end packet left', () => {
  const packets = senderPackets('1212');
  // No M packet at all: digits still arrive (§2.5.2.2, first packet lost).
  assert.equal(deliver(packets, (p) => !p.marker).digits.join(''), '1212');
  // No E packet at all: the timeout ends each event, the next timestamp starts a new one.
  const noEnds = deliver(packets, (p) => !p.event.end);
  assert.equal(noEnds.digits.join(''), '1212');
  assert.equal(noEnds.receiver.stats.endsLost, 4);
  assert.equal(noEnds.receiver.active, undefined);
  // Only the last retransmission of each end survives.
  assert.equal(deliver(packets, (p, i) => packets[i + 1]?.timestamp !== p.timestamp).digits.join(''), '1212');
});

test('receiver property: any loss pattern yields exactly the events with a surviving packet', () => {
  const packets = senderPackets('123456789#');
  fc.assert(fc.property(fc.array(fc.boolean(), { minLength: packets.length, maxLength: packets.length }), (keep) => {
    const expected = [...new Set(packets.filter((_, i) => keep[i]).map((p) => p.timestamp))]
      .map((ts) => eventToDigit(packets.find((p) => p.timestamp === ts)!.event.event)).join('');
    assert.equal(deliver(packets, (_, i) => keep[i]).digits.join(''), expected);
  }), { numRuns: 300 });
});

test('receiver: late reports after the timeout are not a second digit; zero duration and non-DTMF are ignored', () => {
  const clock = new FakeClock();
  const { receiver, digits } = receiverOn(clock);
  receiver.receive({ event: 7, end: false, volume: 10, duration: 400 }, 5000, true);
  assert.equal(receiver.active, '7');
  clock.advance(500);
  assert.equal(receiver.active, undefined);
  receiver.receive({ event: 7, end: true, volume: 10, duration: 800 }, 5000, false);
  assert.deepEqual(digits, ['7']);
  // §2.3.5: zero duration is not a DTMF report; flash (16) is not a digit.
  receiver.receive({ event: 3, end: false, volume: 10, duration: 0 }, 9000, true);
  receiver.receive({ event: 16, end: false, volume: 10, duration: 400 }, 9400, true);
  assert.deepEqual(digits, ['7']);
  assert.equal(receiver.stats.ignored, 3);
  // The same digit again, at a new timestamp, is a new press.
  receiver.receive({ event: 7, end: false, volume: 10, duration: 400 }, 12000, true);
  assert.deepEqual(digits, ['7', '7']);
  receiver.stop();
  receiver.receive({ event: 8, end: false, volume: 10, duration: 400 }, 20000, true);
  assert.deepEqual(digits, ['7', '7']);
  assert.equal(clock.pending, 0);
});

test('receiver: the next segment of a long-duration event (§2.5.2.3) is not a new digit', () => {
  const clock = new FakeClock();
  const { receiver, digits } = receiverOn(clock);
  receiver.receive({ event: 0, end: false, volume: 10, duration: 0xffff }, 100, true);
  clock.advance(50);
  receiver.receive({ event: 0, end: false, volume: 10, duration: 400 }, 100 + 0xffff, false);
  receiver.receive({ event: 0, end: true, volume: 10, duration: 800 }, 100 + 0xffff, false);
  assert.deepEqual(digits, ['0']);
});

test('SIP INFO bodies: application/dtmf-relay and application/dtmf, both ways', () => {
  assert.deepEqual(parseDtmfInfo('application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n'), { digit: '5', durationMs: 160 });
  assert.deepEqual(parseDtmfInfo('Application/DTMF-Relay; charset=x', 'signal= #\nduration = 250'), { digit: '#', durationMs: 250 });
  assert.deepEqual(parseDtmfInfo('application/dtmf-relay', 'Signal=11\r\n'), { digit: '#' });
  assert.deepEqual(parseDtmfInfo('application/dtmf-relay', 'Signal=a\r\nDuration=x\r\n'), { digit: 'A' });
  assert.equal(parseDtmfInfo('application/dtmf-relay', 'Duration=160\r\n'), undefined);
  assert.equal(parseDtmfInfo('application/dtmf-relay', 'Signal=E\r\n'), undefined);
  assert.deepEqual(parseDtmfInfo('application/dtmf', '7\r\n'), { digit: '7' });
  assert.deepEqual(parseDtmfInfo('application/dtmf', '10'), { digit: '*' });
  assert.equal(parseDtmfInfo('application/sdp', 'Signal=5'), undefined);
  assert.equal(parseDtmfInfo('application/dtmf-relay', `Signal=5\r\n${'x'.repeat(1000)}`), undefined);
  assert.deepEqual(formatDtmfInfo({ digit: '5' }), { contentType: 'application/dtmf-relay', body: 'Signal=5\r\nDuration=160\r\n' });
  assert.deepEqual(formatDtmfInfo({ digit: 'b', durationMs: 100 }), { contentType: 'application/dtmf-relay', body: 'Signal=B\r\nDuration=100\r\n' });
  assert.deepEqual(formatDtmfInfo({ digit: '#' }, 'application/dtmf'), { contentType: 'application/dtmf', body: '#' });
  assert.throws(() => formatDtmfInfo({ digit: 'x' }), RangeError);
  for (const d of '0123456789*#ABCD') {
    const { contentType, body } = formatDtmfInfo({ digit: d, durationMs: 200 });
    assert.deepEqual(parseDtmfInfo(contentType, body), { digit: d, durationMs: 200 });
  }
});
