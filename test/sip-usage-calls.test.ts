// Connecting for SIP through the overlay (RFC 7904 §5, §6) with in-process devices over real
// TLS links: SIP over TCP after an AppAttach for 5060, SIPS over TLS after one for 5061 when
// the callee's contact_prefs ask for it, a GRUU called directly, a forwarding entry followed
// to the device it names, and a destination list whose last Node-ID did not answer refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeDestination } from '../src/codec/index.ts';
import type { DeviceConfig } from '../src/run/config.ts';
import type { OverlayDevice } from '../src/run/overlay-device.ts';
import { type SipAgent, startSipAgent } from '../src/run/sip-agent.ts';
import type { Call } from '../src/sip/ua/call.ts';
import type { ReloadNode } from '../src/reload/node.ts';
import { gruuFor } from '../src/usage/sip/gruu.ts';
import { SipConnections } from '../src/usage/sip/sip-connections.ts';
import { systemClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import { OVERLAY, closeAll, startDevice } from './harness/in-process.ts';
import { eventually } from './harness/memory-overlay.ts';

interface Member { device: OverlayDevice; sip: SipAgent; aor: string }
const members: Member[] = [];

async function member(user: string, scheme: 'sip' | 'sips', bootstrap?: OverlayDevice): Promise<Member> {
  const aor = `${user}@${OVERLAY}`;
  const device = await startDevice({ userName: aor, bootstrap: bootstrap ? [bootstrap.listening] : [] });
  const config = {
    overlay: OVERLAY, role: 'peer', userName: aor, listen: { host: '127.0.0.1', port: 0 }, bootstrap: [], dataDir: '',
    sip: { listen: { host: '127.0.0.1', port: 0 }, scheme, audioIn: 'tone:440' },
  } satisfies DeviceConfig;
  const sip = await startSipAgent(device, config, { clock: systemClock, log: silentLogger });
  const m = { device, sip, aor };
  members.push(m);
  return m;
}

const registered = (m: Member): Promise<unknown> =>
  eventually(() => m.sip.registrations.status().some((r) => r.aor === m.aor && r.state === 'registered'), 10_000);

async function ringing(caller: Member, callee: Member, target: string): Promise<{ out: Call; inc: Call }> {
  const before = callee.sip.ua.all().length;
  const out = caller.sip.ua.call(target);
  await eventually(() => out.state === 'ringing' || out.ended, 10_000);
  assert.equal(out.state, 'ringing', `call to ${target}: ${JSON.stringify(out.timeline)}`);
  const inc = callee.sip.ua.all().slice(before).find((c) => c.direction === 'incoming')!;
  assert.ok(inc, 'the callee rings');
  return { out, inc };
}

let alice: Member;
let bob: Member;
let carol: Member;

before(async () => {
  alice = await member('alice', 'sip');
  bob = await member('bob', 'sip', alice.device);
  carol = await member('carol', 'sips', alice.device);
  await Promise.all([alice, bob, carol].map(registered));
});

after(async () => {
  for (const m of members) await m.sip.stop();
  await closeAll();
});

test('a call to an AOR goes over a TCP connection opened by AppAttach for 5060', async () => {
  const { out, inc } = await ringing(alice, bob, bob.aor);
  const fork = out.forks[0];
  assert.ok('flow' in fork.destination && fork.destination.flow.transport === 'TCP');
  assert.equal(fork.destination.flow.origin, 'appattach');
  // Our Contact is our GRUU (§6), so requests in the dialog can find this device again.
  assert.match(inc.invite!.headers.get('Contact') ?? '', /^<sip:alice@building\.example;gr=[A-Za-z0-9+/]+~{0,2}>$/);
  assert.match(inc.invite!.headers.get('Via') ?? '', /^SIP\/2\.0\/TCP /);
  alice.sip.ua.hangup(out.id);
  await eventually(() => inc.ended, 5_000);
  assert.equal(inc.endReason, 'cancelled');
});

test('a callee whose contact_prefs ask for SIPS is reached over TLS after AppAttach for 5061', async () => {
  const { out, inc } = await ringing(alice, carol, carol.aor);
  const fork = out.forks[0];
  assert.ok('flow' in fork.destination && fork.destination.flow.transport === 'TLS', 'a TLS flow');
  assert.match(inc.invite!.headers.get('Via') ?? '', /^SIP\/2\.0\/TLS /);
  carol.sip.ua.answer(inc.id);
  await eventually(() => out.state === 'active' && inc.state === 'active', 5_000);
  alice.sip.ua.hangup(out.id);
  await eventually(() => inc.ended, 5_000);
  assert.equal(inc.endReason, 'hangup-remote');
});

test('a GRUU is called by its destination list (§6): the Request-URI is the GRUU', async () => {
  const gruu = gruuFor(bob.aor, [nodeDestination(bob.device.identity.nodeId)]);
  const { out, inc } = await ringing(alice, bob, gruu);
  assert.equal(out.forks.length, 1);
  assert.equal(out.forks[0].requestUri, `sip:${gruu}`);
  alice.sip.ua.hangup(out.id);
  await eventually(() => inc.ended, 5_000);
});

test('a forwarding entry (§3.1 uri type) rings the device of the AOR it names', async () => {
  // Carol's device turns its entry under her AOR (keyed by its Node-ID, §3.1) into a uri
  // entry naming bob's AOR: calls to carol now ring bob's device instead.
  await carol.sip.registrations.forward(carol.aor, bob.aor);
  const beforeBob = bob.sip.ua.all().length;
  const beforeCarol = carol.sip.ua.all().length;
  const out = alice.sip.ua.call(carol.aor);
  await eventually(() => out.state === 'ringing' || out.ended, 10_000, () => JSON.stringify(out.timeline));
  assert.equal(out.forks.length, 1);
  assert.equal(out.forks[0].label, Buffer.from(bob.device.identity.nodeId).toString('hex').slice(0, 8), 'the branch reaches bob');
  assert.ok(bob.sip.ua.all().slice(beforeBob).some((c) => c.direction === 'incoming' && c.state === 'ringing'), 'bob rings through the forwarding');
  assert.equal(carol.sip.ua.all().length, beforeCarol, 'carol\'s device does not ring');
  alice.sip.ua.hangup(out.id);
  await eventually(() => out.forks.every((f) => f.state === 'cancelled'), 5_000);
  await carol.sip.registrations.register(carol.aor, { destinationList: [nodeDestination(carol.device.identity.nodeId)], contactPrefs: '(sip.schemes=SIPS)' });
});

test('an AppAttach answered by another Node-ID than the destination list names is refused (§5)', async () => {
  // A node that answers for someone else: the answer's signer is not the last destination.
  const liar = {
    application: () => {},
    appAttach: async () => ({
      answer: { ufrag: 'u', password: 'p', application: 5060, role: 'active' as const, candidates: [] },
      signer: [bob.device.identity.nodeId],
    }),
  };
  const connections = new SipConnections({ node: liar as unknown as ReloadNode, transport: alice.sip.transport, log: silentLogger });
  await assert.rejects(connections.connect([nodeDestination(carol.device.identity.nodeId)]), /AppAttach answered by [0-9a-f]+, not [0-9a-f]+/);
  assert.equal(connections.counters.refused, 1);
});

test('over SIPS, a TLS certificate that does not name the last destination closes the connection (§5)', async () => {
  // The AppAttach answer claims to be carol but points at bob's SIPS listener: bob's
  // certificate proves bob's Node-ID, not carol's.
  const bobSips = (bob.sip.connections.status() as { sipsPort: number }).sipsPort;
  const spoof = {
    application: () => {},
    appAttach: async () => ({
      answer: {
        ufrag: 'u', password: 'p', application: 5061, role: 'active' as const,
        candidates: [{ addrPort: { type: 'ipv4' as const, address: '127.0.0.1', port: bobSips }, overlayLink: 4, foundation: 's', priority: 1, type: 'host' as const, extensions: [] }],
      },
      signer: [carol.device.identity.nodeId],
    }),
  };
  const connections = new SipConnections({
    node: spoof as unknown as ReloadNode, transport: alice.sip.transport, log: silentLogger,
    tls: { key: alice.device.identity.privateKeyPem, cert: alice.device.identity.certificatePem, verifyPeer: (der) => alice.device.security.verifyPeer(der) },
  });
  await assert.rejects(connections.connect([nodeDestination(carol.device.identity.nodeId)], 'sips'), /SIPS peer certificate does not name/);
  assert.equal(connections.counters.refused, 1);
});
