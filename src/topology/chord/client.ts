// Client mode (RFC 6940 §4.2, §3.2.1): the node attaches to the peer responsible for its own
// Node-ID and sends everything through it; it never routes or stores, and follows when
// responsibility for its Node-ID moves.
import { type ChordUpdate, type NodeId, idEquals, nodeDestination, resourceDestination } from '../../codec/index.ts';
import type { Endpoint, Link } from '../../link/link.ts';
import type { ReloadNode } from '../../reload/node.ts';
import type { RequestContext, Topology } from '../../reload/types.ts';
import type { Clock } from '../../util/clock.ts';
import type { Logger } from '../../util/log.ts';
import * as D from './constants.ts';

export type ClientState = 'idle' | 'attaching' | 'attached' | 'closed';

export class ChordClient implements Topology {
  state: ClientState = 'idle';
  /** The responsible peer we send through. */
  peer: Link | undefined;
  /**
   * A second link, to our peer's successor: it takes over our Node-ID when our peer goes
   * (§10.7.1), and its address brings us back even when every bootstrap is gone.
   */
  backup: Link | undefined;
  readonly counters = { attaches: 0, moves: 0, reattachFailures: 0 };
  private readonly known = new Map<string, Endpoint>();
  private following = false;

  constructor(private readonly components: { clock: Clock; log: Logger; node: ReloadNode }) {
    const node = components.node;
    node.topology = this;
    node.links.isProtected = (id) => [this.peer, this.backup].some((l) => l !== undefined && idEquals(id, l.remoteNodeId));
    node.transport.handle('update_req', (u, ctx) => this.answerUpdate(u, ctx));
  }

  isResponsible(): boolean {
    return false;
  }

  nextHop(): Link | undefined {
    // The table may hold a newer link to the same peer (simultaneous connect).
    return this.peer && this.components.node.links.get(this.peer.remoteNodeId);
  }

  linkClosed(link: Link): void {
    if (this.backup && idEquals(link.remoteNodeId, this.backup.remoteNodeId)) this.backup = undefined;
    if (this.peer && idEquals(link.remoteNodeId, this.peer.remoteNodeId) && this.state !== 'closed') {
      this.peer = undefined;
      this.state = 'idle';
      void this.reattach();
    }
  }

  /** Attaches through the first bootstrap that answers to the peer responsible for us. */
  async join(bootstraps: Endpoint[]): Promise<void> {
    for (const b of bootstraps) this.known.set(`${b.host}:${b.port}`, b);
    this.state = 'attaching';
    const errors: string[] = [];
    // Peers met lately first (the backup among them), then the configured bootstraps.
    const candidates = new Map<string, Endpoint>();
    for (const e of [...this.components.node.knownEndpoints(), ...this.known.values()]) candidates.set(`${e.host}:${e.port}`, e);
    for (const b of candidates.values()) {
      try {
        const boot = await this.components.node.links.connect(b);
        const peer = await this.components.node.attach([resourceDestination(this.components.node.nodeId)], { via: boot });
        this.settle(peer, boot);
        return;
      } catch (e) {
        errors.push(`${b.host}:${b.port}: ${(e as Error).message}`);
      }
    }
    this.state = 'idle';
    throw new Error(`client could not attach: ${errors.length ? errors.join('; ') : 'no bootstrap'}`);
  }

  private settle(peer: Link, boot?: Link): void {
    if (this.peer && !idEquals(this.peer.remoteNodeId, peer.remoteNodeId)) {
      this.counters.moves++;
      const old = this.peer;
      this.peer = peer;
      old.close('responsible peer moved');
    }
    this.peer = peer;
    this.state = 'attached';
    this.counters.attaches++;
    if (boot && !idEquals(boot.remoteNodeId, peer.remoteNodeId)) boot.close('bootstrap no longer needed');
    // §10.8: a RouteQuery with send_update brings our peer's routing table, whose first
    // successor becomes our backup.
    const self = this.components.node.nodeId;
    this.components.node.transport
      .request([nodeDestination(peer.remoteNodeId)], 'route_query_req', { sendUpdate: true, destination: resourceDestination(self), overlaySpecificData: new Uint8Array(0) }, { via: peer })
      .catch(() => {});
  }

  private async takeBackup(successor: NodeId): Promise<void> {
    const peer = this.peer;
    if (!peer || (this.backup && idEquals(this.backup.remoteNodeId, successor)) || idEquals(successor, peer.remoteNodeId)) return;
    try {
      const link = await this.components.node.attach([nodeDestination(peer.remoteNodeId), nodeDestination(successor)], { via: peer });
      if (this.state !== 'closed') this.backup = link;
    } catch (e) {
      this.components.log.debug('client backup attach failed', { error: (e as Error).message });
    }
  }

  /**
   * Our peer tells its connections when its range moves (§10.7.3): ask again who is
   * responsible for our Node-ID, and move there if it is someone else.
   */
  private answerUpdate(u: ChordUpdate, ctx: RequestContext): { name: 'update_ans'; body: Record<string, never> } {
    if (this.peer && idEquals(ctx.from.remoteNodeId, this.peer.remoteNodeId)) {
      const successor = u.type === 'peer_ready' ? undefined : u.successors[0];
      if (successor) setImmediate(() => void this.takeBackup(successor));
      if (u.type !== 'full' && !this.following) {
        this.following = true;
        setImmediate(() => void this.follow().finally(() => { this.following = false; }));
      }
    }
    return { name: 'update_ans', body: {} };
  }

  private async follow(): Promise<void> {
    const current = this.peer;
    if (!current) return;
    try {
      const peer = await this.components.node.attach([resourceDestination(this.components.node.nodeId)], { via: current });
      if (!idEquals(peer.remoteNodeId, current.remoteNodeId)) this.settle(peer);
    } catch (e) {
      this.components.log.debug('client could not confirm its peer', { error: (e as Error).message });
    }
  }

  private async reattach(): Promise<void> {
    for (let attempt = 0; attempt < 10 && this.state !== 'closed' && !this.peer; attempt++) {
      try {
        await this.join([]);
        return;
      } catch {
        this.counters.reattachFailures++;
        await new Promise((r) => this.components.clock.setTimeout(() => r(undefined), D.CHORD_REJOIN_BACKOFF_MS));
      }
    }
  }

  close(): void {
    this.state = 'closed';
    this.components.node.transport.unhandle('update_req');
  }
}
