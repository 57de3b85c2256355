// The CHORD-RELOAD topology plug-in for a peer (RFC 6940 §10): joining, Updates, reactive
// repair of the neighbour table, finger refresh, RouteQuery and Leave.
import {
  type ChordUpdate, type Destination, type NodeId, ChordLeaveData, ErrorCode, decode, encode, idEquals, nodeDestination,
  resourceDestination, ringAdd, ringDistance, toHex,
} from '../../codec/index.ts';
import type { Endpoint, Link } from '../../link/link.ts';
import { ReloadError } from '../../reload/errors.ts';
import type { ReloadNode } from '../../reload/node.ts';
import type { RequestContext, Topology } from '../../reload/types.ts';
import type { Clock, TimerHandle } from '../../util/clock.ts';
import type { Logger } from '../../util/log.ts';
import * as D from './constants.ts';
import { RoutingTable, fingerTarget } from './routing-table.ts';

export interface ChordInit {
  /** Predecessors and successors kept, each; default 3. */
  neighbours?: number;
  /** Finger entries; default 16. */
  fingers?: number;
  /** Periodic Update interval, ms; default CHORD_UPDATE_INTERVAL_MS (5000; the RFC's example is 600 s). */
  updateIntervalMs?: number;
  /** Finger refresh interval, ms; default CHORD_FINGER_INTERVAL_MS (30000). */
  fingerIntervalMs?: number;
  /** Reactive recovery (chord-reactive); default true. */
  reactive?: boolean;
}

export type ChordState = 'idle' | 'joining' | 'joined' | 'leaving' | 'closed';

export class ChordPeer implements Topology {
  readonly table: RoutingTable;
  state: ChordState = 'idle';
  /** Updates sent and received, attaches made, joins and repairs: for `status`. */
  readonly counters = { updatesSent: 0, updatesReceived: 0, attaches: 0, attachFailures: 0, joins: 0, leavesReceived: 0, neighbourFailures: 0 };
  private readonly updateIntervalMs: number;
  private readonly fingerIntervalMs: number;
  private readonly reactive: boolean;
  private readonly neighbourTarget: number;
  private updateTimer: TimerHandle | undefined;
  private fingerTimer: TimerHandle | undefined;
  private joinUpdate: ((u: ChordUpdate, from: NodeId) => void) | undefined;
  private readonly attaching = new Set<string>();
  /**
   * Peers linked to us that are not in our routing table but have shown they route (they
   * sent an Update or a Join): other peers whose finger we are. Greedy routing over them
   * too shortens paths (§10.3 allows any peer closer to the target). Bounded by the links.
   */
  private readonly routers = new Map<string, NodeId>();
  private readonly bootstraps = new Map<string, Endpoint>();
  /**
   * Peers that sent us a Leave but are still linked (a peer turned client keeps its links):
   * kept out of the table until they join again, whatever stale Updates still list them.
   * Bounded by the links.
   */
  private readonly departed = new Set<string>();
  /** A peer joined as our predecessor: storage hands it the data of its range (§10.5 step 4). */
  onAdmitted: (joining: NodeId) => void = () => {};
  /** A peer left (§10.9): whatever storage sent it is gone with it. */
  onDeparted: (leaving: NodeId) => void = () => {};

  constructor(private readonly components: { clock: Clock; log: Logger; node: ReloadNode }, init: ChordInit = {}) {
    const node = components.node;
    this.table = new RoutingTable(node.nodeId, { neighbours: init.neighbours ?? D.CHORD_NEIGHBOURS, fingers: init.fingers ?? D.CHORD_FINGERS });
    this.updateIntervalMs = init.updateIntervalMs ?? D.CHORD_UPDATE_INTERVAL_MS;
    this.fingerIntervalMs = init.fingerIntervalMs ?? D.CHORD_FINGER_INTERVAL_MS;
    this.reactive = init.reactive ?? D.CHORD_REACTIVE;
    this.neighbourTarget = init.neighbours ?? D.CHORD_NEIGHBOURS;
    node.topology = this;
    node.links.isProtected = (id) => this.table.contains(id);
    node.responsiblePpb = () => this.responsiblePpb();
    node.onAttached = (link, req) => {
      // §10.5 step 2: send_update asks the answerer for its routing table.
      if (req.sendUpdate && this.state === 'joined') this.sendUpdate(link.remoteNodeId, 'full');
    };
    const t = node.transport;
    t.handle('join_req', (req, ctx) => this.answerJoin(req.joiningPeerId, ctx));
    t.handle('update_req', (req, ctx) => this.answerUpdate(req, ctx));
    t.handle('leave_req', (req, ctx) => this.answerLeave(req.leavingPeerId, req.overlaySpecificData, ctx));
    t.handle('route_query_req', (req, ctx) => this.answerRouteQuery(req.destination, req.sendUpdate, ctx));
  }

  // ---- Topology ----

  isResponsible(id: Uint8Array): boolean {
    return this.state === 'joined' && this.table.isResponsible(id);
  }

  nextHop(id: Uint8Array): Link | undefined {
    const links = this.components.node.links;
    const next = this.table.nextHop(id, (peer) => links.get(peer) !== undefined, this.routers.values());
    return next && links.get(next);
  }

  linkClosed(link: Link): void {
    this.routers.delete(toHex(link.remoteNodeId));
    this.departed.delete(toHex(link.remoteNodeId));
    if (!this.table.contains(link.remoteNodeId)) return;
    const wasNeighbour = this.table.isNeighbour(link.remoteNodeId);
    const predecessor = this.table.predecessors[0];
    this.table.remove(link.remoteNodeId);
    if (!wasNeighbour) return;
    // §10.7.1: replace the lost neighbour from the routing table and tell the neighbours.
    this.counters.neighbourFailures++;
    this.components.log.debug('neighbour lost', { peer: link.remoteNodeId });
    for (const id of this.table.peers()) this.table.add(id);
    if (this.state === 'joined' && this.table.successors.length === 0 && this.table.predecessors.length === 0) {
      void this.rejoin();
      return;
    }
    this.announce(predecessor);
    this.pullNeighbours();
  }

  // ---- joining ----

  /** First-node mode (§10.5, §11.1): this node alone is the overlay. */
  createOverlay(): void {
    this.state = 'joined';
    this.startTimers();
  }

  /** Joins through the first bootstrap that answers (§10.5). */
  async join(bootstraps: Endpoint[]): Promise<void> {
    for (const b of bootstraps) this.bootstraps.set(`${b.host}:${b.port}`, b);
    this.state = 'joining';
    const self = this.components.node.nodeId;
    let lastError: unknown;
    for (const b of bootstraps) {
      try {
        const boot = await this.components.node.links.connect(b);
        // (2) Attach to Resource-ID n+1 through the bootstrap: its answerer is the
        // admitting peer, our successor-to-be; send_update brings its routing table.
        const tableArrived = new Promise<{ u: ChordUpdate; from: NodeId } | undefined>((resolve) => {
          this.joinUpdate = (u, from) => resolve({ u, from });
          this.components.clock.setTimeout(() => resolve(undefined), D.CHORD_JOIN_UPDATE_WAIT_MS);
        });
        const ap = await this.components.node.attach([resourceDestination(ringAdd(self, 1n))], { via: boot, sendUpdate: true });
        this.table.add(ap.remoteNodeId);
        const update = await tableArrived;
        this.joinUpdate = undefined;
        // (3, 4) Attach to the peers that belong in our neighbour table, source-routed
        // through the admitting peer that told us of them (§10.6).
        if (update) await this.attachAll(candidatesOf(update.u), ap.remoteNodeId);
        // (5) Join.
        await this.components.node.transport.request([nodeDestination(ap.remoteNodeId)], 'join_req', { joiningPeerId: self, overlaySpecificData: new Uint8Array(0) });
        this.state = 'joined';
        this.counters.joins++;
        if (!idEquals(boot.remoteNodeId, ap.remoteNodeId) && !this.table.contains(boot.remoteNodeId)) this.table.add(boot.remoteNodeId);
        // (9) Tell our neighbours.
        this.announce(undefined);
        this.startTimers();
        // Fingers right away, and again once the neighbours' Updates have settled.
        void this.refreshFingers();
        this.components.clock.setTimeout(() => void this.refreshFingers(), this.updateIntervalMs * 2);
        return;
      } catch (e) {
        lastError = e;
        this.components.log.debug('join through bootstrap failed', { bootstrap: `${b.host}:${b.port}`, error: (e as Error).message });
      }
    }
    this.state = 'idle';
    throw new Error(`could not join: ${(lastError as Error | undefined)?.message ?? 'no bootstrap'}`);
  }

  /** §10.7.1: lost every neighbour: join again through remembered peers. */
  private async rejoin(): Promise<void> {
    if (this.state !== 'joined') return;
    this.stopTimers();
    const known = [...new Map([...this.components.node.knownEndpoints(), ...this.bootstraps.values()].map((e) => [`${e.host}:${e.port}`, e])).values()];
    for (let attempt = 0; attempt < 5 && (this.state as ChordState) !== 'closed'; attempt++) {
      try {
        await this.join(known);
        return;
      } catch {
        await new Promise((r) => this.components.clock.setTimeout(() => r(undefined), D.CHORD_REJOIN_BACKOFF_MS));
      }
    }
    // Nobody answers: carry on alone, as the first node of what is left.
    if ((this.state as ChordState) !== 'closed') this.createOverlay();
  }

  private answerJoin(joining: NodeId, ctx: RequestContext): { name: 'join_ans'; body: { overlaySpecificData: Uint8Array } } {
    // §6.4.2.2: the joining peer must be the signer and the node at the other end of the link.
    if (!idEquals(joining, ctx.from.remoteNodeId) || !ctx.signer.some((id) => idEquals(id, joining))) {
      throw new ReloadError(ErrorCode.Error_Forbidden, 'joining_peer_id is not the sender');
    }
    if (this.state !== 'joined') throw new ReloadError(ErrorCode.Error_Forbidden, 'not part of the overlay yet');
    const predecessor = this.table.predecessors[0];
    this.departed.delete(toHex(joining));
    this.table.add(joining);
    // (4) "AP does a series of Store requests to JP to store the data that JP will be
    // responsible for."
    this.onAdmitted(joining);
    // (7, 8) After the answer: Update to the joining node and to every neighbour.
    setImmediate(() => this.announce(predecessor, true));
    return { name: 'join_ans', body: { overlaySpecificData: new Uint8Array(0) } };
  }

  // ---- Updates ----

  private async answerUpdate(u: ChordUpdate, ctx: RequestContext): Promise<{ name: 'update_ans'; body: Record<string, never> }> {
    const sender = ctx.from.remoteNodeId;
    if (!ctx.signer.some((id) => idEquals(id, sender))) throw new ReloadError(ErrorCode.Error_Forbidden, 'Update not signed by the link peer');
    this.counters.updatesReceived++;
    if (this.joinUpdate) {
      this.joinUpdate(u, sender);
      return { name: 'update_ans', body: {} };
    }
    if (this.state !== 'joined') return { name: 'update_ans', body: {} };
    const predecessor = this.table.predecessors[0];
    const before = this.table.version;
    // The sender routes (it sent an Update), so it may enter our table, and we may route over it.
    this.departed.delete(toHex(sender));
    this.table.add(sender);
    if (this.components.node.links.get(sender)) this.routers.set(toHex(sender), sender);
    setImmediate(() => {
      void this.attachAll(candidatesOf(u), sender).then(() => {
        if (this.table.version !== before) this.announce(predecessor);
        // The sender's view lacks us where we belong: answer with our view at once rather
        // than leave it to the next periodic Update (faster repair after a failure).
        else if (this.missingFrom(u, sender)) this.sendUpdate(sender, 'neighbors');
      });
    });
    return { name: 'update_ans', body: {} };
  }

  /** True when, by the sender's own list lengths, we belong among its neighbours but are absent. */
  private missingFrom(u: ChordUpdate, sender: NodeId): boolean {
    if (u.type === 'peer_ready') return false;
    const self = this.components.node.nodeId;
    const n = this.table.predecessors.length > 0 ? Math.max(this.table.successors.length, this.table.predecessors.length) : 0;
    const listed = [...u.predecessors, ...u.successors].some((id) => idEquals(id, self));
    if (listed) return false;
    const lastSucc = u.successors[u.successors.length - 1];
    const lastPred = u.predecessors[u.predecessors.length - 1];
    const inSucc = u.successors.length < n || (lastSucc !== undefined && ringDistance(sender, self) < ringDistance(sender, lastSucc));
    const inPred = u.predecessors.length < n || (lastPred !== undefined && ringDistance(self, sender) < ringDistance(lastPred, sender));
    return inSucc || inPred;
  }

  /**
   * After losing neighbours, ask the farthest ones left for their tables (RouteQuery with
   * send_update, §10.8): the peers beyond them are the ones we now lack.
   */
  private pullNeighbours(): void {
    const t = this.table;
    const ends = [t.successors[t.successors.length - 1], t.predecessors[t.predecessors.length - 1]];
    const self = this.components.node.nodeId;
    for (const id of new Set(ends.filter((x): x is NodeId => x !== undefined).map(toHex))) {
      const to = ends.find((x) => x && toHex(x) === id)!;
      this.components.node.transport
        .request([nodeDestination(to)], 'route_query_req', { sendUpdate: true, destination: nodeDestination(self), overlaySpecificData: new Uint8Array(0) }, { via: this.components.node.links.get(to) })
        .catch(() => {});
    }
  }

  /** Reactive recovery: Update neighbours, and every link when our range moved (§10.7.3). */
  private announce(oldPredecessor: NodeId | undefined, force = false): void {
    if (!this.reactive && !force) return;
    const rangeMoved = !sameOptional(oldPredecessor, this.table.predecessors[0]);
    const targets = new Map<string, NodeId>();
    for (const id of [...this.table.predecessors, ...this.table.successors]) targets.set(toHex(id), id);
    if (rangeMoved) for (const l of this.components.node.links.all()) targets.set(toHex(l.remoteNodeId), l.remoteNodeId);
    for (const id of targets.values()) this.sendUpdate(id, 'neighbors');
  }

  private sendUpdate(to: NodeId, type: 'neighbors' | 'full'): void {
    const uptime = Math.floor((this.components.clock.now() - this.components.node.startedAt) / 1000);
    const t = this.table;
    const update: ChordUpdate = type === 'full'
      ? { uptime, type, predecessors: t.predecessors, successors: t.successors, fingers: sortedFingers(t) }
      : { uptime, type, predecessors: t.predecessors, successors: t.successors };
    this.counters.updatesSent++;
    const via = this.components.node.links.get(to);
    this.components.node.transport.request([nodeDestination(to)], 'update_req', update, { via }).catch((e) => {
      this.components.log.debug('update not answered', { peer: to, error: (e as Error).message });
    });
  }

  /** Attaches to every candidate that would improve our neighbour table (§10.7.3). */
  private async attachAll(candidates: NodeId[], through: NodeId | undefined): Promise<void> {
    const self = this.components.node.nodeId;
    const links = this.components.node.links;
    const wanted = candidates.filter((id) => !idEquals(id, self) && !this.departed.has(toHex(id)) && (this.table.wantsNeighbour(id) || this.table.wantsFinger(id)));
    await Promise.all(wanted.map(async (id) => {
      const existing = links.get(id);
      if (existing) {
        this.table.add(id);
        return;
      }
      if (!this.table.wantsNeighbour(id)) return; // fingers are refreshed by their own search
      const key = toHex(id);
      if (this.attaching.has(key)) return;
      this.attaching.add(key);
      try {
        const route: Destination[] = through && links.get(through) ? [nodeDestination(through), nodeDestination(id)] : [nodeDestination(id)];
        this.counters.attaches++;
        const link = await this.components.node.attach(route);
        if (this.state !== 'closed') this.table.add(link.remoteNodeId);
      } catch (e) {
        this.counters.attachFailures++;
        this.components.log.debug('attach failed', { peer: id, error: (e as Error).message });
      } finally {
        this.attaching.delete(key);
      }
    }));
  }

  // ---- stabilization ----

  private startTimers(): void {
    this.stopTimers();
    const jitter = (ms: number): number => ms * (0.75 + Math.random() * 0.5);
    const update = (): void => {
      for (const id of [...this.table.predecessors, ...this.table.successors]) this.sendUpdate(id, 'neighbors');
      this.updateTimer = this.components.clock.setTimeout(update, jitter(this.updateIntervalMs));
    };
    const fingers = (): void => {
      void this.refreshFingers();
      this.fingerTimer = this.components.clock.setTimeout(fingers, jitter(this.fingerIntervalMs));
    };
    this.updateTimer = this.components.clock.setTimeout(update, jitter(this.updateIntervalMs));
    this.fingerTimer = this.components.clock.setTimeout(fingers, jitter(this.fingerIntervalMs));
  }

  private stopTimers(): void {
    this.components.clock.clearTimeout(this.updateTimer);
    this.components.clock.clearTimeout(this.fingerTimer);
  }

  /** §10.7.4.2: Attach to n + 2^(128-i) for fingers our neighbour table does not cover. */
  private async refreshFingers(): Promise<void> {
    const self = this.components.node.nodeId;
    const farthest = this.table.successors[this.table.successors.length - 1];
    const covered = farthest ? ringDistance(self, farthest) : 0n;
    for (let i = 1; i <= this.table.fingers.length && this.state === 'joined'; i++) {
      const target = fingerTarget(self, i);
      if (ringDistance(self, target) <= covered) break; // the successors already cover it
      // Search again even when the slot is filled: a peer that joined since may be nearer
      // the target. Reaching the same peer again costs one Attach over an existing link.
      try {
        const link = await this.components.node.attach([resourceDestination(target)]);
        this.table.add(link.remoteNodeId);
      } catch (e) {
        this.components.log.debug('finger search failed', { finger: i, error: (e as Error).message });
      }
    }
  }

  // ---- RouteQuery, Leave ----

  private answerRouteQuery(destination: Destination, sendUpdate: boolean, ctx: RequestContext): { name: 'route_query_ans'; body: { nextPeer: NodeId } } {
    const id = destination.type === 'node' || destination.type === 'resource' ? destination.id : undefined;
    if (!id) throw new ReloadError(ErrorCode.Error_Invalid_Message, 'RouteQuery needs a node or resource destination');
    const next = this.isResponsible(id) ? this.components.node.nodeId : this.nextHop(id)?.remoteNodeId;
    if (!next) throw new ReloadError(ErrorCode.Error_Not_Found, 'no route');
    if (sendUpdate) setImmediate(() => this.sendUpdate(ctx.from.remoteNodeId, 'full'));
    return { name: 'route_query_ans', body: { nextPeer: next } };
  }

  /** §10.9: tell every neighbour, with the neighbours it will need in our place. */
  async leave(): Promise<void> {
    if (this.state !== 'joined') return;
    this.state = 'leaving';
    this.stopTimers();
    const self = this.components.node.nodeId;
    const t = this.components.node.transport;
    const sends: Promise<unknown>[] = [];
    for (const p of this.table.predecessors) {
      const data = encode(ChordLeaveData, { type: 'from_succ', successors: this.table.successors });
      sends.push(t.request([nodeDestination(p)], 'leave_req', { leavingPeerId: self, overlaySpecificData: data }, { via: this.components.node.links.get(p), timerMs: 500 }));
    }
    for (const s of this.table.successors) {
      const data = encode(ChordLeaveData, { type: 'from_pred', predecessors: this.table.predecessors });
      sends.push(t.request([nodeDestination(s)], 'leave_req', { leavingPeerId: self, overlaySpecificData: data }, { via: this.components.node.links.get(s), timerMs: 500 }));
    }
    await Promise.race([Promise.allSettled(sends), new Promise((r) => this.components.clock.setTimeout(() => r(undefined), 1500))]);
    this.close();
  }

  private answerLeave(leaving: NodeId, data: Uint8Array, ctx: RequestContext): { name: 'leave_ans'; body: Record<string, never> } {
    if (!idEquals(leaving, ctx.from.remoteNodeId) || !ctx.signer.some((id) => idEquals(id, leaving))) {
      throw new ReloadError(ErrorCode.Error_Forbidden, 'leaving_peer_id is not the sender');
    }
    this.counters.leavesReceived++;
    let offered: NodeId[] = [];
    try {
      const d = data.length > 0 ? decode(ChordLeaveData, data) : undefined;
      offered = d ? (d.type === 'from_succ' ? d.successors : d.predecessors) : [];
    } catch {
      // A malformed hint only loses the hint; the Leave itself still counts.
    }
    const predecessor = this.table.predecessors[0];
    // §10.9: treated like a failure of that neighbour. It no longer routes either: a peer
    // turning client keeps its links, so linkClosed would never drop it from the routers.
    this.table.remove(leaving);
    this.routers.delete(toHex(leaving));
    this.departed.add(toHex(leaving));
    this.onDeparted(leaving);
    setImmediate(() => {
      void this.attachAll(offered, undefined).then(() => {
        this.announce(predecessor);
        if (this.table.successors.length < this.neighbourTarget || this.table.predecessors.length < this.neighbourTarget) this.pullNeighbours();
      });
    });
    return { name: 'leave_ans', body: {} };
  }

  close(): void {
    this.state = 'closed';
    this.stopTimers();
    // A closed peer answers no more topology requests (the device may go on as a client).
    const t = this.components.node.transport;
    for (const name of ['join_req', 'update_req', 'leave_req', 'route_query_req'] as const) t.unhandle(name);
  }

  /** Share of the ring we are responsible for, parts per billion (§6.4.2.5). */
  private responsiblePpb(): number {
    const p = this.table.predecessors[0];
    if (!p) return 1e9;
    const d = ringDistance(p, this.components.node.nodeId);
    return Number((d * 1_000_000_000n) >> 128n);
  }
}

function candidatesOf(u: ChordUpdate): NodeId[] {
  if (u.type === 'peer_ready') return [];
  return u.type === 'full' ? [...u.predecessors, ...u.successors, ...u.fingers] : [...u.predecessors, ...u.successors];
}

function sortedFingers(t: RoutingTable): NodeId[] {
  const seen = new Map<string, NodeId>();
  for (const f of t.fingers) if (f) seen.set(toHex(f), f);
  return [...seen.values()].sort((a, b) => (toHex(a) < toHex(b) ? -1 : 1));
}

function sameOptional(a: NodeId | undefined, b: NodeId | undefined): boolean {
  return a === undefined ? b === undefined : b !== undefined && idEquals(a, b);
}
