// The browsing side of LAN discovery: a bounded, aging cache of the DNS-SD service instances
// heard on the link (RFC 6762 §10, RFC 6763 §4), and from it the peers of our overlay. Pure
// state over an injected clock; the mDNS socket and its timers live in lan-discovery.ts.
import { isIPv4, isIPv6 } from 'node:net';
import type makeMdns from 'multicast-dns';
import type { Endpoint } from '../link/link.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';

/** A resource record as multicast-dns (dns-packet) encodes it, OPT pseudo-records aside. */
export type Answer = Exclude<NonNullable<makeMdns.ResponseOutgoingPacket['answers']>[number], { type: 'OPT' }>;
export type Question = makeMdns.QueryOutgoingPacket['questions'][number];

/** The TXT `v=` value this code publishes and understands; other versions are not our peers. */
export const LAN_TXT_VERSION = '1';
/** RFC 6762 §10.1: a record received with TTL 0 is dropped one second later. */
export const MDNS_GOODBYE_GRACE_MS = 1000;
/** RFC 6762 §5.2: a cached record is re-queried at 80, 85, 90 and 95 % of its TTL (+0–2 %). */
export const MDNS_REFRESH_FRACTIONS = [0.8, 0.85, 0.9, 0.95] as const;
/** RFC 6762 §6: at most one query a second for the same instance. */
const RESOLVE_INTERVAL_MS = 1000;
/** Never keep a record longer than the longest TTL we publish (RFC 6762 §10: 75 min), whatever a packet claims. */
const MAX_TTL_S = 4500;

/** A peer of our overlay as its DNS-SD records describe it: unverified until the TLS handshake. */
export interface DiscoveredPeer extends Endpoint {
  nodeId: string;
  overlay: string;
  /** The DNS-SD service instance name. */
  instance: string;
  /** Clock time of its first and latest record. */
  firstSeenMs: number;
  lastSeenMs: number;
}

export interface LanPeerTableInit {
  /** Overlay instance name; instances whose TXT names another are kept out of `peers()`. */
  overlay: string;
  /** Our Node-ID, hex; an instance claiming it is not a peer. */
  nodeId: string;
  /** `_p2psip._tcp.local`: the PTR owner name browsed for. */
  serviceName: string;
  /** Our own instance name, ignored when our announcements loop back. */
  ownInstance: string;
  /** Instances kept at most. */
  maxPeers: number;
}

interface Cached { receivedMs: number; ttlMs: number; expiresMs: number }
interface Instance {
  name: string;
  firstSeenMs: number;
  lastSeenMs: number;
  ptr?: Cached;
  srv?: Cached & { port: number; target: string };
  txt?: Cached & { overlay: string; nodeId: string; ours: boolean };
  address?: Cached & { host: string; fromRecord: boolean };
  /** Refresh queries sent for the record the entry expires with (RFC 6762 §5.2). */
  refreshes: number;
  refreshAtMs?: number;
  resolveAskedMs?: number;
  reported?: DiscoveredPeer;
}

export class LanPeerTable {
  /** A peer of our overlay was found, or moved to another endpoint. */
  onDiscovered: ((peer: DiscoveredPeer) => void) | undefined;
  /** A found peer said goodbye, its records expired, or it turned out foreign. */
  onLost: ((peer: DiscoveredPeer) => void) | undefined;
  readonly counters = { malformed: 0, refused: 0, evicted: 0 };
  private readonly instances = new Map<string, Instance>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly suffix: string;
  private warned = false;

  constructor(components: { clock: Clock; log: Logger; random?: () => number }, private readonly init: LanPeerTableInit) {
    this.clock = components.clock;
    this.log = components.log;
    this.random = components.random ?? Math.random;
    this.suffix = `.${init.serviceName}`;
  }

  get size(): number {
    return this.instances.size;
  }

  /**
   * Takes in the records of one mDNS response (answers and additionals, RFC 6763 §12) sent from
   * `source`; returns the questions that would complete an instance known only by its PTR.
   */
  absorb(records: readonly unknown[], source: string): Question[] {
    const now = this.clock.now();
    const touched = new Set<Instance>();
    const rs = records.filter((r): r is Answer => typeof (r as Answer | undefined)?.name === 'string' && typeof (r as Answer).type === 'string');
    for (const r of rs) {
      if (r.type !== 'PTR' || r.name.toLowerCase() !== this.init.serviceName || typeof r.data !== 'string') continue;
      const i = this.instanceFor(r.data.toLowerCase(), now);
      if (i) { i.ptr = cached(r.ttl, now); touched.add(i); }
    }
    for (const r of rs) {
      if (r.type !== 'SRV' && r.type !== 'TXT') continue;
      const i = this.instanceFor(r.name.toLowerCase(), now);
      if (!i) continue;
      if (r.type === 'SRV') {
        const d = r.data as { port?: unknown; target?: unknown } | undefined;
        const port = d?.port;
        if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535 || typeof d?.target !== 'string' || d.target === '') {
          this.malformed('SRV record', i.name);
          continue;
        }
        const target = d.target.toLowerCase();
        if (i.srv?.target !== target) i.address = undefined;
        i.srv = { ...cached(r.ttl, now), port, target };
        i.refreshes = 0;
      } else {
        const txt = parseTxt(r.data);
        if (!txt) { this.malformed('TXT record', i.name); continue; }
        const ours = txt.v === LAN_TXT_VERSION && txt.overlay === this.init.overlay.toLowerCase() && txt.nodeId !== this.init.nodeId.toLowerCase();
        i.txt = { ...cached(r.ttl, now), overlay: txt.overlay, nodeId: txt.nodeId, ours };
      }
      touched.add(i);
    }
    for (const r of rs) {
      if ((r.type !== 'A' && r.type !== 'AAAA') || typeof r.data !== 'string' || !(r.type === 'A' ? isIPv4(r.data) : isIPv6(r.data))) continue;
      const host = r.name.toLowerCase();
      for (const i of this.instances.values()) {
        // An IPv4 address is preferred: the overlay's links and this socket are IPv4.
        if (i.srv?.target !== host || (r.type === 'AAAA' && i.address?.fromRecord && isIPv4(i.address.host))) continue;
        i.address = { ...cached(r.ttl, now), host: r.data, fromRecord: true };
        touched.add(i);
      }
    }
    const resolve: Question[] = [];
    for (const i of touched) {
      i.lastSeenMs = now;
      // No address record: the peer is where its packets come from, for as long as its SRV lives.
      if (i.srv && !i.address?.fromRecord) {
        i.address = { receivedMs: i.srv.receivedMs, ttlMs: i.srv.ttlMs, expiresMs: i.srv.expiresMs, host: source, fromRecord: false };
      }
      if ((!i.srv || !i.txt) && (i.resolveAskedMs === undefined || now - i.resolveAskedMs >= RESOLVE_INTERVAL_MS)) {
        // RFC 6763 §4.3: a PTR only names the instance; its SRV and TXT say where and what it is.
        i.resolveAskedMs = now;
        resolve.push({ name: i.name, type: 'SRV' }, { name: i.name, type: 'TXT' });
      }
      this.report(i, now);
    }
    this.plan();
    return resolve;
  }

  /**
   * Drops what has expired (telling onLost) and returns the SRV and TXT questions for the
   * peers whose records are due for a refresh (RFC 6762 §5.2).
   */
  sweep(): Question[] {
    const now = this.clock.now();
    const questions: Question[] = [];
    for (const i of [...this.instances.values()]) {
      if (expiresOf(i) <= now) {
        this.instances.delete(i.name);
        this.lose(i);
      } else if (i.reported && i.refreshAtMs !== undefined && now >= i.refreshAtMs) {
        questions.push({ name: i.name, type: 'SRV' }, { name: i.name, type: 'TXT' });
        i.refreshes++;
      }
    }
    this.plan();
    return questions;
  }

  /** Clock time at which `sweep()` has something to do; Infinity when nothing is cached. */
  nextDueMs(): number {
    let next = Infinity;
    for (const i of this.instances.values()) next = Math.min(next, expiresOf(i), i.refreshAtMs ?? Infinity);
    return next;
  }

  /** RFC 6762 §7.1: the PTRs we hold with more than half their TTL left, for a query's answer section. */
  knownAnswers(max: number): Answer[] {
    const now = this.clock.now();
    const known: Answer[] = [];
    for (const i of this.instances.values()) {
      if (known.length >= max) break;
      const left = i.ptr ? i.ptr.expiresMs - now : 0;
      if (i.ptr && left > i.ptr.ttlMs / 2) known.push({ name: this.init.serviceName, type: 'PTR', ttl: Math.floor(left / 1000), data: i.name });
    }
    return known;
  }

  /** The peers of our overlay known now, earliest found first. */
  peers(): DiscoveredPeer[] {
    const now = this.clock.now();
    return [...this.instances.values()]
      .filter((i) => i.reported !== undefined && expiresOf(i) > now)
      .map((i) => ({ ...i.reported!, lastSeenMs: i.lastSeenMs }))
      .sort((a, b) => a.firstSeenMs - b.firstSeenMs);
  }

  /** Forgets everything without calling back. */
  clear(): void {
    this.onDiscovered = undefined;
    this.onLost = undefined;
    this.instances.clear();
  }

  private instanceFor(name: string, now: number): Instance | undefined {
    if (!name.endsWith(this.suffix) || name === this.init.ownInstance) return undefined;
    const found = this.instances.get(name);
    if (found) return found;
    if (this.instances.size >= this.init.maxPeers) {
      for (const i of [...this.instances.values()]) if (expiresOf(i) <= now) { this.instances.delete(i.name); this.lose(i); }
    }
    if (this.instances.size >= this.init.maxPeers) {
      // Room goes to our overlay's peers: an unresolved or foreign instance may be evicted, a peer of ours never.
      const victim = [...this.instances.values()].find((i) => !i.reported);
      if (!victim) {
        this.counters.refused++;
        this.log.debug('LAN peer table full: instance refused', { instance: name, maxPeers: this.init.maxPeers });
        return undefined;
      }
      this.instances.delete(victim.name);
      this.counters.evicted++;
    }
    const i: Instance = { name, firstSeenMs: now, lastSeenMs: now, refreshes: 0 };
    this.instances.set(name, i);
    return i;
  }

  private report(i: Instance, now: number): void {
    const { srv, txt, address } = i;
    if (!srv || !txt || !address || !txt.ours || expiresOf(i) <= now) {
      if (i.reported && txt && !txt.ours) this.lose(i);
      return;
    }
    const prev = i.reported;
    if (prev && prev.host === address.host && prev.port === srv.port && prev.nodeId === txt.nodeId) return;
    i.reported = {
      host: address.host, port: srv.port, nodeId: txt.nodeId, overlay: txt.overlay, instance: i.name,
      firstSeenMs: prev?.firstSeenMs ?? i.firstSeenMs, lastSeenMs: i.lastSeenMs,
    };
    this.onDiscovered?.({ ...i.reported });
  }

  private lose(i: Instance): void {
    const peer = i.reported;
    i.reported = undefined;
    if (peer) this.onLost?.({ ...peer, lastSeenMs: i.lastSeenMs });
  }

  /** Sets each peer's next refresh: at the next RFC 6762 §5.2 fraction of the record it expires with. */
  private plan(): void {
    for (const i of this.instances.values()) {
      const expires = expiresOf(i);
      // A goodbye (TTL 0 received) is not refreshed: the peer said it is leaving.
      const first = [i.srv, i.txt, i.address, i.ptr].find((c): c is Cached => c !== undefined && c.expiresMs === expires);
      const fraction = MDNS_REFRESH_FRACTIONS[i.refreshes];
      if (!i.reported || !first || first.ttlMs === 0 || fraction === undefined) i.refreshAtMs = undefined;
      else if (i.refreshAtMs === undefined || i.refreshAtMs < first.receivedMs + first.ttlMs * fraction) {
        i.refreshAtMs = first.receivedMs + first.ttlMs * (fraction + 0.02 * this.random());
      }
    }
  }

  /** Malformed records from the network: counted, logged once at warn, then at debug. */
  private malformed(what: string, instance: string): void {
    this.counters.malformed++;
    const fields = { what, instance, count: this.counters.malformed };
    if (this.warned) this.log.debug('malformed DNS-SD record dropped', fields);
    else this.log.warn('malformed DNS-SD record dropped (further ones at debug)', fields);
    this.warned = true;
  }
}

/** An instance lives as long as its shortest-lived record. */
function expiresOf(i: Instance): number {
  return Math.min(i.ptr?.expiresMs ?? Infinity, i.srv?.expiresMs ?? Infinity, i.txt?.expiresMs ?? Infinity, i.address?.expiresMs ?? Infinity);
}

function cached(ttlS: unknown, now: number): Cached {
  const ttl = typeof ttlS === 'number' && Number.isFinite(ttlS) && ttlS > 0 ? Math.min(ttlS, MAX_TTL_S) : 0;
  // RFC 6762 §10.1: TTL 0 is a goodbye; keep the record one more second, then drop it.
  return { receivedMs: now, ttlMs: ttl * 1000, expiresMs: now + (ttl === 0 ? MDNS_GOODBYE_GRACE_MS : ttl * 1000) };
}

/** RFC 6763 §6.3–6.4: `key=value` strings, keys case-insensitive, the first of a key wins. */
export function parseTxt(data: unknown): { v: string; overlay: string; nodeId: string } | undefined {
  const strings = Array.isArray(data) ? data : [data];
  const pairs = new Map<string, string>();
  for (const s of strings) {
    const text = Buffer.isBuffer(s) ? s.toString('utf8') : typeof s === 'string' ? s : undefined;
    if (text === undefined) return undefined;
    const eq = text.indexOf('=');
    if (eq <= 0) continue;
    const key = text.slice(0, eq).toLowerCase();
    if (!pairs.has(key)) pairs.set(key, text.slice(eq + 1));
  }
  const v = pairs.get('v');
  const overlay = pairs.get('overlay');
  const nodeId = pairs.get('nodeid');
  if (v === undefined || !overlay || !nodeId || !/^[0-9a-f]{2,64}$/i.test(nodeId)) return undefined;
  return { v, overlay: overlay.toLowerCase(), nodeId: nodeId.toLowerCase() };
}
