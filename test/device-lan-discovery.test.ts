// LAN discovery (DNS-SD over mDNS, RFC 6762/6763) in one process: real multicast-dns encoding
// over an in-memory link of fake UDP sockets, a fake clock for TTLs and delays. The same code on
// real multicast sockets is in device-lan-discovery-netns.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import makeMdns from 'multicast-dns';
import { type DiscoveredPeer, LanDiscovery, type LanDiscoveryInit, MDNS_HOST_RECORD_TTL_S } from '../src/device/lan-discovery.ts';
import { FakeClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';

const GROUP = '224.0.0.251';
const OVERLAY = 'building.example';
const ID_A = 'a1'.repeat(16);
const ID_B = 'b2'.repeat(16);
const ID_C = 'c3'.repeat(16);

/** One link: a datagram to the group reaches every socket on its port (the sender too, as multicast loopback does). */
class FakeLink {
  readonly sockets = new Set<FakeUdpSocket>();
  /** Every datagram sent, for tests that count packets. */
  readonly sent: { from: string; to: string; bytes: Buffer }[] = [];

  socket(ip: string): FakeUdpSocket {
    return new FakeUdpSocket(this, ip);
  }

  deliver(from: FakeUdpSocket, bytes: Buffer, port: number, address: string): void {
    const copy = Buffer.from(bytes);
    this.sent.push({ from: from.ip, to: `${address}:${port}`, bytes: copy });
    setImmediate(() => {
      for (const s of this.sockets) {
        if (s.port !== port || (address !== GROUP && address !== s.ip)) continue;
        s.emit('message', copy, { address: from.ip, family: 'IPv4', port: from.port, size: copy.length });
      }
    });
  }
}

/** What multicast-dns uses of a dgram socket; no 'listening' event, so it starts no timers of its own. */
class FakeUdpSocket extends EventEmitter {
  port = 0;
  constructor(private readonly link: FakeLink, readonly ip: string) {
    super();
  }
  bind(port: number, _address: unknown, cb: () => void): void {
    this.port = port;
    this.link.sockets.add(this);
    cb();
  }
  send(bytes: Buffer, offset: number, length: number, port: number, address: string, cb?: (e: Error | null) => void): void {
    if (this.link.sockets.has(this)) this.link.deliver(this, bytes.subarray(offset, offset + length), port, address);
    setImmediate(() => cb?.(null));
  }
  /** Pulls the plug: the host vanishes without a goodbye. */
  unplug(): void {
    this.link.sockets.delete(this);
  }
  close(cb?: () => void): void {
    this.link.sockets.delete(this);
    setImmediate(() => cb?.());
  }
  address(): { address: string; port: number } { return { address: this.ip, port: this.port }; }
  addMembership(): void {}
  dropMembership(): void {}
  setMulticastTTL(): void {}
  setMulticastLoopback(): void {}
  setMulticastInterface(): void {}
}

async function settle(): Promise<void> {
  for (let i = 0; i < 6; i++) await new Promise((r) => setImmediate(r));
}

interface Host {
  lan: LanDiscovery;
  socket: FakeUdpSocket;
  found: DiscoveredPeer[];
  lost: DiscoveredPeer[];
}

function setup() {
  const clock = new FakeClock();
  const link = new FakeLink();
  let hosts = 0;
  const host = (init: Partial<LanDiscoveryInit> & { nodeId: string }, ip = `10.0.0.${++hosts}`): Host => {
    const socket = link.socket(ip);
    const lan = new LanDiscovery({
      clock, log: silentLogger, random: () => 0.5,
      mdns: (o) => makeMdns({ ...o, socket: socket as unknown as Socket }),
    }, { overlay: OVERLAY, ...init });
    const h: Host = { lan, socket, found: [], lost: [] };
    lan.onDiscovered = (p) => h.found.push(p);
    lan.onLost = (p) => h.lost.push(p);
    lan.start();
    return h;
  };
  /** A bare multicast-dns instance on the link, to send what a LanDiscovery never would. */
  const raw = (ip: string, port = 5353) => {
    const socket = link.socket(ip);
    return { mdns: makeMdns({ port, socket: socket as unknown as Socket }), socket };
  };
  const advance = async (ms: number, stepMs = 10): Promise<void> => {
    await settle();
    for (let t = 0; t < ms; t += stepMs) {
      clock.advance(Math.min(stepMs, ms - t));
      await settle();
    }
  };
  return { clock, link, host, raw, advance };
}

describe('LAN discovery over mDNS (in memory)', () => {
  it('finds an advertised peer of its overlay: Node-ID, port and the A record\'s address', async () => {
    const { host, advance } = setup();
    const a = host({ nodeId: ID_A, advertised: { host: '192.168.1.10', port: 6084 } });
    const b = host({ nodeId: ID_B });
    await advance(2500);
    assert.equal(b.found.length, 1, 'reported once, though announced twice (RFC 6762 §8.3)');
    const [peer] = b.lan.peers();
    assert.deepEqual({ host: peer.host, port: peer.port, nodeId: peer.nodeId, overlay: peer.overlay }, { host: '192.168.1.10', port: 6084, nodeId: ID_A, overlay: OVERLAY });
    assert.equal(peer.instance, `${ID_A.slice(0, 16)}._p2psip._tcp.local`);
    assert.deepEqual(a.lan.peers(), [], 'a browse-only client is not advertised, and a peer never finds itself');
    await Promise.all([a.lan.close(), b.lan.close()]);
  });

  it('without an address to publish, the peer is reached where its packets come from', async () => {
    const { host, advance } = setup();
    host({ nodeId: ID_A, advertised: { host: '0.0.0.0', port: 7000 } }, '10.9.9.9');
    const b = host({ nodeId: ID_B });
    await advance(200);
    assert.deepEqual(b.lan.peers().map((p) => `${p.host}:${p.port}`), ['10.9.9.9:7000']);
  });

  it('ignores other overlays, other TXT versions and its own Node-ID under another name', async () => {
    const { host, raw, advance } = setup();
    host({ nodeId: ID_C, overlay: 'other.example', advertised: { host: '10.0.0.3', port: 6084 } });
    const b = host({ nodeId: ID_B, advertised: { host: '10.0.0.2', port: 6084 } });
    const forger = raw('10.0.0.66');
    const service = '_p2psip._tcp.local';
    const instance = (label: string, txt: string[]) => [
      { name: service, type: 'PTR' as const, ttl: 4500, data: `${label}.${service}` },
      { name: `${label}.${service}`, type: 'SRV' as const, ttl: 120, data: { port: 6084, target: `${label}.local` } },
      { name: `${label}.${service}`, type: 'TXT' as const, ttl: 4500, data: txt },
    ];
    forger.mdns.respond([
      ...instance('future', ['v=2', `overlay=${OVERLAY}`, `nodeid=${ID_A}`]),
      ...instance('myself', ['v=1', `overlay=${OVERLAY}`, `nodeid=${ID_B}`]),
      ...instance('upper', ['V=1', `OVERLAY=${OVERLAY.toUpperCase()}`, `NodeID=${ID_A.toUpperCase()}`]),
    ]);
    await advance(2500);
    assert.deepEqual(b.lan.peers().map((p) => p.instance), [`upper.${service}`], 'TXT keys and the overlay name are case-insensitive (RFC 6763 §6.4)');
    assert.equal(b.found.length, 1);
  });

  it('discover() queries, collects for up to timeoutMs and returns the peers earliest first', async () => {
    const { host, advance, clock } = setup();
    host({ nodeId: ID_A, advertised: { host: '10.0.0.1', port: 6001 } });
    await advance(3000);
    const b = host({ nodeId: ID_B });
    await advance(2000);
    host({ nodeId: ID_C, advertised: { host: '10.0.0.3', port: 6003 } });
    const started = clock.now();
    let resolved: DiscoveredPeer[] | undefined;
    const peek = (): DiscoveredPeer[] | undefined => resolved;
    void b.lan.discover(1500).then((r) => { resolved = r; });
    await advance(1490);
    assert.equal(peek(), undefined, 'it waits for the whole timeout');
    await advance(20);
    const result = peek();
    assert.ok(result);
    assert.ok(clock.now() - started >= 1500);
    assert.deepEqual(result.map((p) => p.port), [6001, 6003]);
    assert.ok(result[0].firstSeenMs < result[1].firstSeenMs);

    let early: DiscoveredPeer[] | undefined;
    void b.lan.discover(10_000, { enough: 2 }).then((r) => { early = r; });
    await advance(0);
    assert.equal(early?.length, 2, 'resolves as soon as enough peers are known');
    const abort = new AbortController();
    let aborted: DiscoveredPeer[] | undefined;
    void b.lan.discover(10_000, { signal: abort.signal }).then((r) => { aborted = r; });
    abort.abort();
    await advance(0);
    assert.equal(aborted?.length, 2);
  });

  it('a peer that joins later is found by a browser already running, within a query', async () => {
    const { host, advance } = setup();
    const b = host({ nodeId: ID_B });
    await advance(30_000);
    const a = host({ nodeId: ID_A, advertised: { host: '10.0.0.1', port: 6001 } });
    await advance(200);
    assert.equal(b.found.length, 1, 'its announcement reached the browser');
    await a.lan.close();
  });

  it('answers after 20–120 ms, at most once a second, and not what the querier already knows (RFC 6762 §6, §7.1)', async () => {
    const { host, raw, advance, link } = setup();
    const a = host({ nodeId: ID_A, advertised: { host: '10.0.0.1', port: 6001 } });
    const q = raw('10.0.0.50');
    await advance(3000);
    // Responses only (QR bit): A browses too.
    const fromA = (): number => link.sent.filter((s) => s.from === '10.0.0.1' && (s.bytes[2] & 0x80) !== 0).length;
    const before = fromA();
    q.mdns.query([{ name: '_p2psip._tcp.local', type: 'PTR' }]);
    await advance(10);
    assert.equal(fromA(), before, 'not yet: a shared answer waits 20–120 ms');
    await advance(150);
    assert.equal(fromA(), before + 1);
    q.mdns.query([{ name: '_p2psip._tcp.local', type: 'PTR' }]);
    await advance(300);
    assert.equal(fromA(), before + 1, 'the same record is not multicast again within a second');
    await advance(1000);
    const suppressed = a.lan.counters.suppressed;
    q.mdns.query({
      questions: [{ name: '_p2psip._tcp.local', type: 'PTR' }],
      answers: [{ name: '_p2psip._tcp.local', type: 'PTR', ttl: 4000, data: `${ID_A.slice(0, 16)}._p2psip._tcp.local` }],
    });
    await advance(300);
    assert.equal(fromA(), before + 1, 'a known answer with more than half its TTL is not repeated');
    assert.equal(a.lan.counters.suppressed, suppressed + 1);
  });

  it('a legacy unicast query gets a unicast answer with its ID, its question and TTLs of 10 s (RFC 6762 §6.7)', async () => {
    const { host, raw, advance } = setup();
    host({ nodeId: ID_A, advertised: { host: '10.0.0.1', port: 6001 } });
    await advance(3000);
    const legacy = raw('10.0.0.77', 40_000);
    const got: makeMdns.ResponsePacket[] = [];
    legacy.mdns.on('response', (r) => got.push(r));
    legacy.mdns.query({ id: 4242, questions: [{ name: '_p2psip._tcp.local', type: 'PTR' }] }, { address: GROUP, port: 5353 });
    await advance(10);
    assert.equal(got.length, 1);
    assert.equal(got[0].id, 4242);
    assert.deepEqual(got[0].questions.map((x) => x.name), ['_p2psip._tcp.local']);
    const all = [...got[0].answers, ...got[0].additionals];
    assert.ok(all.length >= 4);
    for (const r of all) {
      assert.ok('ttl' in r && r.ttl !== undefined && r.ttl <= 10, `${r.type} ttl`);
      assert.ok(!('flush' in r) || !r.flush);
    }
  });

  it('keeps a live peer past its TTL by refreshing it, and drops one that vanished without a goodbye', async () => {
    const { host, advance } = setup();
    const a = host({ nodeId: ID_A, advertised: { host: '10.0.0.1', port: 6001 } });
    const b = host({ nodeId: ID_B });
    await advance(3 * MDNS_HOST_RECORD_TTL_S * 1000, 100);
    assert.equal(b.lan.peers().length, 1, 'refresh queries at 80–95 % of the TTL kept it (RFC 6762 §5.2)');
    assert.equal(b.lost.length, 0);
    a.socket.unplug();
    await advance((MDNS_HOST_RECORD_TTL_S + 5) * 1000, 100);
    assert.deepEqual(b.lan.peers(), []);
    assert.deepEqual(b.lost.map((p) => p.nodeId), [ID_A]);
  });

  it('a goodbye on close removes the peer a second later; close is idempotent and final', async () => {
    const { host, advance } = setup();
    const a = host({ nodeId: ID_A, advertised: { host: '10.0.0.1', port: 6001 } });
    const b = host({ nodeId: ID_B });
    await advance(2500);
    assert.equal(b.lan.peers().length, 1);
    const closing = a.lan.close();
    assert.equal(a.lan.close(), closing);
    await advance(500);
    await closing;
    assert.equal(b.lan.peers().length, 1, 'RFC 6762 §10.1: a TTL-0 record lives one more second');
    await advance(600);
    assert.deepEqual(b.lan.peers(), []);
    assert.deepEqual(b.lost.map((p) => p.nodeId), [ID_A]);
    assert.deepEqual(await a.lan.discover(1000), [], 'after close, discover finds nothing and sends nothing');
  });

  it('calls nothing back after close, and a discover() in progress resolves with what was found', async () => {
    const { host, advance } = setup();
    host({ nodeId: ID_A, advertised: { host: '10.0.0.1', port: 6001 } });
    const b = host({ nodeId: ID_B });
    await advance(2500);
    let result: DiscoveredPeer[] | undefined;
    void b.lan.discover(60_000).then((r) => { result = r; });
    await advance(0);
    const found = b.found.length;
    let calls = 0;
    b.lan.onDiscovered = () => calls++;
    b.lan.onLost = () => calls++;
    await b.lan.close();
    await advance(0);
    assert.equal(result?.length, 1);
    host({ nodeId: ID_C, advertised: { host: '10.0.0.3', port: 6003 } });
    await advance(300_000, 1000);
    assert.equal(calls, 0);
    assert.equal(b.found.length, found);
    assert.deepEqual(b.lan.peers(), []);
  });

  it('bounds its table: over maxPeers an instance is refused and counted; a foreign one makes room', async () => {
    const { host, advance } = setup();
    const b = host({ nodeId: ID_B, maxPeers: 2 });
    for (let i = 1; i <= 3; i++) {
      host({ nodeId: `${i}`.repeat(32), advertised: { host: `10.0.1.${i}`, port: 6000 + i } });
      await advance(50);
    }
    await advance(3000);
    assert.deepEqual(b.lan.peers().map((p) => p.port), [6001, 6002]);
    assert.ok(b.lan.counters.refused >= 1);

    const { host: host2, advance: advance2 } = setup();
    const c = host2({ nodeId: ID_C, maxPeers: 1 });
    host2({ nodeId: ID_A, overlay: 'other.example', advertised: { host: '10.0.0.1', port: 7001 } });
    await advance2(50);
    host2({ nodeId: ID_B, advertised: { host: '10.0.0.2', port: 7002 } });
    await advance2(3000);
    assert.deepEqual(c.lan.peers().map((p) => p.port), [7002]);
    assert.ok(c.lan.counters.evicted >= 1);
  });

  it('malformed packets never throw out of the socket handler; they are counted and dropped', async () => {
    const { host, raw, advance } = setup();
    const b = host({ nodeId: ID_B, maxPeers: 8 });
    const bad = raw('10.0.0.66');
    const send = (bytes: Buffer): void => bad.socket.send(bytes, 0, bytes.length, 5353, GROUP);
    send(Buffer.from([0xde, 0xad]));
    send(Buffer.from('000084000000000500000000', 'hex')); // a response claiming 5 answers, with none
    send(Buffer.alloc(300, 0xff));
    const service = '_p2psip._tcp.local';
    bad.mdns.respond([
      { name: `x.${service}`, type: 'SRV', ttl: 120, data: { port: 0, target: 'x.local' } },
      { name: `y.${service}`, type: 'TXT', ttl: 120, data: ['v=1', `overlay=${OVERLAY}`] },
      { name: `z.${service}`, type: 'TXT', ttl: 120, data: ['v=1', `overlay=${OVERLAY}`, 'nodeid=not-hex'] },
      { name: `w.${service}`, type: 'TXT', ttl: 120, data: [] },
      { name: service, type: 'PTR', ttl: 2 ** 31, data: 'elsewhere.example' },
      { name: 'x.local', type: 'A', ttl: 120, data: '10.0.0.66' },
      { name: `q.${service}`, type: 'SRV', ttl: 0, data: { port: 9, target: '' } },
    ]);
    // A flood of instances: the table keeps its bound.
    bad.mdns.respond(Array.from({ length: 200 }, (_, i) => ({ name: service, type: 'PTR' as const, ttl: 4500, data: `n${i}.${service}` })));
    await advance(3000);
    assert.ok(b.lan.counters.malformed >= 4, `malformed ${b.lan.counters.malformed}`);
    assert.ok(b.lan.counters.instances <= 8);
    assert.deepEqual(b.lan.peers(), []);
    host({ nodeId: ID_A, advertised: { host: '10.0.0.1', port: 6001 } });
    await advance(3000);
    assert.deepEqual(b.lan.peers().map((p) => p.nodeId), [ID_A], 'still working afterwards');
  });
});
