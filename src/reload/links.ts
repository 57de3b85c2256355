// The node's links: outbound connects, inbound accepts, one link per Node-ID, and every
// message handed to the transport (RFC 6940 §6.5, §6.6).
import { type NodeId, idEquals, toHex } from '../codec/index.ts';
import { ConnectionTable } from '../link/connection-table.ts';
import type { Endpoint, Link } from '../link/link.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';

/** Opens links: the TLS transport in a device, something in memory in a test. */
export interface LinkConnector {
  connect(endpoint: Endpoint, expectedNodeId?: NodeId): Promise<Link>;
}

export interface LinkTableInit {
  /** Cap on open links; over it the least recently used unprotected link is closed. */
  maxLinks?: number;
}

interface Waiter {
  id: NodeId;
  resolve(link: Link): void;
  reject(e: Error): void;
  timer: TimerHandle;
}

/**
 * The node's side of the connection table (§6.5): links by Node-ID in a bounded
 * ConnectionTable, every message handed on, and waiting for the link an Attach promised.
 */
export class Links {
  private readonly table: ConnectionTable;
  private readonly waiters = new Set<Waiter>();
  private closed = false;
  /** Called with every message a link delivers. */
  onMessage: (bytes: Uint8Array, link: Link) => void = () => {};
  /** Called once for every link that leaves the table (closed, evicted or replaced). */
  onClose: (link: Link, reason: string) => void = () => {};
  /** Routing-table peers: never evicted for a newcomer. */
  isProtected: (id: NodeId) => boolean = () => false;
  /** Called for every link the table takes. */
  onAdd: (link: Link) => void = () => {};

  constructor(private readonly components: { clock: Clock; log: Logger; connector: LinkConnector }, init: LinkTableInit & { selfId: NodeId }) {
    this.table = new ConnectionTable({ log: components.log }, { localNodeId: init.selfId, maxLinks: init.maxLinks, isProtected: (id) => this.isProtected(id) });
    this.table.onClose = (link, reason) => this.onClose(link, reason);
  }

  get size(): number {
    return this.table.size;
  }

  get stats(): ConnectionTable['stats'] {
    return this.table.stats;
  }

  all(): Link[] {
    return [...this.table];
  }

  get(id: NodeId): Link | undefined {
    const link = this.table.get(id);
    return link && !link.closed ? link : undefined;
  }

  /** Takes a new authenticated link; false when the table refused it or kept another. */
  add(link: Link): boolean {
    // After close, a connect-back or accept still in flight must not revive the node.
    if (this.closed) {
      link.close('node closed');
      return false;
    }
    if (!this.table.add(link)) return false;
    link.onMessage = (bytes) => {
      this.table.touch(link.remoteNodeId);
      this.onMessage(bytes, link);
    };
    this.onAdd(link);
    for (const w of [...this.waiters]) {
      if (idEquals(w.id, link.remoteNodeId)) {
        this.components.clock.clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve(link);
      }
    }
    return true;
  }

  /** Connects to an endpoint and adds the link; resolves with the link kept for that peer. */
  async connect(endpoint: Endpoint, expected?: NodeId): Promise<Link> {
    if (this.closed) throw new Error('node closed');
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
    this.closed = true;
    for (const w of this.waiters) {
      this.components.clock.clearTimeout(w.timer);
      w.reject(new Error(reason));
    }
    this.waiters.clear();
    this.table.closeAll(reason);
  }
}
