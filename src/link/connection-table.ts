// The links this node holds, one per remote Node-ID, with a cap and LRU eviction that
// spares the links the topology needs (neighbours).
import { compareIds, type NodeId, toHex } from '../codec/index.ts';
import type { Logger } from '../util/log.ts';
import { CONNECTION_TABLE_LIMIT } from './constants.ts';
import type { Link } from './link.ts';

export interface ConnectionTableInit {
  /** This node's Node-ID; decides which of two links to the same peer survives. */
  localNodeId: NodeId;
  /** Most links held at once. Default 32. */
  maxLinks?: number;
  /** Links to these Node-IDs are never evicted (the owner passes its neighbours). Default none. */
  isProtected?: (nodeId: NodeId) => boolean;
}

export interface ConnectionTableStats {
  /** Links closed to make room for a new one. */
  evictions: number;
  /** New links refused because every held link was protected. */
  refusals: number;
  /** Links closed because another link to the same Node-ID won. */
  replacements: number;
}

/**
 * Owns the links added to it: it sets each held link's `onClose` and reports through its own
 * `onClose`. Links it turns away, evicts or replaces are closed by it.
 *
 * One link per Node-ID. When two peers connect to each other at once each ends up with two
 * links, and both must keep the same one without talking: the link whose initiator (the TLS
 * client) has the smaller Node-ID survives, the other is closed. Both peers evaluate the
 * same pair of Node-IDs, so they keep the same TCP connection. Two links with the same
 * initiator (a reconnect while the old link lingers) keep the newer one.
 */
export class ConnectionTable implements Iterable<Link> {
  readonly stats: ConnectionTableStats = { evictions: 0, refusals: 0, replacements: 0 };
  /** Set by the owner; called when a held link closes or is dropped from the table. */
  onClose: (link: Link, reason: string) => void = () => {};

  private readonly log: Logger;
  private readonly localNodeId: NodeId;
  private readonly maxLinks: number;
  private readonly isProtected: (nodeId: NodeId) => boolean;
  /** By hex Node-ID, least recently used first. */
  private readonly links = new Map<string, Link>();

  constructor(components: { log: Logger }, init: ConnectionTableInit) {
    this.log = components.log;
    this.localNodeId = init.localNodeId;
    this.maxLinks = init.maxLinks ?? CONNECTION_TABLE_LIMIT;
    this.isProtected = init.isProtected ?? (() => false);
  }

  get size(): number {
    return this.links.size;
  }

  /** Holds `link`; returns false, having closed it, when it is refused or loses to a held link. */
  add(link: Link): boolean {
    if (link.closed) return false;
    const key = toHex(link.remoteNodeId);
    const held = this.links.get(key);
    if (held === link) return true;
    if (held) {
      if (!this.prefer(link, held)) {
        this.stats.replacements++;
        link.close('duplicate link');
        return false;
      }
      this.stats.replacements++;
      this.drop(key, held, 'duplicate link');
    } else if (this.links.size >= this.maxLinks && !this.evictOne()) {
      this.stats.refusals++;
      this.log.warn('connection table full, link refused', { nodeId: key, size: this.links.size });
      link.close('connection table full');
      return false;
    }
    this.links.set(key, link);
    link.onClose = (reason) => {
      if (this.links.get(key) !== link) return;
      this.links.delete(key);
      this.onClose(link, reason);
    };
    return true;
  }

  get(nodeId: NodeId): Link | undefined {
    return this.links.get(toHex(nodeId));
  }

  has(nodeId: NodeId): boolean {
    return this.links.has(toHex(nodeId));
  }

  /** Marks the link to `nodeId` as just used, so it is the last eviction candidate. */
  touch(nodeId: NodeId): void {
    const key = toHex(nodeId);
    const link = this.links.get(key);
    if (!link) return;
    this.links.delete(key);
    this.links.set(key, link);
  }

  /** Drops and closes the link to `nodeId`. */
  remove(nodeId: NodeId, reason = 'removed'): boolean {
    const key = toHex(nodeId);
    const link = this.links.get(key);
    if (!link) return false;
    this.drop(key, link, reason);
    return true;
  }

  /** Closes every link; idempotent. */
  closeAll(reason: string): void {
    for (const [key, link] of [...this.links]) this.drop(key, link, reason);
  }

  /** Held links, least recently used first. */
  [Symbol.iterator](): Iterator<Link> {
    return this.links.values();
  }

  values(): IterableIterator<Link> {
    return this.links.values();
  }

  /** True if `candidate` should replace `held` (same remote Node-ID). */
  private prefer(candidate: Link, held: Link): boolean {
    if (candidate.outbound === held.outbound) return true; // same initiator: the newer one
    const initiator = (l: Link): NodeId => (l.outbound ? this.localNodeId : l.remoteNodeId);
    return compareIds(initiator(candidate), initiator(held)) < 0;
  }

  private evictOne(): boolean {
    for (const [key, link] of this.links) {
      if (this.isProtected(link.remoteNodeId)) continue;
      this.stats.evictions++;
      this.log.debug('evicting least recently used link', { nodeId: key });
      this.drop(key, link, 'evicted');
      return true;
    }
    return false;
  }

  /** Forgets the link first so its close does not look like an unexpected one, then reports it. */
  private drop(key: string, link: Link, reason: string): void {
    this.links.delete(key);
    link.close(reason);
    this.onClose(link, reason);
  }
}
