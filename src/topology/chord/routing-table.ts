// The CHORD-RELOAD routing table (RFC 6940 §10.1, §10.3): predecessors, successors and
// fingers, each bounded, and the routing and responsibility decisions made from them.
import { type NodeId, idEquals, nodeIdToBigInt, ringAdd, ringDistance, toHex } from '../../codec/index.ts';

export interface RoutingTableInit {
  /** Predecessors and successors kept, each; at least 3 (§10.1). */
  neighbours: number;
  /** Finger table entries; 16 by default (§10.1), at most 128. */
  fingers: number;
}

const RING = 1n << 128n;
const RING_MASK = RING - 1n;

/** Target of finger i (i = 1 is half way round the ring): x + 2^(128 - i) (§10.1). */
export function fingerTarget(self: NodeId, i: number): NodeId {
  return ringAdd(self, 1n << BigInt(128 - i));
}

export class RoutingTable {
  /** Closest first: predecessors[0] is the immediate predecessor. */
  predecessors: NodeId[] = [];
  /** Closest first: successors[0] is the immediate successor. */
  successors: NodeId[] = [];
  /** fingers[i - 1] is finger i, or undefined while unknown. */
  readonly fingers: (NodeId | undefined)[];
  /** Finger targets as integers, computed once: every add() compares each of them. */
  private readonly targets: bigint[];
  /** Distance from each target to its finger, kept with `fingers` (undefined while empty). */
  private readonly reach: (bigint | undefined)[];
  /** Counts changes to any entry, so a caller can tell whether the table moved. */
  version = 0;
  /** Called whenever the predecessors or successors change (replica sets follow them, §10.7.3). */
  onNeighboursChanged: () => void = () => {};

  constructor(readonly self: NodeId, private readonly init: RoutingTableInit) {
    if (init.neighbours < 1 || init.fingers < 0 || init.fingers > 128) throw new RangeError('routing table sizes');
    this.fingers = new Array(init.fingers).fill(undefined);
    this.targets = Array.from({ length: init.fingers }, (_, i) => nodeIdToBigInt(fingerTarget(self, i + 1)));
    this.reach = new Array(init.fingers).fill(undefined);
  }

  /** §10.1: responsible for k iff predecessor < k <= self; alone, for everything. */
  isResponsible(k: Uint8Array): boolean {
    const p = this.predecessors[0];
    if (!p) return true;
    const dk = ringDistance(p, k);
    return dk !== 0n && dk <= ringDistance(p, this.self);
  }

  /** Every distinct peer in the table. */
  peers(): NodeId[] {
    const seen = new Map<string, NodeId>();
    for (const id of [...this.predecessors, ...this.successors, ...this.fingers]) if (id) seen.set(toHex(id), id);
    return [...seen.values()];
  }

  isNeighbour(id: NodeId): boolean {
    return this.predecessors.some((p) => idEquals(p, id)) || this.successors.some((s) => idEquals(s, id));
  }

  contains(id: NodeId): boolean {
    return this.isNeighbour(id) || this.fingers.some((f) => f !== undefined && idEquals(f, id));
  }

  /** Whether `id` would enter the neighbour table: closer than an entry, or a free slot (§10.7.3). */
  wantsNeighbour(id: NodeId): boolean {
    if (idEquals(id, this.self) || this.isNeighbour(id)) return false;
    return this.fits(this.successors, id, (x) => ringDistance(this.self, x)) || this.fits(this.predecessors, id, (x) => ringDistance(x, this.self));
  }

  /** Finger slots `id` would improve: it is nearer the slot's target than the current entry. */
  wantsFinger(id: NodeId): boolean {
    return this.fingerSlots(id).length > 0;
  }

  /** Adds a connected peer wherever it belongs; true when the table changed. */
  add(id: NodeId): boolean {
    if (idEquals(id, this.self)) return false;
    let changed = false;
    const s = this.insert(this.successors, id, (x) => ringDistance(this.self, x));
    const p = this.insert(this.predecessors, id, (x) => ringDistance(x, this.self));
    if (s) this.successors = s;
    if (p) this.predecessors = p;
    changed = !!(s || p);
    if (changed) this.onNeighboursChanged();
    const x = nodeIdToBigInt(id);
    for (const i of this.fingerSlots(id)) {
      this.fingers[i] = id;
      this.reach[i] = (x - this.targets[i]) & RING_MASK;
      changed = true;
    }
    if (changed) this.version++;
    return changed;
  }

  /** Removes a peer from every table; true when it was there. */
  remove(id: NodeId): boolean {
    const before = this.predecessors.length + this.successors.length;
    this.predecessors = this.predecessors.filter((x) => !idEquals(x, id));
    this.successors = this.successors.filter((x) => !idEquals(x, id));
    let changed = before !== this.predecessors.length + this.successors.length;
    if (changed) this.onNeighboursChanged();
    for (let i = 0; i < this.fingers.length; i++) {
      const f = this.fingers[i];
      if (f && idEquals(f, id)) {
        this.fingers[i] = undefined;
        this.reach[i] = undefined;
        changed = true;
      }
    }
    if (changed) this.version++;
    return changed;
  }

  /**
   * Next hop towards k (§10.3): the peer with the largest Node-ID in (self, k); if there is
   * none, the peer with the smallest Node-ID greater than k. `usable` filters out peers
   * whose link is gone; `also` are further peers to consider besides the table's.
   */
  nextHop(k: Uint8Array, usable: (id: NodeId) => boolean = () => true, also: Iterable<NodeId> = []): NodeId | undefined {
    const dk = ringDistance(this.self, k);
    let best: NodeId | undefined;
    let bestDistance = 0n;
    let after: NodeId | undefined;
    let afterDistance = RING;
    for (const id of [...this.peers(), ...also]) {
      if (!usable(id)) continue;
      const d = ringDistance(this.self, id);
      if (d > 0n && d < dk) {
        if (d > bestDistance) { best = id; bestDistance = d; }
      } else {
        const beyond = ringDistance(k, id);
        if (beyond < afterDistance) { after = id; afterDistance = beyond; }
      }
    }
    return best ?? after;
  }

  private fits(list: NodeId[], id: NodeId, distance: (x: NodeId) => bigint): boolean {
    if (list.length < this.init.neighbours) return true;
    return distance(id) < distance(list[list.length - 1]);
  }

  private insert(list: NodeId[], id: NodeId, distance: (x: NodeId) => bigint): NodeId[] | undefined {
    if (list.some((x) => idEquals(x, id)) || !this.fits(list, id, distance)) return undefined;
    const d = distance(id);
    const next = [...list];
    let at = next.findIndex((x) => distance(x) > d);
    if (at < 0) at = next.length;
    next.splice(at, 0, id);
    return next.slice(0, this.init.neighbours);
  }

  private fingerSlots(id: NodeId): number[] {
    const slots: number[] = [];
    if (idEquals(id, this.self)) return slots;
    const x = nodeIdToBigInt(id);
    for (let i = 0; i < this.fingers.length; i++) {
      // Finger i+1 is the first peer at or after its target (§10.1, §10.5).
      const reach = this.reach[i];
      if (reach === undefined || ((x - this.targets[i]) & RING_MASK) < reach) slots.push(i);
    }
    return slots;
  }

  toJSON(): { predecessors: string[]; successors: string[]; fingers: (string | null)[] } {
    return {
      predecessors: this.predecessors.map(toHex),
      successors: this.successors.map(toHex),
      fingers: this.fingers.map((f) => (f ? toHex(f) : null)),
    };
  }
}
