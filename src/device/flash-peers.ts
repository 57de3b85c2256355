// Remembered bootstrap peers (RFC 6940 §11.4): "After a node has successfully joined the
// overlay network, it will have direct connections to several peers. Some MAY be added to the
// cached bootstrap nodes list and used in future boots. Peers that are not directly
// connected MUST NOT be cached. The suggested number of peers to cache is 10."
//
// The list lives in memory, newest first; flash is written only when the set of endpoints
// changes (not their order), and at most once per REMEMBERED_PEERS_WRITE_INTERVAL_MS: a change
// inside the interval is written when it ends, or at close. A damaged record only costs the
// list: the device still has its configured bootstrap nodes.
import type { Endpoint } from '../link/link.ts';
import type { NodeId } from '../codec/index.ts';
import { type Clock, type TimerHandle, systemClock } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import {
  REMEMBERED_PEERS_MAX, REMEMBERED_PEERS_RECORD, REMEMBERED_PEERS_SAMPLE_INTERVAL_MS, REMEMBERED_PEERS_WRITE_INTERVAL_MS,
} from './flash-constants.ts';
import { type FlashStore, FlashRecordError } from './flash-store.ts';

/** The record's value. */
export interface RememberedPeersRecord {
  peers: Endpoint[];
}

const MAX_HOST_LENGTH = 255;

function isEndpoint(v: unknown): v is Endpoint {
  if (typeof v !== 'object' || v === null) return false;
  const { host, port } = v as Record<string, unknown>;
  return typeof host === 'string' && host.length > 0 && host.length <= MAX_HOST_LENGTH && Number.isInteger(port) && (port as number) > 0 && (port as number) < 65536;
}

export function rememberedPeersRecordOf(v: unknown): RememberedPeersRecord {
  const peers = (v as { peers?: unknown } | null)?.peers;
  if (!Array.isArray(peers) || !peers.every(isEndpoint)) throw new TypeError('peers is not a list of endpoints');
  return { peers: peers.map((p) => ({ host: p.host, port: p.port })) };
}

const keyOf = (e: Endpoint): string => `${e.host}:${e.port}`;

function sameSet(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  const keys = new Set(a.map(keyOf));
  return b.every((e) => keys.has(keyOf(e)));
}

/** What a node offers of its links: enough to tell its directly connected peers' addresses. */
export interface LinkedPeersSource {
  links: { all(): readonly { remoteNodeId: NodeId; remote: Endpoint; outbound: boolean }[] };
  /** The listening address a node offered in an Attach, if known. */
  endpointOf(id: NodeId): Endpoint | undefined;
}

/**
 * The listening addresses of the peers we have a link to (§11.4 caches only those): the one
 * offered in their Attach, or where we dialled them. An inbound link's remote port is an
 * ephemeral one, useless for a bootstrap.
 */
export function linkedPeerEndpoints(node: LinkedPeersSource, self?: Endpoint): Endpoint[] {
  const out: Endpoint[] = [];
  for (const l of node.links.all()) {
    const e = node.endpointOf(l.remoteNodeId) ?? (l.outbound ? l.remote : undefined);
    if (e && !(self && keyOf(e) === keyOf(self))) out.push(e);
  }
  return out;
}

export interface RememberedPeersComponents {
  store: FlashStore;
  log: Logger;
  /** Paces the writes; default the system clock. */
  clock?: Clock;
}

export interface RememberedPeersInit {
  /** Most endpoints kept; default REMEMBERED_PEERS_MAX (10, §11.4). */
  max?: number;
  /** Least time between two writes, ms; default REMEMBERED_PEERS_WRITE_INTERVAL_MS (10 min). */
  writeIntervalMs?: number;
}

export class RememberedPeers {
  private peers: Endpoint[] = [];
  /** The set flash holds. */
  private onFlash: Endpoint[] = [];
  private lastWriteAt: number | undefined;
  private writeTimer: TimerHandle | undefined;
  private sampleTimer: TimerHandle | undefined;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly clock: Clock;
  private readonly max: number;
  private readonly writeIntervalMs: number;

  private constructor(private readonly components: RememberedPeersComponents, init: RememberedPeersInit) {
    this.clock = components.clock ?? systemClock;
    this.max = init.max ?? REMEMBERED_PEERS_MAX;
    this.writeIntervalMs = init.writeIntervalMs ?? REMEMBERED_PEERS_WRITE_INTERVAL_MS;
  }

  /** Loads the list from flash; a damaged record is logged and the list starts empty. */
  static async open(components: RememberedPeersComponents, init: RememberedPeersInit = {}): Promise<RememberedPeers> {
    const r = new RememberedPeers(components, init);
    try {
      const found = await components.store.read(REMEMBERED_PEERS_RECORD, rememberedPeersRecordOf);
      r.peers = found?.value.peers.slice(0, r.max) ?? [];
      r.onFlash = r.peers;
    } catch (e) {
      if (!(e instanceof FlashRecordError) || e.reason !== 'corrupt') throw e;
      components.log.warn(`${e.message}; starting without remembered peers (the configured bootstrap nodes still apply)`, { problems: e.problems });
    }
    return r;
  }

  /** The remembered endpoints, most recently seen first. */
  rememberedPeers(): Endpoint[] {
    return this.peers.map((p) => ({ ...p }));
  }

  /**
   * Peers seen just now (directly connected, §11.4) go to the front of the list; older ones
   * fill it up to `max`. Flash follows when the set changed, paced by the write interval.
   */
  rememberPeers(endpoints: readonly Endpoint[]): void {
    if (this.closed) return;
    const next = new Map<string, Endpoint>();
    for (const e of [...endpoints, ...this.peers]) {
      if (!isEndpoint(e) || next.has(keyOf(e))) continue;
      next.set(keyOf(e), { host: e.host, port: e.port });
      if (next.size >= this.max) break;
    }
    this.peers = [...next.values()];
    this.schedule();
  }

  /**
   * Samples `source` now and every `intervalMs` (default REMEMBERED_PEERS_SAMPLE_INTERVAL_MS)
   * until close: how a running device remembers whom it is linked to.
   */
  track(source: () => readonly Endpoint[], intervalMs = REMEMBERED_PEERS_SAMPLE_INTERVAL_MS): void {
    const sample = (): void => {
      if (this.closed) return;
      this.rememberPeers(source());
      this.sampleTimer = this.clock.setTimeout(sample, intervalMs);
    };
    this.clock.clearTimeout(this.sampleTimer);
    sample();
  }

  /** Writes a pending change now, whatever the interval. */
  async flush(): Promise<void> {
    this.clock.clearTimeout(this.writeTimer);
    this.writeTimer = undefined;
    await this.writeIfChanged();
  }

  /** Writes a pending change and stops; idempotent, nothing is written after it. */
  async close(): Promise<void> {
    if (this.closed) return this.writing;
    this.clock.clearTimeout(this.sampleTimer);
    await this.flush();
    this.closed = true;
  }

  private schedule(): void {
    if (sameSet(this.peers, this.onFlash) || this.writeTimer) return;
    const now = this.clock.now();
    const wait = this.lastWriteAt === undefined ? 0 : this.lastWriteAt + this.writeIntervalMs - now;
    if (wait <= 0) {
      void this.writeIfChanged();
      return;
    }
    this.writeTimer = this.clock.setTimeout(() => {
      this.writeTimer = undefined;
      void this.writeIfChanged();
    }, wait);
  }

  private writeIfChanged(): Promise<void> {
    this.writing = this.writing.then(async () => {
      if (this.closed || sameSet(this.peers, this.onFlash)) return;
      const peers = this.peers;
      this.lastWriteAt = this.clock.now();
      try {
        await this.components.store.write(REMEMBERED_PEERS_RECORD, { peers });
        this.onFlash = peers;
      } catch (e) {
        this.components.log.warn('could not remember the bootstrap peers', { error: (e as Error).message });
      }
    });
    return this.writing;
  }
}
