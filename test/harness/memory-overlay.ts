// In-process overlay fixtures for the unit tier: shared identities, a chain of message
// transports over memory links with a static topology, and an in-memory LinkConnector so
// ReloadNodes can Attach to each other (RFC 6940 §6.5.1) without sockets.
import {
  type Destination, type ForwardingHeader, type ForwardingOption, type MessageExtension, type NodeId, FRAGMENT_UNFRAGMENTED,
  MessageCode, MessageContents, encode, encodeBody, encodeMessageWithContents, idEquals, overlayHash, toHex, type Bodies, type BodyName,
} from '../../src/codec/index.ts';
import type { FramedLink } from '../../src/link/framed-link.ts';
import type { Endpoint, Link } from '../../src/link/link.ts';
import { memoryLinkPair } from '../../src/link/memory-link.ts';
import type { LinkConnector } from '../../src/reload/links.ts';
import { type TransportInit, MessageTransport } from '../../src/reload/message-transport.ts';
import { type NodeInit, ReloadNode } from '../../src/reload/node.ts';
import { type NodeIdentity, createSelfSignedIdentity } from '../../src/reload/security/identity.ts';
import type { MessageSecurity, Topology } from '../../src/reload/types.ts';
import { selfSignedSecurity } from '../../src/run/overlay-device.ts';
import { type ChordInit, ChordPeer } from '../../src/topology/chord/chord.ts';
import { type Clock, FakeClock, systemClock } from '../../src/util/clock.ts';
import { silentLogger } from '../../src/util/log.ts';

export const OVERLAY = 'p2psip.test';

// Dated by a FakeClock's default epoch: valid for every FakeClock() and, for ten years
// from then, for the system clock too.
const pool: NodeIdentity[] = [];

/** The i-th shared identity; created on first use (key generation costs milliseconds). */
export function identity(i: number): NodeIdentity {
  while (pool.length <= i) pool.push(createSelfSignedIdentity({ overlay: OVERLAY, userName: `node${pool.length}@${OVERLAY}`, clock: new FakeClock() }));
  return pool[i];
}

/** Lets memory streams and queued microtasks deliver what was written. */
export async function settle(rounds = 12): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Polls `check` on the real event loop until it holds; throws with `describe()` if it never does. */
export async function eventually(check: () => boolean, timeoutMs: number, describe: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms ${describe()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---- a chain of transports with a static topology ----

export interface ChainNode {
  index: number;
  identity: NodeIdentity;
  security: MessageSecurity;
  transport: MessageTransport;
  /** Links by remote Node-ID (hex). */
  links: Map<string, FramedLink>;
}

export interface Chain {
  clock: FakeClock;
  nodes: ChainNode[];
  /** Makes node `index` responsible for the Resource-ID (default: the last node). */
  own(resource: Uint8Array, index: number): void;
  /** Node i's link to node j (adjacent). */
  link(i: number, j: number): FramedLink;
  close(): void;
}

/**
 * Nodes 0..n-1 in a line, each linked to its neighbours. Routing is static: a message for
 * an ID owned further along the line goes right, one owned further back goes left.
 */
export function transportChain(n: number, opts: { init?: (i: number) => Partial<TransportInit> } = {}): Chain {
  const clock = new FakeClock();
  const owners = new Map<string, number>();
  const nodes: ChainNode[] = [];
  const ownerOf = (id: Uint8Array): number => {
    const byNode = nodes.findIndex((x) => idEquals(x.identity.nodeId, id));
    return byNode >= 0 ? byNode : owners.get(toHex(id)) ?? n - 1;
  };
  for (let i = 0; i < n; i++) {
    const id = identity(i);
    const security = selfSignedSecurity(id, clock);
    const links = new Map<string, FramedLink>();
    const transport = new MessageTransport(
      { clock, log: silentLogger, security, linkTo: (nodeId) => links.get(toHex(nodeId)) },
      { overlay: OVERLAY, ...opts.init?.(i) },
    );
    const step = (id: Uint8Array): Link | undefined => {
      const owner = ownerOf(id);
      if (owner === i) return undefined;
      return links.get(toHex(nodes[owner > i ? i + 1 : i - 1].identity.nodeId));
    };
    const topology: Topology = { isResponsible: (k) => ownerOf(k) === i, nextHop: step, linkClosed: () => {} };
    transport.topology = topology;
    nodes.push({ index: i, identity: id, security, transport, links });
  }
  for (let i = 0; i + 1 < n; i++) {
    const a = nodes[i];
    const b = nodes[i + 1];
    const [la, lb] = memoryLinkPair({ clock }, { nodeId: a.identity.nodeId }, { nodeId: b.identity.nodeId });
    la.onMessage = (m) => a.transport.receive(m, la);
    lb.onMessage = (m) => b.transport.receive(m, lb);
    a.links.set(toHex(b.identity.nodeId), la);
    b.links.set(toHex(a.identity.nodeId), lb);
  }
  return {
    clock,
    nodes,
    own: (resource, index) => void owners.set(toHex(resource), index),
    link: (i, j) => nodes[i].links.get(toHex(nodes[j].identity.nodeId))!,
    close() {
      for (const x of nodes) {
        x.transport.close();
        for (const l of x.links.values()) l.close('test over');
      }
    },
  };
}

/** Parts of a hand-built request that `MessageTransport.request` never varies. */
export interface RawRequest<K extends BodyName> {
  name: K;
  body: Bodies[K];
  destinations: Destination[];
  transactionId?: bigint;
  overlay?: string;
  configurationSequence?: number;
  ttl?: number;
  viaList?: Destination[];
  options?: ForwardingOption[];
  extensions?: MessageExtension[];
}

/** A signed request encoded exactly as given: for cases the transport would never originate. */
export function signedRequest<K extends BodyName>(security: MessageSecurity, r: RawRequest<K>): { bytes: Uint8Array; transactionId: bigint } {
  const transactionId = r.transactionId ?? BigInt.asUintN(64, BigInt(Math.floor(Math.random() * 2 ** 52)) << 12n | 0xabcn);
  const overlay = overlayHash(r.overlay ?? OVERLAY);
  const contents = encode(MessageContents, { code: MessageCode[r.name], body: encodeBody(r.name, r.body), extensions: r.extensions ?? [] });
  const header: ForwardingHeader = {
    overlay, configurationSequence: r.configurationSequence ?? 0, ttl: r.ttl ?? 100, fragment: FRAGMENT_UNFRAGMENTED, length: 0,
    transactionId, maxResponseLength: 0, viaList: r.viaList ?? [], destinationList: r.destinations, options: r.options ?? [],
  };
  return { bytes: encodeMessageWithContents(header, contents, security.sign(overlay, transactionId, contents)), transactionId };
}

// ---- ReloadNodes over memory links ----

/**
 * Endpoints in memory: a node registers where it "listens"; connecting to that endpoint
 * makes a memory link pair and hands the far end to the listening node, as a TLS
 * listener's callback would.
 */
export class MemoryNetwork {
  private readonly listeners = new Map<number, ReloadNode>();
  private nextPort = 1;
  /** Connects refused because nothing listened there (or the wrong node did). */
  refused = 0;

  constructor(private readonly clock: Clock) {}

  /** A fresh endpoint for a node about to be built; Attach candidates need an IP address. */
  endpoint(): Endpoint {
    return { host: '192.0.2.1', port: this.nextPort++ };
  }

  listen(endpoint: Endpoint, node: ReloadNode): void {
    this.listeners.set(endpoint.port, node);
  }

  /** The node stops accepting: later connects to its endpoint fail. */
  unlisten(endpoint: Endpoint): void {
    this.listeners.delete(endpoint.port);
  }

  /** The connector one node uses to open links. */
  connector(self: NodeId): LinkConnector {
    return {
      connect: async (endpoint, expected) => {
        const target = this.listeners.get(endpoint.port);
        if (!target || (expected && !idEquals(expected, target.nodeId))) {
          this.refused++;
          throw new Error(`connection refused: ${endpoint.host}:${endpoint.port}`);
        }
        const [outbound, inbound] = memoryLinkPair({ clock: this.clock }, { nodeId: self }, { nodeId: target.nodeId });
        target.acceptLink(inbound);
        return outbound;
      },
    };
  }
}

/** Node-IDs of a sorted ring, and each one's expected neighbour lists (closest first, §10.1). */
export function expectedNeighbours(ids: NodeId[], n: number): Map<string, { predecessors: string[]; successors: string[] }> {
  const ring = ids.map(toHex).sort();
  const out = new Map<string, { predecessors: string[]; successors: string[] }>();
  const k = Math.min(n, ring.length - 1);
  ring.forEach((id, i) => {
    out.set(id, {
      predecessors: Array.from({ length: k }, (_, j) => ring[(i - 1 - j + 2 * ring.length) % ring.length]),
      successors: Array.from({ length: k }, (_, j) => ring[(i + 1 + j) % ring.length]),
    });
  });
  return out;
}

// ---- an in-process CHORD-RELOAD overlay ----

export interface OverlayPeer {
  identity: NodeIdentity;
  endpoint: Endpoint;
  node: ReloadNode;
  chord: ChordPeer;
  /** Stops without a Leave: links close as a crashed peer's sockets would. */
  crash(): void;
}

/** ChordPeers over memory links on the real clock: the async Attach and Update flows run as deployed. */
export class MemoryOverlay {
  readonly network: MemoryNetwork;
  readonly peers: OverlayPeer[] = [];

  constructor(
    private readonly init: { chord?: ChordInit; node?: Partial<NodeInit> } = {},
    private readonly clock: Clock = systemClock,
  ) {
    this.network = new MemoryNetwork(clock);
  }

  /** Builds peer number `i` (its identity is `identity(i)`), not yet part of any overlay. */
  peer(i: number): OverlayPeer {
    const id = identity(i);
    const endpoint = this.network.endpoint();
    const node = new ReloadNode(
      { clock: this.clock, log: silentLogger, security: selfSignedSecurity(id, this.clock), connector: this.network.connector(id.nodeId) },
      { overlay: OVERLAY, advertised: endpoint, ...this.init.node },
    );
    this.network.listen(endpoint, node);
    const chord = new ChordPeer({ clock: this.clock, log: silentLogger, node }, this.init.chord);
    const peer: OverlayPeer = {
      identity: id, endpoint, node, chord,
      crash: () => {
        this.network.unlisten(endpoint);
        chord.close();
        node.close();
      },
    };
    this.peers.push(peer);
    return peer;
  }

  /** Peers that are part of the overlay now. */
  live(): OverlayPeer[] {
    return this.peers.filter((p) => p.chord.state === 'joined');
  }

  /** Each live peer whose neighbour lists differ from the sorted ring of live peers. */
  wrongTables(neighbours: number): string[] {
    const live = this.live();
    const expected = expectedNeighbours(live.map((p) => p.identity.nodeId), neighbours);
    const short = (l: string[]): string => l.map((x) => x.slice(0, 4)).join(',');
    return live.flatMap((p) => {
      const e = expected.get(toHex(p.identity.nodeId))!;
      const t = p.chord.table.toJSON();
      if (JSON.stringify([t.predecessors, t.successors]) === JSON.stringify([e.predecessors, e.successors])) return [];
      return [`${toHex(p.identity.nodeId).slice(0, 4)} has P[${short(t.predecessors)}] S[${short(t.successors)}] wants P[${short(e.predecessors)}] S[${short(e.successors)}]`];
    });
  }

  close(): void {
    for (const p of this.peers) {
      p.chord.close();
      p.node.close();
    }
  }
}
