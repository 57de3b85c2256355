// Peers of our overlay on the local link, found without configuration: DNS-SD (RFC 6763) over
// Multicast DNS (RFC 6762). RFC 6940 §11.4 lets a joining node try peers it knows of before the
// configured bootstrap nodes but defines no multicast bootstrap; RFC 7890 §2.5 names mDNS and
// DNS-SD for bootstrapping P2PSIP overlays. Each peer publishes (RFC 6763 §4, §6, §12):
//
//   _p2psip._tcp.local         PTR  <id16>._p2psip._tcp.local
//   <id16>._p2psip._tcp.local  SRV  0 0 <port> p2psip-<id16>.local
//   <id16>._p2psip._tcp.local  TXT  "v=1" "overlay=<instance-name>" "nodeid=<hex>"
//   p2psip-<id16>.local        A    <address>
//
// mDNS is unauthenticated: a discovered endpoint is only a hint. The TLS handshake that follows
// proves the Node-ID (RFC 6940 §11.3), so a forged answer costs one failed connection attempt.
// For the same reason names are not probed (RFC 6762 §8.1): they derive from the Node-ID, which
// certificates keep unique in an overlay, so a clash means a forgery the handshake exposes.
import { isIPv4, isIPv6 } from 'node:net';
import makeMdns from 'multicast-dns';
import type { Endpoint } from '../link/link.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import { type Answer, type DiscoveredPeer, LAN_TXT_VERSION, LanPeerTable, type Question } from './lan-peer-table.ts';

export type { DiscoveredPeer } from './lan-peer-table.ts';

/** RFC 6762 §3: the mDNS port. */
export const MDNS_PORT = 5353;
export const LAN_SERVICE_TYPE = '_p2psip._tcp';
/** RFC 6762 §10: records naming a host (SRV, A) live 120 s, the others (PTR, TXT) 75 min. */
export const MDNS_HOST_RECORD_TTL_S = 120;
export const MDNS_OTHER_RECORD_TTL_S = 4500;
/** RFC 6762 §6.7: the TTL cap of a legacy unicast response. */
export const MDNS_LEGACY_UNICAST_TTL_S = 10;
/** RFC 6762 §5.2: at least 1 s between the first two queries, then doubling up to 60 min. */
export const LAN_QUERY_INTERVAL_MS = 1000;
export const MDNS_MAX_QUERY_INTERVAL_MS = 3_600_000;
/** RFC 6762 §6: answers with shared records wait 20–120 ms so responders do not collide. */
export const MDNS_RESPONSE_DELAY_MIN_MS = 20;
export const MDNS_RESPONSE_DELAY_MAX_MS = 120;
/** RFC 6762 §6: a record is multicast at most once a second in answer to queries. */
export const MDNS_MIN_MULTICAST_INTERVAL_MS = 1000;
/** RFC 6762 §8.3: two unsolicited announcements, one second apart. */
export const MDNS_ANNOUNCEMENTS = 2;
export const MDNS_ANNOUNCE_INTERVAL_MS = 1000;
/** Service instances kept, ours or not yet known to be foreign. */
export const LAN_MAX_PEERS = 32;
/** Known answers carried in one browse query (RFC 6762 §7.1), keeping it well under 1500 bytes. */
export const LAN_MAX_KNOWN_ANSWERS = 16;
/** Hex digits of the Node-ID in the instance name: 64 bits, unique enough on one link. */
export const LAN_INSTANCE_NODE_ID_HEX = 16;
/** How long close() waits for the goodbye packet to leave before closing the socket anyway. */
export const LAN_GOODBYE_WAIT_MS = 500;
/** RFC 6763 §9: the service type enumeration name. */
const SERVICES_NAME = '_services._dns-sd._udp.local';
interface Source { address: string; port: number }

export interface LanDiscoveryComponents {
  log: Logger;
  clock: Clock;
  /** Opens the mDNS socket; tests give one over an in-memory network. Default: multicast-dns. */
  mdns?: (options: makeMdns.Options) => makeMdns.MulticastDNS;
  /** Uniform in [0, 1), for the jitter RFC 6762 §5.2 and §6 ask for; default Math.random. */
  random?: () => number;
}

export interface LanDiscoveryInit {
  /** The overlay instance name (RFC 6940 §11.1 instance-name); peers of other overlays are ignored. */
  overlay: string;
  /** Our Node-ID, hex: names our service instance and lets us ignore our own announcements. */
  nodeId: string;
  /** Where our overlay link listens; undefined for a client, which only browses. */
  advertised?: Endpoint;
  /** IPv4 address of the interface to multicast on; default every interface (multicast-dns's choice). */
  interfaceAddress?: string;
  /** DNS-SD service type (RFC 6763 §7); default `_p2psip._tcp`. */
  serviceType?: string;
  /** Interval between the first two browse queries, doubling after (RFC 6762 §5.2); default 1000. */
  queryIntervalMs?: number;
  /** Service instances kept; further ones are refused and counted; default 32. */
  maxPeers?: number;
  /** UDP port; default 5353 (RFC 6762 §3). */
  port?: number;
}

interface Waiter { enough: number; finish(peers?: DiscoveredPeer[]): void }

export class LanDiscovery {
  /** Called when a peer of our overlay is found, or moves to another endpoint. */
  onDiscovered: ((peer: DiscoveredPeer) => void) | undefined;
  /** Called when a found peer says goodbye (RFC 6762 §10.1) or its records expire. */
  onLost: ((peer: DiscoveredPeer) => void) | undefined;
  private readonly sent = { queries: 0, responses: 0, suppressed: 0, undecodable: 0, socketErrors: 0 };

  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly openSocket: (options: makeMdns.Options) => makeMdns.MulticastDNS;
  private readonly serviceName: string;
  private readonly instanceName: string;
  private readonly port: number;
  private readonly queryIntervalMs: number;
  private readonly interfaceAddress: string | undefined;
  private readonly own: { ptr: Answer; srv: Answer; txt: Answer; address?: Answer; services: Answer } | undefined;
  private readonly table: LanPeerTable;
  private readonly waiters = new Set<Waiter>();
  private readonly lastMulticastMs = new Map<string, number>();
  private readonly pending = new Map<string, Answer>();
  private socket: makeMdns.MulticastDNS | undefined;
  private state: 'new' | 'started' | 'closed' = 'new';
  private closing: Promise<void> | undefined;
  private browseTimer: TimerHandle | undefined;
  private sweepTimer: TimerHandle | undefined;
  private respondTimer: TimerHandle | undefined;
  private announceTimer: TimerHandle | undefined;
  private interval: number;
  private lastQueryMs: number | undefined;
  private warnedMalformed = false;

  constructor(components: LanDiscoveryComponents, init: LanDiscoveryInit) {
    this.log = components.log;
    this.clock = components.clock;
    this.random = components.random ?? Math.random;
    this.openSocket = components.mdns ?? makeMdns;
    if (!/^[0-9a-f]{2,64}$/i.test(init.nodeId)) throw new Error(`nodeId must be hex: ${init.nodeId}`);
    const serviceType = init.serviceType ?? LAN_SERVICE_TYPE;
    if (!/^_[a-z0-9-]{1,15}\._(tcp|udp)$/i.test(serviceType)) throw new Error(`not a DNS-SD service type (RFC 6763 §7): ${serviceType}`);
    // RFC 6763 §6.1: each TXT string is at most 255 bytes.
    if (Buffer.byteLength(`overlay=${init.overlay}`) > 255 || init.overlay === '') throw new Error('overlay name does not fit a TXT string');
    const nodeId = init.nodeId.toLowerCase();
    this.serviceName = `${serviceType.toLowerCase()}.local`;
    const label = nodeId.slice(0, LAN_INSTANCE_NODE_ID_HEX);
    this.instanceName = `${label}.${this.serviceName}`;
    this.port = init.port ?? MDNS_PORT;
    this.table = new LanPeerTable({ clock: this.clock, log: this.log, random: this.random }, {
      overlay: init.overlay, nodeId, serviceName: this.serviceName, ownInstance: this.instanceName, maxPeers: Math.max(1, init.maxPeers ?? LAN_MAX_PEERS),
    });
    this.queryIntervalMs = Math.max(MDNS_MIN_MULTICAST_INTERVAL_MS, init.queryIntervalMs ?? LAN_QUERY_INTERVAL_MS);
    this.interval = this.queryIntervalMs;
    this.interfaceAddress = init.interfaceAddress;
    if (init.advertised) {
      const host = `p2psip-${label}.local`;
      // An unspecified listen address says nothing about where we are reached: publish the
      // interface's address if known, else no address record (browsers then use the packet's source).
      const literal = [init.advertised.host, init.interfaceAddress].find((h) => h !== undefined && (isIPv4(h) || isIPv6(h)) && h !== '0.0.0.0' && h !== '::');
      this.own = {
        ptr: { name: this.serviceName, type: 'PTR', ttl: MDNS_OTHER_RECORD_TTL_S, data: this.instanceName },
        // RFC 6762 §10.2: unique records carry the cache-flush bit; the shared PTR does not.
        srv: { name: this.instanceName, type: 'SRV', ttl: MDNS_HOST_RECORD_TTL_S, flush: true, data: { priority: 0, weight: 0, port: init.advertised.port, target: host } },
        txt: { name: this.instanceName, type: 'TXT', ttl: MDNS_OTHER_RECORD_TTL_S, flush: true, data: [`v=${LAN_TXT_VERSION}`, `overlay=${init.overlay}`, `nodeid=${nodeId}`] },
        address: literal ? { name: host, type: isIPv4(literal) ? 'A' : 'AAAA', ttl: MDNS_HOST_RECORD_TTL_S, flush: true, data: literal } : undefined,
        services: { name: SERVICES_NAME, type: 'PTR', ttl: MDNS_OTHER_RECORD_TTL_S, data: this.serviceName },
      };
    }
  }

  /** Opens the socket, announces us (if advertised) and starts browsing. Idempotent. */
  start(): void {
    if (this.state !== 'new') return;
    this.state = 'started';
    const socket = this.openSocket({
      port: this.port,
      // Bound to an interface address a socket on Linux receives no multicast: bind the wildcard.
      ...(this.interfaceAddress ? { interface: this.interfaceAddress, bind: '0.0.0.0' } : {}),
    });
    this.socket = socket;
    this.table.onDiscovered = (peer) => {
      this.onDiscovered?.(peer);
      const known = this.table.peers().length;
      for (const w of [...this.waiters]) if (known >= w.enough) w.finish();
    };
    this.table.onLost = (peer) => this.onLost?.(peer);
    socket.on('query', (packet: makeMdns.QueryPacket, rinfo: Source) => this.guard(() => this.onQuery(packet, rinfo)));
    socket.on('response', (packet: makeMdns.ResponsePacket, rinfo: Source) => this.guard(() => this.onResponse(packet, rinfo)));
    socket.on('warning', (e: Error) => this.dropped('undecodable packet', e));
    socket.on('error', (e: Error) => {
      this.sent.socketErrors++;
      this.log.warn('mdns socket error: LAN discovery is off', { error: e });
    });
    if (this.own) this.announce(0);
    // RFC 6762 §5.2: the first query waits 20–120 ms, so devices powered on together spread out.
    this.browseTimer = this.clock.setTimeout(() => this.browse(), this.jitter());
  }

  /**
   * Queries now (or as soon as RFC 6762 §5.2 allows) and resolves after `timeoutMs`, or once
   * `enough` peers are known, or on abort, with the peers of our overlay known then, earliest first.
   */
  discover(timeoutMs: number, options: { signal?: AbortSignal; enough?: number } = {}): Promise<DiscoveredPeer[]> {
    if (this.state === 'closed') return Promise.resolve([]);
    this.start();
    this.restartBrowsing();
    const enough = options.enough ?? Infinity;
    if (options.signal?.aborted || this.peers().length >= enough) return Promise.resolve(this.peers());
    return new Promise((resolve) => {
      const onAbort = (): void => waiter.finish();
      const waiter: Waiter = {
        enough,
        finish: (peers) => {
          if (!this.waiters.delete(waiter)) return;
          this.clock.clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          resolve(peers ?? this.peers());
        },
      };
      const timer = this.clock.setTimeout(() => waiter.finish(), Math.max(0, timeoutMs));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** The peers of our overlay known now, earliest found first. */
  peers(): DiscoveredPeer[] {
    return this.state === 'closed' ? [] : this.table.peers();
  }

  /** Packets sent and dropped, and the peer table's refusals (over maxPeers) and evictions. */
  get counters(): Record<string, number> {
    const t = this.table.counters;
    return { ...this.sent, malformed: this.sent.undecodable + t.malformed, refused: t.refused, evicted: t.evicted, instances: this.table.size };
  }

  /** Sends goodbye records (RFC 6762 §10.1) and closes the socket. Idempotent; no callback after. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const wasStarted = this.state === 'started';
    // A discover() in progress resolves with what was found; callbacks stop here.
    const found = this.peers();
    for (const w of [...this.waiters]) w.finish(found);
    this.state = 'closed';
    for (const t of [this.browseTimer, this.sweepTimer, this.respondTimer, this.announceTimer]) this.clock.clearTimeout(t);
    this.pending.clear();
    this.table.clear();
    this.onDiscovered = undefined;
    this.onLost = undefined;
    const socket = this.socket;
    this.closing = new Promise<void>((resolve) => {
      if (!socket || !wasStarted) return resolve();
      let destroyed = false;
      const destroy = (): void => {
        if (destroyed) return;
        destroyed = true;
        this.clock.clearTimeout(guard);
        socket.destroy(() => resolve());
      };
      const guard = this.clock.setTimeout(destroy, LAN_GOODBYE_WAIT_MS);
      if (!this.own) return destroy();
      const goodbye = this.ownRecords().map((r) => ({ ...r, ttl: 0 }) as Answer);
      socket.respond({ answers: goodbye }, () => destroy());
    });
    return this.closing;
  }

  // ---------------------------------------------------------------------------------------------
  // Responder (RFC 6762 §6, §8.3; RFC 6763 §12)

  private announce(sent: number): void {
    if (this.state !== 'started' || !this.own) return;
    this.multicast(this.ownRecords(), []);
    if (sent + 1 < MDNS_ANNOUNCEMENTS) this.announceTimer = this.clock.setTimeout(() => this.announce(sent + 1), MDNS_ANNOUNCE_INTERVAL_MS);
  }

  private ownRecords(): Answer[] {
    const o = this.own!;
    return [o.ptr, o.srv, o.txt, ...(o.address ? [o.address] : [])];
  }

  private onQuery(packet: makeMdns.QueryPacket, rinfo: Source): void {
    if (!this.own || this.state !== 'started') return;
    const o = this.own;
    const known = Array.isArray(packet.answers) ? packet.answers : [];
    const answers: Answer[] = [];
    const asked: Question[] = [];
    for (const q of Array.isArray(packet.questions) ? packet.questions : []) {
      if (typeof q?.name !== 'string') continue;
      const name = q.name.toLowerCase();
      const is = (t: string): boolean => q.type === t || (q.type as string) === 'ANY';
      const before = answers.length;
      if (name === this.serviceName && is('PTR')) answers.push(o.ptr);
      else if (name === SERVICES_NAME && is('PTR')) answers.push(o.services);
      else if (name === this.instanceName) {
        if (is('SRV')) answers.push(o.srv);
        if (is('TXT')) answers.push(o.txt);
      } else if (o.address && name === o.address.name && is(o.address.type)) answers.push(o.address);
      if (answers.length > before) asked.push({ name, type: q.type });
    }
    // RFC 6762 §7.1: no answer the querier already holds with at least half its TTL.
    const fresh = answers.filter((a, i) => answers.indexOf(a) === i && !known.some((k) => sameRecord(k, a) && ttlOf(k) >= (a.ttl ?? 0) / 2));
    this.sent.suppressed += answers.length - fresh.length;
    if (fresh.length === 0) return;
    if (rinfo.port !== this.port) {
      // RFC 6762 §6.7 legacy unicast: answer the source directly, echo ID and questions, TTL ≤ 10 s, no cache-flush bit.
      const legacy = (r: Answer): Answer => ({ ...r, ttl: Math.min(r.ttl ?? 0, MDNS_LEGACY_UNICAST_TTL_S), flush: false }) as Answer;
      // Only the questions answered are echoed, as plain IN questions: names and types we know encode.
      this.sent.responses++;
      this.socket!.respond({ id: packet.id, questions: asked, answers: fresh.map(legacy), additionals: this.additionalsFor(fresh).map(legacy) }, { address: rinfo.address, port: rinfo.port });
      return;
    }
    // RFC 6762 §5.4: a QU question may be answered by multicast; we always multicast, which every querier hears.
    for (const a of fresh) this.pending.set(recordKey(a), a);
    if (this.respondTimer) return;
    const shared = fresh.some((a) => a.type === 'PTR');
    this.respondTimer = this.clock.setTimeout(() => this.flushResponse(), shared ? this.jitter() : 0);
  }

  private flushResponse(): void {
    this.respondTimer = undefined;
    const now = this.clock.now();
    // RFC 6762 §6: not again within a second; a querier should have heard the last one.
    const answers = [...this.pending.values()].filter((a) => now - (this.lastMulticastMs.get(recordKey(a)) ?? -Infinity) >= MDNS_MIN_MULTICAST_INTERVAL_MS);
    this.sent.suppressed += this.pending.size - answers.length;
    this.pending.clear();
    if (answers.length > 0) this.multicast(answers, this.additionalsFor(answers));
  }

  /** RFC 6763 §12.1–12.2: with a PTR go its SRV, TXT and address; with an SRV its address. */
  private additionalsFor(answers: Answer[]): Answer[] {
    const o = this.own!;
    const extra: Answer[] = [];
    if (answers.includes(o.ptr)) extra.push(o.srv, o.txt);
    if ((answers.includes(o.ptr) || answers.includes(o.srv)) && o.address) extra.push(o.address);
    return extra.filter((r, i) => !answers.includes(r) && extra.indexOf(r) === i);
  }

  private multicast(answers: Answer[], additionals: Answer[]): void {
    const now = this.clock.now();
    for (const r of [...answers, ...additionals]) this.lastMulticastMs.set(recordKey(r), now);
    this.sent.responses++;
    this.socket!.respond({ answers, additionals });
  }

  // ---------------------------------------------------------------------------------------------
  // Browser (RFC 6762 §5.2, §7.1; the cache itself is LanPeerTable)

  private restartBrowsing(): void {
    this.clock.clearTimeout(this.browseTimer);
    this.interval = this.queryIntervalMs;
    // RFC 6762 §5.2: never two browse queries less than a second apart.
    const wait = this.lastQueryMs === undefined ? 0 : Math.max(0, this.lastQueryMs + MDNS_MIN_MULTICAST_INTERVAL_MS - this.clock.now());
    this.browseTimer = this.clock.setTimeout(() => this.browse(), wait);
  }

  private browse(): void {
    if (this.state !== 'started') return;
    this.query([{ name: this.serviceName, type: 'PTR' }], this.table.knownAnswers(LAN_MAX_KNOWN_ANSWERS));
    this.lastQueryMs = this.clock.now();
    this.browseTimer = this.clock.setTimeout(() => this.browse(), this.interval);
    this.interval = Math.min(this.interval * 2, MDNS_MAX_QUERY_INTERVAL_MS);
  }

  private query(questions: Question[], known: Answer[] = []): void {
    if (questions.length === 0) return;
    this.sent.queries++;
    this.socket!.query({ questions: questions.slice(0, 2 * LAN_MAX_KNOWN_ANSWERS), answers: known });
  }

  private onResponse(packet: makeMdns.ResponsePacket, rinfo: Source): void {
    if (this.state !== 'started') return;
    // RFC 6762 §11: responses not sent from the mDNS port are silently ignored.
    if (rinfo.port !== this.port) return;
    const records = [...(Array.isArray(packet.answers) ? packet.answers : []), ...(Array.isArray(packet.additionals) ? packet.additionals : [])];
    this.query(this.table.absorb(records, rinfo.address));
    this.scheduleSweep();
  }

  private scheduleSweep(): void {
    if (this.state !== 'started') return;
    this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    const next = this.table.nextDueMs();
    if (next === Infinity) return;
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweepTimer = undefined;
      if (this.state !== 'started') return;
      this.guard(() => this.query(this.table.sweep()));
      this.scheduleSweep();
    }, Math.max(0, next - this.clock.now()));
  }

  // ---------------------------------------------------------------------------------------------

  private jitter(): number {
    return MDNS_RESPONSE_DELAY_MIN_MS + this.random() * (MDNS_RESPONSE_DELAY_MAX_MS - MDNS_RESPONSE_DELAY_MIN_MS);
  }

  /** Network input never throws into the socket: a bad packet is logged once, counted, dropped. */
  private guard(handle: () => void): void {
    try {
      handle();
    } catch (e) {
      this.dropped('packet handling failed', e);
    }
  }

  private dropped(what: string, e: unknown): void {
    this.sent.undecodable++;
    if (this.state !== 'started') return;
    const fields = { what, error: e instanceof Error ? e.message : e, count: this.sent.undecodable };
    if (this.warnedMalformed) this.log.debug('malformed mDNS input dropped', fields);
    else this.log.warn('malformed mDNS input dropped (further ones are logged at debug)', fields);
    this.warnedMalformed = true;
  }
}

function recordKey(r: Answer): string {
  return `${r.type} ${r.name.toLowerCase()}`;
}

function ttlOf(r: unknown): number {
  const ttl = (r as { ttl?: unknown } | undefined)?.ttl;
  return typeof ttl === 'number' ? ttl : 0;
}

/** Whether a known answer (RFC 6762 §7.1) is the record we would send: same name, type and data. */
function sameRecord(known: unknown, a: Answer): boolean {
  const k = known as { name?: unknown; type?: unknown; data?: unknown } | undefined;
  if (typeof k?.name !== 'string' || k.type !== a.type || k.name.toLowerCase() !== a.name.toLowerCase()) return false;
  if (a.type === 'PTR' || a.type === 'A' || a.type === 'AAAA') return typeof k.data === 'string' && k.data.toLowerCase() === a.data.toLowerCase();
  if (a.type === 'SRV') {
    const d = k.data as { port?: unknown; target?: unknown } | undefined;
    return d?.port === a.data.port && typeof d.target === 'string' && d.target.toLowerCase() === a.data.target.toLowerCase();
  }
  return false;
}
