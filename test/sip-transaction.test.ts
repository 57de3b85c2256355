// The four transaction state machines of RFC 3261 §17 with every timer, on a fake clock and a
// transport that only records what it is given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type SipRequest, type SipResponse, SipHeaders } from '../src/sip/core/message.ts';
import {
  InviteClientTransaction, InviteServerTransaction, NonInviteClientTransaction, NonInviteServerTransaction, responseTo,
} from '../src/sip/core/transaction.ts';
import type { SipDestination } from '../src/sip/core/transport.ts';
import { FakeClock } from '../src/util/clock.ts';

const T1 = 500;
const T2 = 4000;
const T4 = 5000;
const dest: SipDestination = { transport: 'UDP', host: '127.0.0.1', port: 5060 };

function harness(): { clock: FakeClock; sent: (SipRequest | SipResponse)[]; components: { clock: FakeClock; transport: { send(m: SipRequest | SipResponse): Promise<void> } } } {
  const clock = new FakeClock();
  const sent: (SipRequest | SipResponse)[] = [];
  return { clock, sent, components: { clock, transport: { send: async (m) => { sent.push(m); } } } };
}

function request(method: string): SipRequest {
  const headers = new SipHeaders([
    ['Via', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKtest1'],
    ['Max-Forwards', '70'],
    ['From', '<sip:alice@building.example>;tag=a1'],
    ['To', '<sip:bob@building.example>'],
    ['Call-ID', 'call-1@127.0.0.1'],
    ['CSeq', `1 ${method}`],
  ]);
  return { type: 'request', method, uri: 'sip:bob@building.example', headers, body: new Uint8Array(0) };
}

function times(sent: unknown[], clockTimes: number[]): number[] {
  return clockTimes.slice(0, sent.length);
}

test('INVITE client over UDP: Timer A retransmits at T1, 2T1, 4T1 … and Timer B gives up at 64*T1', () => {
  const { clock, sent, components } = harness();
  const at: number[] = [];
  components.transport.send = async (m) => { sent.push(m); at.push(clock.now()); };
  let failure: string | undefined;
  const tx = new InviteClientTransaction(components, request('INVITE'), dest, false, { onResponse: () => {}, onFailure: (r) => { failure = r; } });
  tx.start();
  clock.advance(64 * T1);
  assert.deepEqual(times(sent, at).slice(0, 7), [0, 500, 1500, 3500, 7500, 15500, 31500]);
  assert.equal(failure, 'timeout');
  assert.equal(tx.state, 'terminated');
  assert.equal(clock.pending, 0, 'every timer is released on Terminated');
});

test('INVITE client over TCP: no retransmission, Timer B still applies', () => {
  const { clock, sent, components } = harness();
  let failure: string | undefined;
  const tx = new InviteClientTransaction(components, request('INVITE'), dest, true, { onResponse: () => {}, onFailure: (r) => { failure = r; } });
  tx.start();
  clock.advance(64 * T1 - 1);
  assert.equal(sent.length, 1);
  assert.equal(failure, undefined);
  clock.advance(1);
  assert.equal(failure, 'timeout');
});

test('INVITE client: a provisional stops Timer A; a 486 is ACKed, re-ACKed on retransmission, and Timer D ends it', () => {
  const { clock, sent, components } = harness();
  const seen: number[] = [];
  const invite = request('INVITE');
  const tx = new InviteClientTransaction(components, invite, dest, false, { onResponse: (r) => seen.push(r.status), onFailure: () => assert.fail('no failure') });
  tx.start();
  tx.receive(responseTo(invite, 180, undefined, 'b1'));
  assert.equal(tx.state, 'proceeding');
  clock.advance(10 * T1);
  assert.equal(sent.length, 1, 'no retransmission in Proceeding');
  const busy = responseTo(invite, 486, undefined, 'b1');
  tx.receive(busy);
  assert.equal(tx.state, 'completed');
  const ack = sent[1] as SipRequest;
  assert.equal(ack.method, 'ACK');
  assert.equal(ack.uri, invite.uri);
  assert.equal(ack.headers.get('CSeq'), '1 ACK');
  assert.equal(ack.headers.get('Via'), invite.headers.get('Via'), 'the ACK of a failure shares the INVITE branch (§17.1.1.3)');
  assert.match(ack.headers.get('To') ?? '', /tag=b1/);
  tx.receive(busy);
  assert.equal(sent.length, 3, 'a retransmitted final response is ACKed again');
  assert.deepEqual(seen, [180, 486], 'the TU sees the failure once');
  clock.advance(32_000);
  assert.equal(tx.state, 'terminated');
});

test('INVITE client: 2xx goes to Accepted (RFC 6026), later 2xx from other forks still reach the TU, Timer M ends it', () => {
  const { clock, components } = harness();
  const seen: string[] = [];
  const invite = request('INVITE');
  const tx = new InviteClientTransaction(components, invite, dest, false, { onResponse: (r) => seen.push(`${r.status}${r.headers.get('To')}`), onFailure: () => {} });
  tx.start();
  tx.receive(responseTo(invite, 200, undefined, 'x'));
  tx.receive(responseTo(invite, 200, undefined, 'y'));
  assert.equal(tx.state, 'accepted');
  assert.equal(seen.length, 2);
  clock.advance(64 * T1);
  assert.equal(tx.state, 'terminated');
});

test('non-INVITE client over UDP: Timer E doubles up to T2, keeps T2 in Proceeding; Timer K after the final', () => {
  const { clock, sent, components } = harness();
  const at: number[] = [];
  components.transport.send = async (m) => { sent.push(m); at.push(clock.now()); };
  const bye = request('BYE');
  const tx = new NonInviteClientTransaction(components, bye, dest, false, { onResponse: () => {}, onFailure: () => {} });
  tx.start();
  clock.advance(7500);
  assert.deepEqual(at, [0, 500, 1500, 3500, 7500]);
  tx.receive(responseTo(bye, 100));
  assert.equal(tx.state, 'proceeding');
  clock.advance(T2);
  assert.equal(at.at(-1), 7500 + T2, 'Proceeding retransmits every T2');
  tx.receive(responseTo(bye, 200));
  assert.equal(tx.state, 'completed');
  const n = sent.length;
  clock.advance(T4);
  assert.equal(tx.state, 'terminated');
  assert.equal(sent.length, n);
});

test('non-INVITE client: Timer F is a timeout for the TU', () => {
  const { clock, components } = harness();
  let failure: string | undefined;
  const tx = new NonInviteClientTransaction(components, request('OPTIONS'), dest, true, { onResponse: () => {}, onFailure: (r) => { failure = r; } });
  tx.start();
  clock.advance(64 * T1);
  assert.equal(failure, 'timeout');
  assert.equal(clock.pending, 0);
});

test('a transport failure ends a client transaction and tells the TU', async () => {
  const { components } = harness();
  components.transport.send = async () => { throw new Error('ECONNREFUSED'); };
  let failure: string | undefined;
  const tx = new NonInviteClientTransaction(components, request('INFO'), dest, true, { onResponse: () => {}, onFailure: (r) => { failure = r; } });
  tx.start();
  await new Promise((r) => setImmediate(r));
  assert.equal(failure, 'transport');
  assert.equal(tx.state, 'terminated');
});

test('INVITE server: 100 Trying after 200 ms, the provisional repeated for a retransmitted INVITE', () => {
  const { clock, sent, components } = harness();
  const invite = request('INVITE');
  const tx = new InviteServerTransaction(components, invite, dest, false);
  clock.advance(200);
  assert.equal((sent[0] as SipResponse).status, 100);
  tx.respond(responseTo(invite, 180, undefined, 't'));
  tx.receive(invite);
  assert.deepEqual(sent.map((m) => (m as SipResponse).status), [100, 180, 180]);
});

test('INVITE server: a 486 is retransmitted by Timer G until the ACK; Confirmed absorbs ACKs; Timer I ends it', () => {
  const { clock, sent, components } = harness();
  const at: number[] = [];
  components.transport.send = async (m) => { sent.push(m); at.push(clock.now()); };
  const invite = request('INVITE');
  const tx = new InviteServerTransaction(components, invite, dest, false);
  tx.respond(responseTo(invite, 486, undefined, 't'));
  clock.advance(3500);
  assert.deepEqual(at, [0, 500, 1500, 3500]);
  const ack = { ...request('ACK') };
  tx.receive(ack);
  assert.equal(tx.state, 'confirmed');
  clock.advance(T2);
  assert.equal(sent.length, 4, 'no retransmission once confirmed');
  clock.advance(T4);
  assert.equal(tx.state, 'terminated');
});

test('INVITE server: Timer H fires when no ACK comes', () => {
  const { clock, components } = harness();
  const invite = request('INVITE');
  const tx = new InviteServerTransaction(components, invite, dest, true);
  let failure: string | undefined;
  tx.onFailure = (r) => { failure = r; };
  tx.respond(responseTo(invite, 603, undefined, 't'));
  clock.advance(64 * T1);
  assert.equal(failure, 'no-ack');
  assert.equal(tx.state, 'terminated');
});

test('INVITE server: a 2xx is retransmitted (T1 doubling to T2) until the dialog reports the ACK', () => {
  const { clock, sent, components } = harness();
  const at: number[] = [];
  components.transport.send = async (m) => { sent.push(m); at.push(clock.now()); };
  const invite = request('INVITE');
  const tx = new InviteServerTransaction(components, invite, dest, false);
  tx.respond(responseTo(invite, 200, undefined, 't'));
  assert.equal(tx.state, 'accepted');
  clock.advance(7500);
  assert.deepEqual(at, [0, 500, 1500, 3500, 7500]);
  tx.receive(invite);
  assert.equal(sent.length, 5, 'Accepted absorbs a retransmitted INVITE');
  tx.acknowledged();
  clock.advance(T2 * 3);
  assert.equal(sent.length, 5);
  clock.advance(64 * T1);
  assert.equal(tx.state, 'terminated');
});

test('non-INVITE server: the final response is repeated for retransmissions, Timer J over UDP, at once over TCP', () => {
  const { clock, sent, components } = harness();
  const bye = request('BYE');
  const udp = new NonInviteServerTransaction(components, bye, dest, false);
  udp.respond(responseTo(bye, 200));
  udp.receive();
  assert.equal(sent.length, 2);
  clock.advance(64 * T1 - 1);
  assert.equal(udp.state, 'completed');
  clock.advance(1);
  assert.equal(udp.state, 'terminated');
  const tcp = new NonInviteServerTransaction(components, bye, dest, true);
  tcp.respond(responseTo(bye, 200));
  clock.advance(0);
  assert.equal(tcp.state, 'terminated');
});

test('illegal transitions are refused: a response after Terminated changes nothing', () => {
  const { clock, sent, components } = harness();
  const bye = request('BYE');
  const tx = new NonInviteServerTransaction(components, bye, dest, true);
  tx.respond(responseTo(bye, 200));
  clock.advance(0);
  tx.respond(responseTo(bye, 500));
  assert.equal(sent.length, 1);
  assert.equal(tx.state, 'terminated');
});
