// The node's links: outbound connects, inbound accepts, one link per Node-ID, and every
// message handed to the transport (RFC 6940 §6.5, §6.6).
import { type NodeId, idEquals, toHex } from '../codec/index.ts';
import type { Endpoint, Link } from '../link/link.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';

/** Opens links: the TLS transport in a device, something in memory in a test. */
export interface LinkConnector {
  connect(endpoint: Endpoint, expectedNodeId?: NodeId): Promise<Link>;
}

export interface LinkTableInit {
  /** Cap on open links; over it the least recently used unprotected link is closed. */
  maxLinks: number;
}

interface Waiter {
  id: NodeId;
  resolve(link: Link): void;
  reject(e: Error): void;
  timer: TimerHandle;
}

/**
 * The connection table (§6.5): links by Node-ID, least recently used first. Links to
 * routing-table peers are protected from eviction; when all are protected a new link is
 * refused, and counted.
 */
export class Links {
  private readonly byId = new Map<string, Link>();
  private readonly waiters = new Set<Waiter>();
  evictions = 0;
  refusals = 0;
  /** Called with every message a link delivers. */
  onMessage: (bytes: Uint8Array, link: Link) => void = () => {};
  /** Called once for every link that closes while it is in the table. */
  onClose: (link: Link, reason: string) => void = () => {};
  /** Routing-table peers: never evicted for a newcomer. */
  isProtected: (id: NodeId) => boolean = () => false;

  constructor(private readonly components: { clock: Clock; log: Logger; connector: LinkConnector }, private readonly init: LinkTableInit) {}

  get size(): number {
    return this.byId.size;
  }

  all(): Link[] {
    return [...this.byId.values()];
  }

  get(id: NodeId): Link | undefined {
    const link = this.byId.get(toHex(id));
    return link && !link.closed ? link : undefined;
  }

  /** Marks a link used, for least-recently-used eviction. */
  touch(link: Link): void {
    const key = toHex(link.remoteNodeId);
    if (this.byId.get(key) === link) {
      this.byId.delete(key);
      this.byId.set(key, link);
    }
  }

  /**
   * Takes a new authenticated link into the table. A second link to a Node-ID already
   * linked closes the newer one: the first link's messages are already flowing.
   */
  add(link: Link): boolean {
    const key = toHex(link.remoteNodeId);
    const old = this.byId.get(key);
    if (old && !old.closed) {
      // Both ends connected at once: keep the link opened by the smaller Node-ID's side,
      // so the two ends keep the same one.
      const keepNew = link.outbound === (toHex(link.remoteNodeId) > toHex(this.selfOf(link)));
      if (!keepNew) {
        link.close('duplicate link');
        return false;
      }
      this.byId.delete(key);
      old.onClose = () => {};
      old.close('replaced by a newer link');
    }
    if (this.byId.size >= this.init.maxLinks && !this.evict()) {
      this.refusals++;
      link.close('connection table full');
      return false;
    }
    this.byId.set(key, link);
    link.onMessage = (bytes) => {
      this.touch(link);
      this.onMessage(bytes, link);
    };
    link.onClose = (reason) => {
      if (this.byId.get(key) === link) this.byId.delete(key);
      this.onClose(link, reason);
    };
    for (const w of [...this.waiters]) {
      if (idEquals(w.id, link.remoteNodeId)) {
        this.components.clock.clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve(link);
      }
    }
    return true;
  }

  /** Our own Node-ID as seen from a link: set by the node that owns this table. */
  selfId: NodeId = new Uint8Array(16);
  private selfOf(_link: Link): NodeId {
    return this.selfId;
  }

  /** Connects to an endpoint and adds the link; resolves with the link kept. */
  async connect(endpoint: Endpoint, expected?: NodeId): Promise<Link> {
    const existing = expected && this.get(expected);
    if (existing) return existing;
    const link = await this.components.connector.connect(endpoint, expected);
    this.add(link);
    return this.get(link.remoteNodeId) ?? Promise.reject(new Error('link refused by the connection table'));
  }

  /** Resolves when a link to `id` is in the table (now, or within `timeoutMs`). */
  waitFor(id: NodeId, timeoutMs: number): Promise<Link> {
    const now = this.get(id);
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        id, resolve, reject,
        timer: this.components.clock.setTimeout(() => {
          this.waiters.delete(w);
          reject(new Error(`no link from ${toHex(id)} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.add(w);
    });
  }

  closeAll(reason: string): void {
    for (const w of this.waiters) {
      this.components.clock.clearTimeout(w.timer);
      w.reject(new Error(reason));
    }
    this.waiters.clear();
    for (const link of this.all()) link.close(reason);
    this.byId.clear();
  }

  private evict(): boolean {
    for (const [key, link] of this.byId) {
      if (this.isProtected(link.remoteNodeId)) continue;
      this.byId.delete(key);
      this.evictions++;
      this.components.log.debug('evicting least recently used link', { peer: link.remoteNodeId });
      link.close('evicted');
      return true;
    }
    return false;
  }
}
