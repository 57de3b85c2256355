// Hostile neighbours (integration tier): a three-peer overlay on real TLS links, attacked by a
// connection the test makes itself. Each attack is dropped or cut off as RFC 6940 says, and
// afterwards the victim still answers everyone and the overlay still routes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import * as tls from 'node:tls';
import {
  type Bodies, type BodyName, type Destination, type ForwardingHeader, type NodeId, ErrorCode, FRAGMENT_UNFRAGMENTED, MessageCode,
  MessageContents, decodeBodyAs, encode, encodeBody, encodeMessageWithContents, forwardingHeaderLength, idEquals, nodeDestination,
  overlayHash, resourceDestination, toHex,
} from '../src/codec/index.ts';
import type { Endpoint, Link } from '../src/link/link.ts';
import { TlsTransport } from '../src/link/tls-transport.ts';
import { ReloadNode } from '../src/reload/node.ts';
import {
  type NodeIdentity, CertificateError, MessageSigner, SelfSignedTrust, buildCertificate, certificatePem, createSelfSignedIdentity,
  parseCertificate,
} from '../src/reload/security/index.ts';
import type { Answered } from '../src/reload/transactions.ts';
import { type OverlayDevice, selfSignedSecurity } from '../src/run/overlay-device.ts';
import { ChordPeer } from '../src/topology/chord/chord.ts';
import { systemClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import { OVERLAY, closeAll, startDevice } from './harness/in-process.ts';
import { expectedNeighbours, responsibleFor } from './harness/processes.ts';

/** Short enough that a lost request fails within 2.5 s (5 transmissions, §6.2.1). */
const RELIABILITY_TIMER_MS = 500;
const WAIT_MS = 5000;
/** How long "no answer" is watched for: two reliability timers. */
const SILENCE_MS = 2 * RELIABILITY_TIMER_MS;

const hex = (id: NodeId): string => toHex(id);

async function waitFor(what: string, check: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The hostile neighbour: a real identity and TLS links, a RELOAD node that answers ACKs and
 * decodes answers, but in no overlay, so it only ever sends what the test crafts.
 */
class Hostile {
  readonly identity: NodeIdentity;
  readonly node: ReloadNode;
  private readonly tls: TlsTransport;
  private readonly signer: MessageSigner;

  constructor() {
    this.identity = createSelfSignedIdentity({ overlay: OVERLAY, userName: 'mallory@building.example' });
    const security = selfSignedSecurity(this.identity, systemClock);
    this.tls = new TlsTransport({ clock: systemClock, log: silentLogger }, {
      key: this.identity.privateKey, cert: this.identity.certificatePem, verifyPeer: security.verifyPeer,
    });
    this.node = new ReloadNode({ clock: systemClock, log: silentLogger, security, connector: this.tls }, {
      overlay: OVERLAY, advertised: { host: '127.0.0.1', port: 9 }, reliabilityTimerMs: RELIABILITY_TIMER_MS,
    });
    this.signer = new MessageSigner(this.identity);
  }

  connect(to: OverlayDevice): Promise<Link> {
    return this.node.links.connect(to.listening, to.identity.nodeId);
  }

  /** A request signed by this identity, with a forwarding header of the test's choosing. */
  request<K extends BodyName>(destinations: Destination[], name: K, body: Bodies[K], ttl = 100): { bytes: Uint8Array; transactionId: bigint; contentsAt: number } {
    const transactionId = randomBytes(8).readBigUInt64BE();
    const contents = encode(MessageContents, { code: MessageCode[name], body: encodeBody(name, body), extensions: [] });
    const header: ForwardingHeader = {
      overlay: overlayHash(OVERLAY), configurationSequence: 0, ttl, fragment: FRAGMENT_UNFRAGMENTED, length: 0, transactionId,
      maxResponseLength: 0, viaList: [], destinationList: destinations, options: [],
    };
    const bytes = encodeMessageWithContents(header, contents, this.signer.signMessage(header.overlay, transactionId, contents));
    return { bytes, transactionId, contentsAt: forwardingHeaderLength(header) };
  }

  /** Sends raw message bytes over `link` and waits for the answer, or 'silence' after `ms`. */
  async exchange(link: Link, bytes: Uint8Array, transactionId: bigint, ms = WAIT_MS): Promise<Answered | 'silence'> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), ms);
    try {
      // A timer longer than the wait: the bytes go out exactly once.
      return await this.node.transport.transactions.start(transactionId, () => link.send(bytes), { signal: abort.signal, timerMs: 2 * ms });
    } catch (e) {
      if (abort.signal.aborted) return 'silence';
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.node.close();
    await this.tls.close();
  }
}

/** A raw TLS connection presenting `key`/`cert`: for bytes no Link would ever send. */
function rawTls(to: Endpoint, key: string, cert: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: to.host, port: to.port, key, cert, rejectUnauthorized: false, checkServerIdentity: () => undefined });
    const timer = setTimeout(() => fail(new Error('TLS handshake timeout')), WAIT_MS);
    function fail(e: Error): void {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    }
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

/** Resolves when the other end has closed `socket`; fails after `ms`. */
function closedByPeer(socket: tls.TLSSocket, ms = WAIT_MS): Promise<void> {
  socket.on('error', () => {}); // a reset is as good as a close here
  socket.resume();
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the peer kept the connection open for ${ms} ms`));
    }, ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('hostile neighbours of a three-peer overlay', { timeout: 60_000 }, () => {
  let honest: OverlayDevice[] = [];
  let victim: OverlayDevice;
  let other: OverlayDevice;
  const hostiles: Hostile[] = [];
  const sockets: tls.TLSSocket[] = [];

  const hostile = (): Hostile => {
    const h = new Hostile();
    hostiles.push(h);
    return h;
  };

  async function ping(from: OverlayDevice, to: Destination): Promise<string> {
    const answer = await from.node.transport.request([to], 'ping_req', { padding: new Uint8Array(0) });
    assert.equal(answer.name, 'ping_ans');
    return hex(answer.signer[0]);
  }

  /** Every honest peer pings the victim by Node-ID and a random Resource-ID's responsible peer. */
  async function assertOverlayServes(): Promise<void> {
    const ids = honest.map((d) => hex(d.identity.nodeId));
    for (const d of honest) {
      if (d !== victim) assert.equal(await ping(d, nodeDestination(victim.identity.nodeId)), hex(victim.identity.nodeId), 'ping to the victim');
      const resource = randomBytes(16);
      assert.equal(await ping(d, resourceDestination(resource)), responsibleFor(ids, toHex(resource)), `route to ${toHex(resource).slice(0, 8)}`);
    }
  }

  before(async () => {
    const config = { reliabilityTimerMs: RELIABILITY_TIMER_MS, chord: { updateIntervalMs: 500 } };
    const first = await startDevice(config);
    honest = [first, await startDevice({ ...config, bootstrap: [first.listening] }), await startDevice({ ...config, bootstrap: [first.listening] })];
    [victim, other] = honest;
    const expected = expectedNeighbours(honest.map((d) => hex(d.identity.nodeId)), 3);
    await waitFor('the ring to converge', () => honest.every((d) => {
      const t = d.topology;
      const e = expected.get(hex(d.identity.nodeId))!;
      return t instanceof ChordPeer && t.state === 'joined'
        && JSON.stringify(t.table.toJSON().predecessors) === JSON.stringify(e.predecessors)
        && JSON.stringify(t.table.toJSON().successors) === JSON.stringify(e.successors);
    }), 15_000);
    await assertOverlayServes();
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(hostiles.map((h) => h.close()));
    await closeAll();
  });

  it('drops garbage inside a valid data frame and closes a link whose framing is garbage (§6.3, §6.6.2)', async () => {
    const h = hostile();
    const link = await h.connect(victim);
    const counters = victim.node.transport.counters;
    const malformed = counters.malformed;
    const errorsSent = counters.errorsSent;
    // Not a RELOAD message at all: no RELO token.
    link.send(Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff));
    // A real signed message cut short: its header promises bytes that never come.
    const { bytes } = h.request([nodeDestination(victim.identity.nodeId)], 'ping_req', { padding: new Uint8Array(0) });
    link.send(bytes.subarray(0, bytes.length - 10));
    await waitFor('both messages counted malformed', () => counters.malformed === malformed + 2);
    assert.equal(counters.errorsSent, errorsSent, 'nothing answered');
    // The link itself is sound: it stays up, and a good request on it is answered.
    assert.equal(link.closed, false);
    assert.ok(victim.node.links.get(h.identity.nodeId), 'link still in the victim\'s connection table');
    const good = h.request([nodeDestination(victim.identity.nodeId)], 'ping_req', { padding: new Uint8Array(0) });
    const answer = await h.exchange(link, good.bytes, good.transactionId);
    assert.notEqual(answer, 'silence');
    if (answer !== 'silence') assert.equal(answer.message.contents.code, MessageCode.ping_ans);

    // Framing-level garbage: FramedMessageType 0x99 does not exist, so the stream has lost its
    // framing and nothing after it can be trusted.
    const intruder = createSelfSignedIdentity({ overlay: OVERLAY, userName: 'mallory@building.example' });
    const socket = await rawTls(victim.listening, intruder.privateKeyPem, intruder.certificatePem);
    sockets.push(socket);
    await waitFor('the victim to accept the raw link', () => victim.node.links.get(intruder.nodeId) !== undefined);
    socket.write(Uint8Array.of(0x99, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4));
    await closedByPeer(socket);
    await waitFor('the link to leave the victim\'s table', () => victim.node.links.get(intruder.nodeId) === undefined);
    await assertOverlayServes();
  });

  it('drops a message whose signature does not verify, silently (§6.3.4)', async () => {
    const h = hostile();
    const link = await h.connect(victim);
    const counters = victim.node.transport.counters;
    const bad = counters.badSignature;
    const errorsSent = counters.errorsSent;
    const req = h.request([nodeDestination(victim.identity.nodeId)], 'ping_req', { padding: new Uint8Array(8).fill(0x55) });
    // MessageContents: code (2), body length (4), padding length (2), padding: flip a padding
    // byte, so the message still decodes and only the signature is wrong.
    const tampered = Uint8Array.from(req.bytes);
    tampered[req.contentsAt + 2 + 4 + 2 + 3] ^= 0x01;
    assert.equal(await h.exchange(link, tampered, req.transactionId, SILENCE_MS), 'silence', 'no answer, not even an error');
    assert.equal(counters.badSignature, bad + 1);
    assert.equal(counters.errorsSent, errorsSent);
    assert.equal(link.closed, false, 'a bad signature is no reason to drop the link');
    // The same request untouched is answered: only the flipped byte made the difference.
    const intact = h.request([nodeDestination(victim.identity.nodeId)], 'ping_req', { padding: new Uint8Array(8).fill(0x55) });
    const answer = await h.exchange(link, intact.bytes, intact.transactionId);
    assert.notEqual(answer, 'silence');
    if (answer !== 'silence') assert.equal(answer.message.contents.code, MessageCode.ping_ans);
    assert.equal(counters.badSignature, bad + 1);
    await assertOverlayServes();
  });

  it('refuses a TLS peer whose certificate claims a Node-ID that is not its key\'s (§11.3.1)', async () => {
    // The claim is a neighbour's Node-ID: the intruder would take that neighbour's place.
    const claimed = other.identity.nodeId;
    const linkToOther = victim.node.links.get(claimed);
    assert.ok(linkToOther, 'the victim has a link to the neighbour');
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const now = Date.now();
    const der = buildCertificate({
      subjectPublicKey: createPublicKey(key), issuerPrivateKey: key, nodeIds: [claimed], overlay: OVERLAY,
      userName: 'mallory@building.example', notBeforeMs: now - 60_000, notAfterMs: now + 3_600_000,
    });
    // Well formed and self-signed: the Node-ID check is the only one it fails.
    assert.throws(() => new SelfSignedTrust({ overlay: OVERLAY }).check(parseCertificate(der), now),
      (e: unknown) => e instanceof CertificateError && e.reason === 'node_id_mismatch');

    const socket = await rawTls(victim.listening, key.export({ type: 'pkcs8', format: 'pem' }).toString(), certificatePem(der));
    sockets.push(socket);
    const port = socket.localPort;
    await closedByPeer(socket);
    assert.ok(!victim.node.links.all().some((l) => l.remote.port === port), 'the intruder\'s connection never became a link');
    assert.equal(victim.node.links.get(claimed), linkToOther, 'the neighbour\'s own link is untouched');
    assert.equal(linkToOther.closed, false);
    await assertOverlayServes();
  });

  it('answers a request bouncing between two peers with Error_TTL_Exceeded where the TTL runs out (§6.3.2)', async () => {
    const h = hostile();
    const link = await h.connect(victim);
    const a = victim;
    const b = other;
    // [B, A, B, A, …]: each peer strips its own entry and forwards to the other, one TTL per hop.
    const loop: Destination[] = [];
    for (let i = 0; i < 10; i++) loop.push(nodeDestination(b.identity.nodeId), nodeDestination(a.identity.nodeId));
    const was = honest.map((d) => ({ ...d.node.transport.counters }));
    // A gets TTL 5 and forwards with 4; B 4 → 3; A 3 → 2; B 2 → 1; A 1 → 0; B receives 0 and
    // must forward again: B answers.
    const req = h.request(loop, 'ping_req', { padding: new Uint8Array(0) }, 5);
    const answer = await h.exchange(link, req.bytes, req.transactionId);
    assert.notEqual(answer, 'silence', 'an error answer comes back along the via list');
    if (answer === 'silence') return;
    assert.equal(answer.message.contents.code, MessageCode.error);
    assert.equal(decodeBodyAs('error', answer.message.contents.body).errorCode, ErrorCode.Error_TTL_Exceeded);
    assert.ok(idEquals(answer.signer[0], b.identity.nodeId), `answered by ${hex(answer.signer[0]).slice(0, 8)}, where the TTL ran out`);
    const now = honest.map((d) => d.node.transport.counters);
    assert.deepEqual(now.map((c, i) => c.ttlExceeded - was[i].ttlExceeded), [0, 1, 0], 'ttlExceeded: only at B');
    // The request's hops; the answer retracing them adds as many again.
    assert.ok(now[0].forwarded - was[0].forwarded >= 3, 'A forwarded the request three times');
    assert.ok(now[1].forwarded - was[1].forwarded >= 2, 'B forwarded the request twice');
    await assertOverlayServes();
  });

  it('closes a link whose frame announces more than max-message-size (§6.6)', async () => {
    const intruder = createSelfSignedIdentity({ overlay: OVERLAY, userName: 'mallory@building.example' });
    const socket = await rawTls(victim.listening, intruder.privateKeyPem, intruder.certificatePem);
    sockets.push(socket);
    await waitFor('the victim to accept the raw link', () => victim.node.links.get(intruder.nodeId) !== undefined);
    // A data frame (0x80), sequence 0, 24-bit length 5001: one byte over the default limit
    // (§11.1). The check comes before any body byte is buffered, so none is sent.
    const length = 5001;
    socket.write(Uint8Array.of(0x80, 0, 0, 0, 0, length >> 16, (length >> 8) & 0xff, length & 0xff));
    await closedByPeer(socket);
    await waitFor('the link to leave the victim\'s table', () => victim.node.links.get(intruder.nodeId) === undefined);
    await assertOverlayServes();
  });
});
