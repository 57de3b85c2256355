// Message routing over a chain of transports (RFC 6940 §6.1–§6.3, §6.7): symmetric recursive
// routing with via lists, TTL, configuration sequence, critical extensions and forwarding
// options, overlay hash, destination-list rules and fragmentation of large answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type AttachReqAns, type DecodedMessage, type Destination, type ForwardingHeader, ErrorCode, ForwardingFlag, MessageCode, OverlayLinkType,
  decodeBodyAs, decodeHeaderOf, nodeDestination, resourceDestination, resourceId, toHex,
} from '../src/codec/index.ts';
import { ReloadError } from '../src/reload/errors.ts';
import type { TransportInit } from '../src/reload/message-transport.ts';
import type { Answered } from '../src/reload/transactions.ts';
import { type Chain, type RawRequest, settle, signedRequest, transportChain } from './harness/memory-overlay.ts';

const DOOR = resourceId('door-3b@building.example');
const ping = { padding: new Uint8Array(0) };

/** A 4-node chain 0-1-2-3 where node 3 owns DOOR and answers Ping. */
function chain4(init?: (i: number) => Partial<TransportInit>) {
  const c = transportChain(4, { init });
  c.own(DOOR, 3);
  const executed: DecodedMessage[] = [];
  for (const n of c.nodes) {
    n.transport.handle('ping_req', (_req, ctx) => {
      executed.push(ctx.message);
      return { name: 'ping_ans', body: { responseId: BigInt(n.index), time: 0n } };
    });
  }
  return { c, executed };
}

/** Every forwarding header each node receives, in order. */
function tap(c: Chain): { at: number; header: ForwardingHeader }[] {
  const seen: { at: number; header: ForwardingHeader }[] = [];
  for (const n of c.nodes) {
    for (const link of n.links.values()) {
      const inner = link.onMessage;
      link.onMessage = (m) => {
        seen.push({ at: n.index, header: decodeHeaderOf(m).header });
        inner(m);
      };
    }
  }
  return seen;
}

/** Sends a hand-built request from node 0 over its link to node 1 and awaits the answer. */
async function raw<K extends Parameters<typeof signedRequest>[1]['name']>(c: Chain, r: RawRequest<K>): Promise<Answered | undefined> {
  const { bytes, transactionId } = signedRequest(c.nodes[0].security, r);
  let answer: Answered | undefined;
  c.nodes[0].transport.transactions.start(transactionId, () => c.link(0, 1).send(bytes)).then((a) => { answer = a; }, () => {});
  await settle(30);
  return answer;
}

function errorCode(a: Answered | undefined): number | undefined {
  return a && decodeBodyAs('error', a.message.contents.body).errorCode;
}

const ids = (c: Chain, ...i: number[]): string[] => i.map((k) => toHex(c.nodes[k].identity.nodeId));
const listIds = (l: Destination[]): string[] => l.map((d) => (d.type === 'node' || d.type === 'resource' ? toHex(d.id) : d.type));

test('a request to a Resource-ID reaches the responsible node; the answer retraces the path (§6.1.2, §6.2.2)', async () => {
  const { c, executed } = chain4();
  const seen = tap(c);
  const answer = await c.nodes[0].transport.request([resourceDestination(DOOR)], 'ping_req', ping);
  assert.equal((answer.body as { responseId: bigint }).responseId, 3n, 'node 3 answered');
  assert.equal(executed.length, 1);
  assert.deepEqual(answer.signer.map(toHex), ids(c, 3));

  const requests = seen.filter((s) => s.header.destinationList[0]?.type === 'resource');
  assert.deepEqual(requests.map((s) => s.at), [1, 2, 3]);
  // The via list grows by one per hop: each forwarder appends the node it heard from.
  assert.deepEqual(requests.map((s) => listIds(s.header.viaList)), [[], ids(c, 0), ids(c, 0, 1)]);
  assert.deepEqual(requests.map((s) => s.header.ttl), [100, 99, 98], 'TTL decremented before each forward');

  // Node 3 answers to reverse(via + previous hop) = [2, 1, 0]; each hop consumes itself.
  const answers = seen.filter((s) => s.header.destinationList[0]?.type === 'node');
  assert.deepEqual(answers.map((s) => s.at), [2, 1, 0]);
  assert.deepEqual(answers.map((s) => listIds(s.header.destinationList)), [ids(c, 2, 1, 0), ids(c, 1, 0), ids(c, 0)]);
  assert.equal(c.nodes[1].transport.counters.forwarded, 2, 'one request and one answer');
  c.close();
});

test('a Node-ID destination is routed the same way, and a source route consumes its own entries (§6.1.1)', async () => {
  const { c, executed } = chain4();
  const direct = await c.nodes[0].transport.request([nodeDestination(c.nodes[3].identity.nodeId)], 'ping_req', ping);
  assert.equal((direct.body as { responseId: bigint }).responseId, 3n);
  const viaTwo = await c.nodes[0].transport.request([nodeDestination(c.nodes[2].identity.nodeId), resourceDestination(DOOR)], 'ping_req', ping);
  assert.equal((viaTwo.body as { responseId: bigint }).responseId, 3n);
  assert.equal(executed.length, 2);
  c.close();
});

test('a request whose TTL runs out in transit gets Error_TTL_Exceeded from where it ran out (§6.3.2)', async () => {
  const { c, executed } = chain4();
  // TTL 1 leaves node 0; node 1 forwards it with 0; node 2 may not forward it further.
  const a = await raw(c, { name: 'ping_req', body: ping, destinations: [resourceDestination(DOOR)], ttl: 1 });
  assert.equal(errorCode(a), ErrorCode.Error_TTL_Exceeded);
  assert.deepEqual(a!.signer.map(toHex), ids(c, 2), 'node 2 received TTL 0 and answered');
  assert.equal(c.nodes[2].transport.counters.ttlExceeded, 1);
  assert.equal(executed.length, 0);
  c.close();
});

test('a TTL above initial-ttl is refused with Error_TTL_Exceeded at the first hop (§6.3.2)', async () => {
  const { c, executed } = chain4();
  const a = await raw(c, { name: 'ping_req', body: ping, destinations: [resourceDestination(DOOR)], ttl: 101 });
  assert.equal(errorCode(a), ErrorCode.Error_TTL_Exceeded);
  assert.deepEqual(a!.signer.map(toHex), ids(c, 1));
  assert.equal(executed.length, 0);
  c.close();
});

test('configuration_sequence: the destination answers Error_Config_Too_Old / Error_Config_Too_New (§6.3.2.1)', async () => {
  const { c, executed } = chain4((i) => ({ configurationSequence: i === 3 ? 7 : 0 }));
  const send = (seq: number) => {
    c.nodes[0].transport.configurationSequence = seq;
    return c.nodes[0].transport.request([resourceDestination(DOOR)], 'ping_req', ping);
  };
  await assert.rejects(send(6), (e: unknown) => e instanceof ReloadError && e.code === ErrorCode.Error_Config_Too_Old);
  await assert.rejects(send(8), (e: unknown) => e instanceof ReloadError && e.code === ErrorCode.Error_Config_Too_New);
  // Modulo 2^16, as TCP: 65534 is older than 7, 7 + 0x7000 newer.
  await assert.rejects(send(65534), (e: unknown) => e instanceof ReloadError && e.code === ErrorCode.Error_Config_Too_Old);
  await assert.rejects(send(7 + 0x7000), (e: unknown) => e instanceof ReloadError && e.code === ErrorCode.Error_Config_Too_New);
  assert.equal(executed.length, 0, 'the handler never runs');
  // Intermediate nodes (sequence 0) forwarded without checking.
  assert.equal(c.nodes[1].transport.counters.forwarded, 8);
  await send(7);
  assert.equal(executed.length, 1);
  c.close();
});

test('an unknown critical extension gets Error_Unknown_Extension; an unknown non-critical one is ignored', async () => {
  const { c, executed } = chain4();
  const contents = new Uint8Array([1, 2, 3]);
  const critical = await raw(c, { name: 'ping_req', body: ping, destinations: [resourceDestination(DOOR)], extensions: [{ type: 0x7777, critical: true, contents }] });
  assert.equal(errorCode(critical), ErrorCode.Error_Unknown_Extension);
  assert.equal(executed.length, 0);
  const optional = await raw(c, { name: 'ping_req', body: ping, destinations: [resourceDestination(DOOR)], extensions: [{ type: 0x7777, critical: false, contents }] });
  assert.equal(optional?.message.contents.code, MessageCode.ping_ans);
  assert.equal(executed.length, 1);
  c.close();
});

test('an unknown DESTINATION_CRITICAL option is forwarded, then refused by the destination (§6.3.2.3)', async () => {
  const { c, executed } = chain4();
  const option = { type: 0x42, flags: ForwardingFlag.DESTINATION_CRITICAL, value: new Uint8Array(0) };
  const a = await raw(c, { name: 'ping_req', body: ping, destinations: [resourceDestination(DOOR)], options: [option] });
  assert.equal(errorCode(a), ErrorCode.Error_Unsupported_Forwarding_Option);
  assert.deepEqual(a!.signer.map(toHex), ids(c, 3), 'refused by the destination, not on the way');
  assert.equal(executed.length, 0);
  c.close();
});

test('an unknown FORWARD_CRITICAL option is refused by the first node that would forward it (§6.3.2.3)', async () => {
  const { c, executed } = chain4();
  const option = { type: 0x42, flags: ForwardingFlag.FORWARD_CRITICAL, value: new Uint8Array(0) };
  const a = await raw(c, { name: 'ping_req', body: ping, destinations: [resourceDestination(DOOR)], options: [option] });
  assert.equal(errorCode(a), ErrorCode.Error_Unsupported_Forwarding_Option);
  assert.deepEqual(a!.signer.map(toHex), ids(c, 1));
  assert.equal(c.nodes[2].transport.counters.received, 0, 'it never reached node 2');
  assert.equal(executed.length, 0);
  c.close();
});

test('a message for another overlay is dropped and counted (§6.1, §6.3.2)', async () => {
  const { c, executed } = chain4();
  const a = await raw(c, { name: 'ping_req', body: ping, destinations: [resourceDestination(DOOR)], overlay: 'other.example' });
  assert.equal(a, undefined, 'no answer');
  assert.equal(c.nodes[1].transport.counters.wrongOverlay, 1);
  assert.equal(c.nodes[1].transport.counters.forwarded, 0);
  assert.equal(c.nodes[2].transport.counters.received, 0);
  assert.equal(executed.length, 0);
  c.close();
});

test('a Resource-ID that is not the last destination entry is dropped silently (§6.1.1)', async () => {
  const { c, executed } = chain4();
  const first = await raw(c, { name: 'ping_req', body: ping, destinations: [resourceDestination(DOOR), nodeDestination(c.nodes[3].identity.nodeId)] });
  // Consuming node 1's own entry exposes a Resource-ID with another entry after it.
  const later = await raw(c, {
    name: 'ping_req', body: ping,
    destinations: [nodeDestination(c.nodes[1].identity.nodeId), resourceDestination(DOOR), nodeDestination(c.nodes[3].identity.nodeId)],
  });
  assert.equal(first, undefined);
  assert.equal(later, undefined);
  assert.equal(c.nodes[1].transport.counters.unroutableDropped, 2);
  assert.equal(c.nodes[1].transport.counters.errorsSent, 0, 'silently');
  assert.equal(c.nodes[2].transport.counters.received, 0);
  assert.equal(executed.length, 0);
  c.close();
});

test('an answer larger than max-message-size is fragmented and reassembled by the requester (§6.7)', async () => {
  const c = transportChain(4);
  c.own(DOOR, 3);
  const big = new Uint8Array(12_000).map((_, i) => (i * 7) & 0xff);
  const candidate = {
    addrPort: { type: 'ipv4' as const, address: '192.0.2.1', port: 6084 }, overlayLink: OverlayLinkType['TLS-TCP-FH-NO-ICE'], foundation: '1',
    priority: 1, type: 'host' as const, extensions: [{ name: new TextEncoder().encode('bulk'), value: big }],
  };
  const answer: AttachReqAns = { ufrag: 'u', password: 'p', role: 'active', candidates: [candidate], sendUpdate: false };
  c.nodes[3].transport.handle('attach_req', () => ({ name: 'attach_ans', body: answer }));
  const seen = tap(c);
  const request: AttachReqAns = { ufrag: 'v', password: 'q', role: 'passive', candidates: [], sendUpdate: false };
  const got = await c.nodes[0].transport.request([resourceDestination(DOOR)], 'attach_req', request);
  assert.deepEqual((got.body as AttachReqAns).candidates[0].extensions[0].value, big);
  const fragments = seen.filter((s) => s.at === 0);
  assert.equal(fragments.length, 3, 'three fragments reached the requester');
  for (const f of fragments) assert.ok(f.header.length <= 5000);
  assert.equal(c.nodes[0].transport.reassembly.size, 0);
  assert.equal(c.nodes[1].transport.reassembly.size, 0, 'only the destination reassembles');
  c.close();
});
