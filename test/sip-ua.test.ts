// User agents talking to each other over real UDP and TCP sockets on 127.0.0.1: calls in both
// directions, parallel forking (RFC 3261 §13.2.2.4, §9.1), every way a call can end, DTMF as
// SIP INFO and as RFC 4733 events, OPTIONS, the error answers of §8.2 and §12.2.2, re-INVITE
// (§14.2), and what closing a UA does to its calls. Timers are shortened through T1 and the
// UA's own no-answer and ring timeouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type SipRequest, type SipResponse, SipHeaders } from '../src/sip/core/message.ts';
import type { SipDestination } from '../src/sip/core/transport.ts';
import { newCallId, newTag } from '../src/sip/core/dialog.ts';
import type { Call, Fork } from '../src/sip/ua/call.ts';
import { rtpMediaFactory } from '../src/sip/ua/rtp-media-leg.ts';
import type { Locator } from '../src/sip/ua/user-agent.ts';
import { plainSipTarget } from '../src/usage/sip/locator.ts';
import { systemClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import { type Agent, HOST, agents } from './harness/sip-agents.ts';
import { sleep, until } from './harness/wait.ts';

/** The next incoming call ringing at `agent` (after `skip` earlier ones). */
function ringing(agent: Agent, skip = 0): Promise<Call> {
  return until(`a call ringing at ${agent.name}`, () => agent.events.filter((e) => e.event === 'incoming')[skip]?.call);
}

function ended(agent: Agent, call: Call): Promise<Call> {
  return until(`call ${call.id} at ${agent.name} ended`, () => call.ended && call);
}

function timelineOf(call: Call): string {
  return call.timeline.map((e) => e.event).join(' | ');
}

/** Call-IDs of the INVITEs `agent` received (retransmissions counted once). */
function invitesReceived(agent: Agent): Set<string> {
  return new Set(agent.received.flatMap(({ message: m }) => (m.type === 'request' && m.method === 'INVITE' ? [m.headers.get('Call-ID') ?? ''] : [])));
}

/** An out-of-dialog request from `from` to `to`, sent in a client transaction of `from`'s layer. */
function sendRequest(from: Agent, to: Agent, method: string, opts: { tcp?: boolean; headers?: [string, string][]; toTag?: string; body?: { type: string; text: string } } = {}): Promise<SipResponse> {
  const headers = new SipHeaders();
  headers.add('Max-Forwards', '70');
  headers.add('From', `<sip:${from.name}@${HOST}>;tag=${newTag()}`);
  headers.add('To', `<sip:${to.name}@${HOST}>${opts.toTag ? `;tag=${opts.toTag}` : ''}`);
  headers.add('Call-ID', newCallId(HOST));
  headers.add('CSeq', `1 ${method}`);
  for (const [n, v] of opts.headers ?? []) headers.add(n, v);
  if (opts.body) headers.add('Content-Type', opts.body.type);
  const request: SipRequest = { type: 'request', method, uri: to.uri(opts.tcp), headers, body: Buffer.from(opts.body?.text ?? '') };
  return inTransaction(from, request, { transport: opts.tcp ? 'TCP' : 'UDP', host: HOST, port: to.transport.port });
}

/** Sends `request` in a client transaction and resolves with its final response. */
function inTransaction(from: Agent, request: SipRequest, to: SipDestination): Promise<SipResponse> {
  return new Promise((resolve, reject) => {
    from.transactions.request(request, to, {
      onResponse: (r) => { if (r.status >= 200) resolve(r); },
      onFailure: (reason) => reject(new Error(`${request.method} failed: ${reason}`)),
    });
  });
}

/** A calls B (B rings), B answers, and both see the call active. */
async function establish(a: Agent, b: Agent, opts: { tcp?: boolean; skip?: number } = {}): Promise<{ out: Call; inc: Call }> {
  const out = a.ua.call(b.uri(opts.tcp));
  const inc = await ringing(b, opts.skip);
  await until('ringing at the caller', () => out.state === 'ringing');
  b.ua.answer(inc.id);
  await until('caller active', () => out.state === 'active');
  return { out, inc };
}

for (const tcp of [false, true]) {
  const over = tcp ? 'TCP' : 'UDP';

  test(`over ${over}: A calls B, B answers, A hangs up with BYE`, async (t) => {
    const [a, b] = await agents(t, ['alice'], ['bob']);
    const { out, inc } = await establish(a, b, { tcp });
    assert.equal(inc.state, 'active');
    assert.deepEqual(a.events.filter((e) => e.call === out).map((e) => e.event), ['ringing', 'answered']);
    assert.ok(a.media[0].started && b.media[0].started, 'media starts on both sides once answered');
    await until('ACK at the callee', () => /ACK received/.test(timelineOf(inc)));

    a.ua.hangup(out.id);
    await ended(b, inc);
    assert.equal(out.endReason, 'hangup-local');
    assert.equal(inc.endReason, 'hangup-remote');
    await until('200 to the BYE', () => /200 OK to BYE/.test(timelineOf(out)));
    assert.match(timelineOf(out), /INVITE sent to .*180 Ringing from .*answered by .*hung up: BYE.*ended: hangup-local/);
    assert.match(timelineOf(inc), /180 Ringing sent.*answered: 200 OK sent.*ACK received.*BYE received.*ended: hangup-remote/);
    assert.ok(a.media[0].closed && b.media[0].closed, 'media closed at both ends');
    const status = out.status() as { state: string; endReason: string; forks: { state: string; status: number }[]; durationMs: number };
    assert.equal(status.state, 'ended');
    assert.deepEqual(status.forks.map((f) => [f.state, f.status]), [['answered', 200]]);
    // Every message of the call went over the transport the target URI named (§18.1.1).
    assert.deepEqual(new Set([...a.received, ...b.received].map((r) => r.transport)), new Set([over]));
    if (tcp) assert.ok(a.transport.flowCount >= 1 && b.transport.flowCount >= 1, 'a TCP flow carries the call');
  });

  test(`over ${over}: B answers, then B hangs up with BYE`, async (t) => {
    const [a, b] = await agents(t, ['alice'], ['bob']);
    const { out, inc } = await establish(a, b, { tcp });
    await until('ACK at the callee', () => /ACK received/.test(timelineOf(inc)));
    b.ua.hangup(inc.id);
    await ended(a, out);
    assert.equal(out.endReason, 'hangup-remote');
    assert.equal(inc.endReason, 'hangup-local');
    await until('200 to the BYE', () => /200 OK to BYE/.test(timelineOf(inc)));
    assert.deepEqual(a.events.filter((e) => e.call === out).map((e) => e.event), ['ringing', 'answered', 'ended']);
    assert.deepEqual(b.events.filter((e) => e.call === inc).map((e) => e.event), ['incoming', 'answered', 'ended']);
  });
}

/** A locator that forks every call to the given agents, in order. */
function forkingTo(...targets: Agent[]): Locator {
  return { async locate() { return targets.map((b) => plainSipTarget(b.uri(), () => false) as Fork); } };
}

test('parallel forking: the second device answers, the first is cancelled (487, RFC 3326 Reason cause 200) and ends answered elsewhere', async (t) => {
  const [b1, b2] = await agents(t, ['bob1'], ['bob2']);
  const [a] = await agents(t, ['alice', { locator: forkingTo(b1, b2) }]);
  const out = a.ua.call('bob@building.example');
  const [r1, r2] = [await ringing(b1), await ringing(b2)];
  await until('both branches ringing', () => out.forks.filter((f) => f.state === 'ringing').length === 2);
  b2.ua.answer(r2.id);
  await until('caller active', () => out.state === 'active');
  await ended(b1, r1);
  assert.equal(r1.endReason, 'answered-elsewhere');
  assert.match(timelineOf(r1), /CANCEL received \(answered elsewhere\): 487/);
  assert.equal(r2.state, 'active');
  await until('487 for the cancelled branch', () => out.forks[0].state === 'cancelled');
  assert.deepEqual(out.forks.map((f) => [f.state, f.status]), [['cancelled', 487], ['answered', 200]]);
  assert.match(timelineOf(out), /answered by 127\.0\.0\.1:\d+.*487 Request Terminated/);
  assert.ok(b1.media[0].closed, 'the cancelled device released its media');
  // The call is with B2 only: hanging up reaches B2.
  a.ua.hangup(out.id);
  await ended(b2, r2);
  assert.equal(r2.endReason, 'hangup-remote');
});

test('both devices answer at once: the caller keeps one dialog and sends BYE on the other (§13.2.2.4)', async (t) => {
  const [b1, b2] = await agents(t, ['bob1'], ['bob2']);
  const [a] = await agents(t, ['alice', { locator: forkingTo(b1, b2) }]);
  const out = a.ua.call('bob@building.example');
  const [r1, r2] = [await ringing(b1), await ringing(b2)];
  await until('both branches ringing', () => out.forks.filter((f) => f.state === 'ringing').length === 2);
  b1.ua.answer(r1.id);
  b2.ua.answer(r2.id);
  await until('caller active', () => out.state === 'active');
  // Exactly one of them is hung up by the caller; the other stays in the call.
  const loser = await until('one answer ended by BYE', () => [r1, r2].find((c) => c.ended));
  const winner = loser === r1 ? r2 : r1;
  assert.equal(loser.endReason, 'hangup-remote');
  await sleep(200);
  assert.equal(winner.state, 'active', 'the kept dialog is untouched');
  assert.equal(out.state, 'active');
  assert.equal(out.dialog?.remoteTag, winner.dialog?.localTag, 'the caller keeps the dialog of the answer it kept');
  assert.match(timelineOf(out), /second answer from .*: ending it/);
  // §13.2.2.4: every 2xx gets its ACK, the one whose dialog is then ended with BYE too.
  for (const [agent, call] of [[b1, r1], [b2, r2]] as const) {
    await until(`ACK at ${agent.name}`, () => agent.received.some(({ message: m }) => m.type === 'request' && m.method === 'ACK' && m.headers.get('Call-ID') === call.dialog?.callId));
  }
  a.ua.hangup(out.id);
  await ended(winner === r1 ? b1 : b2, winner);
  assert.equal(winner.endReason, 'hangup-remote');
});

test('busy: a callee at maxCalls answers 486 and the caller ends busy', async (t) => {
  const [a, b, c] = await agents(t, ['alice'], ['bob', { maxCalls: 1 }], ['carol']);
  c.ua.call(b.uri());
  await ringing(b);
  const out = a.ua.call(b.uri());
  await ended(a, out);
  assert.equal(out.endReason, 'busy');
  assert.equal(out.endStatus, 486);
  assert.deepEqual(out.forks.map((f) => [f.state, f.status]), [['failed', 486]]);
  assert.equal(b.ua.counters.busyRefused, 1);
  assert.equal(b.events.filter((e) => e.event === 'incoming').length, 1, 'the refused call never rang');
  // The 486 was acknowledged (§17.1.1.3) rather than retransmitted to exhaustion.
  await until('ACK for the 486', () => b.received.some(({ message: m }) => m.type === 'request' && m.method === 'ACK'));
});

test('decline: the callee hangs up while ringing, 603 reaches the caller as declined', async (t) => {
  const [a, b] = await agents(t, ['alice'], ['bob']);
  const out = a.ua.call(b.uri());
  const inc = await ringing(b);
  await until('ringing at the caller', () => out.state === 'ringing');
  b.ua.hangup(inc.id);
  await ended(a, out);
  assert.equal(inc.endReason, 'declined');
  assert.equal(out.endReason, 'declined');
  assert.equal(out.endStatus, 603);
  assert.ok(b.media[0].closed);
});

test('no answer: the caller cancels after noAnswerMs; the callee ends cancelled', async (t) => {
  const [a, b] = await agents(t, ['alice', { noAnswerMs: 300 }], ['bob']);
  const started = performance.now();
  const out = a.ua.call(b.uri());
  const inc = await ringing(b);
  await ended(a, out);
  assert.ok(performance.now() - started >= 280, 'not before noAnswerMs');
  assert.equal(out.endReason, 'no-answer');
  await ended(b, inc);
  assert.equal(inc.endReason, 'cancelled');
  await until('487 at the caller', () => out.forks[0].status === 487);
  assert.equal(out.forks[0].state, 'cancelled');
});

test('ring timeout: the callee answers 480 after ringTimeoutMs; the caller ends unavailable', async (t) => {
  const [a, b] = await agents(t, ['alice'], ['bob', { ringTimeoutMs: 300 }]);
  const out = a.ua.call(b.uri());
  const inc = await ringing(b);
  await ended(a, out);
  assert.equal(out.endReason, 'unavailable');
  assert.equal(out.endStatus, 480);
  assert.equal(inc.endReason, 'no-answer');
  assert.match(timelineOf(inc), /nobody answered: 480/);
});

test('hang up before any provisional: the CANCEL waits for the first 1xx (§9.1) and the call still ends cleanly', async (t) => {
  const [a, b] = await agents(t, ['alice'], ['bob']);
  const out = a.ua.call(b.uri());
  // The caller hangs up the moment its INVITE reaches B, before B has answered anything.
  let heldAtHangup: boolean | undefined;
  b.beforeReceive = (m) => {
    if (m.type !== 'request' || m.method !== 'INVITE' || heldAtHangup !== undefined) return;
    a.ua.hangup(out.id);
    heldAtHangup = out.forks[0].cancelPending;
  };
  await ended(a, out);
  assert.equal(out.endReason, 'cancelled');
  assert.equal(heldAtHangup, true, 'with no 1xx yet, the CANCEL is held');
  const cancelAt = (await until('CANCEL at the callee', () => b.received.find(({ message: m }) => m.type === 'request' && m.method === 'CANCEL'))).at;
  const firstProvisional = a.received.find(({ message: m }) => m.type === 'response' && m.status < 200);
  assert.ok(firstProvisional && firstProvisional.at <= cancelAt, 'a provisional response reached the caller before the CANCEL left');
  const inc = b.ua.all()[0];
  await ended(b, inc);
  assert.equal(inc.endReason, 'cancelled');
  assert.match(timelineOf(inc), /CANCEL received: 487/);
  await until('487 at the caller', () => out.forks[0].status === 487);
  assert.equal(out.forks[0].state, 'cancelled');
  await until('ACK for the 487 at the callee', () => b.received.some(({ message: m }) => m.type === 'request' && m.method === 'ACK'));
  assert.ok(b.media.every((m) => m.closed), 'the callee released whatever media it opened');
});

test('DTMF via SIP INFO arrives in order, one INFO per digit', async (t) => {
  const [a, b] = await agents(t, ['alice'], ['bob']);
  const { out, inc } = await establish(a, b);
  a.ua.dtmf('159#*0', { mode: 'info' });
  await until('six digits at the callee', () => inc.dtmfReceived.length === 6);
  assert.equal(inc.dtmfReceived, '159#*0');
  assert.deepEqual(b.events.filter((e) => e.event === 'dtmf').map((e) => e.detail), ['1', '5', '9', '#', '*', '0']);
  assert.equal(out.dtmfSent, '159#*0');
  const infos = b.received.filter(({ message: m }) => m.type === 'request' && m.method === 'INFO').map(({ message: m }) => m.headers.get('CSeq'));
  assert.equal(infos.length, 6);
  // And the other way round.
  b.ua.dtmf('7', { id: inc.id, mode: 'info' });
  await until('digit at the caller', () => out.dtmfReceived === '7');
});

test('DTMF via RFC 4733 events over real RTP arrives', async (t) => {
  const media = rtpMediaFactory({ clock: systemClock, log: silentLogger }, { address: HOST, source: 'tone:440' });
  const [a, b] = await agents(t, ['alice', { media }], ['bob', { media }]);
  const { out, inc } = await establish(a, b);
  a.ua.dtmf('42#');
  await until('three digits at the callee', () => inc.dtmfReceived.length === 3, 5000);
  assert.equal(inc.dtmfReceived, '42#');
  assert.match(timelineOf(out), /DTMF 42# sent as RFC 4733 events/);
  assert.match(timelineOf(inc), /DTMF 4 received \(RFC 4733\)/);
  assert.ok(!b.received.some(({ message: m }) => m.type === 'request' && m.method === 'INFO'), 'no INFO was needed');
  a.ua.hangup(out.id);
  await ended(b, inc);
});

for (const tcp of [false, true]) {
  test(`OPTIONS over ${tcp ? 'TCP' : 'UDP'} is answered 200 with Allow and Accept (§11.2)`, async (t) => {
    const [a, b] = await agents(t, ['alice'], ['bob']);
    const r = await sendRequest(a, b, 'OPTIONS', { tcp });
    assert.equal(r.status, 200);
    // List headers arrive split into one entry per element (§7.3.1).
    const allow = r.headers.all('Allow');
    for (const m of ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'INFO']) assert.ok(allow.includes(m), `Allow lists ${m}`);
    assert.ok(r.headers.all('Accept').includes('application/sdp'));
    assert.match(r.headers.get('To') ?? '', /;tag=/, '§8.2.6.2: the UAS adds a To tag');
  });
}

test('BYE for a dialog that does not exist is answered 481 (§12.2.2, §15.1.2)', async (t) => {
  const [a, b] = await agents(t, ['alice'], ['bob']);
  assert.equal((await sendRequest(a, b, 'BYE', { toTag: 'nosuchtag' })).status, 481);
  assert.equal((await sendRequest(a, b, 'BYE')).status, 481);
  assert.equal((await sendRequest(a, b, 'INFO', { toTag: 'nosuchtag' })).status, 481);
});

test('Require: foo is refused with 420 and Unsupported: foo (§8.2.2.3), for OPTIONS and INVITE', async (t) => {
  const [a, b] = await agents(t, ['alice'], ['bob']);
  const r = await sendRequest(a, b, 'OPTIONS', { headers: [['Require', 'foo']] });
  assert.equal(r.status, 420);
  assert.equal(r.headers.get('Unsupported'), 'foo');
  const invite = await sendRequest(a, b, 'INVITE', { headers: [['Require', 'foo, 100rel']], body: { type: 'application/sdp', text: 'v=0\r\n' } });
  assert.equal(invite.status, 420);
  assert.deepEqual(invite.headers.all('Unsupported'), ['foo', '100rel']);
  assert.equal(b.ua.all().length, 0, 'no call was started');
});

test('INFO with a content type the UA does not know is refused with 415 and Accept', async (t) => {
  const [a, b] = await agents(t, ['alice'], ['bob']);
  const { out, inc } = await establish(a, b);
  const info = out.dialog!.request('INFO', { type: 'application/x-unknown', bytes: Buffer.from('whatever') });
  const r = await inTransaction(a, info, out.destination!);
  assert.equal(r.status, 415);
  assert.ok(r.headers.all('Accept').includes('application/dtmf-relay'));
  assert.equal(inc.state, 'active', 'the call survives a refused INFO');
  assert.equal(inc.dtmfReceived, '');
});

test('re-INVITE in an active call is answered 200 with SDP, and its ACK stops the 200 (§13.3.1.4, §14.2)', async (t) => {
  const media = rtpMediaFactory({ clock: systemClock, log: silentLogger }, { address: HOST, source: 'silence' });
  const [a, b] = await agents(t, ['alice', { media }], ['bob', { media }]);
  const { out, inc } = await establish(a, b);
  await until('ACK at the callee', () => /ACK received/.test(timelineOf(inc)));
  const reinvite = out.dialog!.request('INVITE', { type: 'application/sdp', bytes: Buffer.from(out.media!.offer()) });
  reinvite.headers.add('Contact', a.ua.contactFor('UDP'));
  let oks = 0;
  const ok = await new Promise<SipResponse>((resolve, reject) => {
    a.transactions.request(reinvite, out.destination!, {
      // In the Accepted state every 2xx, retransmissions included, is passed up (RFC 6026 §7.2).
      onResponse: (r) => { if (r.status >= 200) { oks++; resolve(r); } },
      onFailure: (reason) => reject(new Error(reason)),
    });
  });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('Content-Type'), 'application/sdp');
  assert.match(Buffer.from(ok.body).toString(), /^v=0\r\n[\s\S]*m=audio \d+ RTP\/AVP/);
  // A late copy of the first INVITE's ACK (CSeq 1) does not acknowledge the re-INVITE's 200:
  // with T1 = 50 ms that 200 comes again at 50, 150, 350 ms … (§13.3.1.4).
  a.transactions.sendAck(out.dialog!.request('ACK', undefined, 1), out.destination!);
  await until('the 200 retransmitted', () => oks >= 3);
  const seq = Number((reinvite.headers.get('CSeq') ?? '').split(' ')[0]);
  assert.ok(seq > 1);
  a.transactions.sendAck(out.dialog!.request('ACK', undefined, seq), out.destination!);
  await sleep(50);
  const acknowledgedAt = oks;
  await sleep(800);
  assert.equal(oks, acknowledgedAt, 'the 200 for the re-INVITE stops once its own ACK arrives');
  assert.equal(inc.state, 'active');
  assert.equal(out.state, 'active');
  a.ua.hangup(out.id);
  await ended(b, inc);
});

test('closing a UA ends its calls: the peer of an active call gets BYE, a ringing caller gets 480; nothing fires after close', async (t) => {
  const [a, b, c] = await agents(t, ['alice'], ['bob'], ['carol']);
  const { out, inc } = await establish(a, b);
  const fromCarol = c.ua.call(b.uri());
  const ringingAtB = await ringing(b, 1);
  await until('ringing at carol', () => fromCarol.state === 'ringing');

  b.ua.close();
  assert.equal(inc.endReason, 'hangup-local');
  assert.equal(ringingAtB.endReason, 'hangup-local');
  await ended(a, out);
  assert.equal(out.endReason, 'hangup-remote');
  await ended(c, fromCarol);
  assert.equal(fromCarol.endReason, 'unavailable');
  assert.ok(b.media.every((m) => m.closed), 'every media leg of the closed UA is released');

  // After close: a new call to B does not ring there, and B reports nothing at all.
  const eventsAtClose = b.events.length;
  const again = a.ua.call(b.uri());
  await until('the new INVITE reached B', () => invitesReceived(b).size === 3);
  await sleep(300);
  assert.equal(b.events.length, eventsAtClose, 'no call event after close');
  assert.equal(b.ua.all().length, 2, 'no call was created after close');
  assert.throws(() => b.ua.call(a.uri()), /closed/);
  b.ua.close(); // idempotent
  a.ua.hangup(again.id);
  assert.equal(again.endReason, 'cancelled');
});
