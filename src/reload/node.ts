// A RELOAD node: the message transport, its links and the methods every node answers
// (Ping, Probe, Attach, AppAttach; RFC 6940 §6.4.2.5, §6.5). The topology plug-in adds
// Join, Leave, Update and RouteQuery.
import { randomBytes } from 'node:crypto';
import {
  type AppAttach, type AttachReqAns, type Destination, type IceCandidate, type NodeId, ErrorCode, OverlayLinkType, ProbeInformationType,
  nodeDestination, toHex,
} from '../codec/index.ts';
import type { Endpoint, Link } from '../link/link.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import { ReloadError } from './errors.ts';
import { type LinkConnector, Links } from './links.ts';
import { type TransportInit, MessageTransport } from './message-transport.ts';
import type { MessageSecurity, RequestContext, Topology } from './types.ts';

export interface NodeInit extends TransportInit {
  /** Where this node accepts links: the host candidate it offers in Attach (§6.5.1.1). */
  advertised: Endpoint;
  /** Cap on open links (connection table); default 32 (CONNECTION_TABLE_LIMIT). */
  maxLinks?: number;
  /** How long an Attach waits for the answerer's link, ms; default 5000. */
  attachTimeoutMs?: number;
  /** A link silent this long gets a keepalive Ping, ms; default 5000. */
  idlePingMs?: number;
}

export interface NodeComponents {
  clock: Clock;
  log: Logger;
  security: MessageSecurity;
  connector: LinkConnector;
}

/** Peer addresses remembered for a rejoin (§11.4: "about ten"), with room for neighbours. */
const KNOWN_ENDPOINTS = 16;

/**
 * An application reached through AppAttach (§6.5.2), e.g. SIP on 5060: it offers its own
 * candidates, and learns the requester's to connect its own transport (not a RELOAD link).
 */
export interface AppAttachApplication {
  candidates(): IceCandidate[];
  /** A peer asked to connect; `request` holds its candidates. */
  attached(request: AppAttach, ctx: RequestContext): void;
}

export class ReloadNode {
  readonly transport: MessageTransport;
  readonly links: Links;
  readonly nodeId: NodeId;
  readonly startedAt: number;
  private readonly applications = new Map<number, AppAttachApplication>();
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly attachTimeoutMs: number;
  private readonly idlePingMs: number;
  /** Called for every Attach this node answered once its link is up. */
  onAttached: (link: Link, request: AttachReqAns, ctx: RequestContext) => void = () => {};

  constructor(private readonly components: NodeComponents, private readonly init: NodeInit) {
    this.nodeId = components.security.nodeId;
    this.startedAt = components.clock.now();
    this.attachTimeoutMs = init.attachTimeoutMs ?? 5000;
    this.idlePingMs = init.idlePingMs ?? 5000;
    this.links = new Links({ clock: components.clock, log: components.log, connector: components.connector }, { maxLinks: init.maxLinks, selfId: this.nodeId });
    this.transport = new MessageTransport({ ...components, linkTo: (id) => this.links.get(id) }, init);
    this.links.onMessage = (bytes, link) => this.transport.receive(bytes, link);
    this.links.onAdd = (link) => { link.onIdle = () => this.keepalive(link); };
    this.links.onClose = (link) => {
      // A link replaced by a newer one to the same peer is no loss.
      if (!this.links.get(link.remoteNodeId)) this.transport.topology?.linkClosed(link);
    };
    this.transport.handle('ping_req', () => ({
      name: 'ping_ans',
      body: { responseId: randomBytes(8).readBigUInt64BE(), time: BigInt(this.components.clock.wallTime()) },
    }));
    this.transport.handle('probe_req', (req) => ({ name: 'probe_ans', body: { probeInfo: this.probe(req.requestedInfo) } }));
    this.transport.handle('attach_req', (req, ctx) => this.answerAttach(req, ctx));
    this.transport.handle('app_attach_req', (req, ctx) => this.answerAppAttach(req, ctx));
  }

  set topology(t: Topology) {
    this.transport.topology = t;
  }

  /** Accepts a link opened to us (the TLS listener's callback). */
  acceptLink(link: Link): void {
    this.links.add(link);
  }

  /**
   * Keepalive (§6.6.5 uses ACKs only as a failure timeout): a link that has heard nothing for
   * a while gets a Ping, whose frame must be ACKed, so a silently dead peer is noticed.
   */
  private keepalive(link: Link): void {
    if (this.components.clock.now() - link.stats.lastReceivedMs < this.idlePingMs) return;
    // Only the links our topology routes over need watching; the far end of any other link
    // watches it if it routes over it, and the connection table evicts it otherwise.
    if (!this.links.isProtected(link.remoteNodeId)) return;
    this.transport.request([nodeDestination(link.remoteNodeId)], 'ping_req', { padding: new Uint8Array(0) }, { via: link }).catch(() => {});
  }

  /** Our host candidate for TLS-TCP-FH-NO-ICE (§6.5.1.1, §6.6.5: a passive candidate). */
  candidates(): IceCandidate[] {
    return [{
      addrPort: { type: this.init.advertised.host.includes(':') ? 'ipv6' : 'ipv4', address: this.init.advertised.host, port: this.init.advertised.port },
      overlayLink: OverlayLinkType['TLS-TCP-FH-NO-ICE'],
      foundation: '1',
      priority: (126 << 24) | (65535 << 8) | 255, // host type preference, RFC 8445 §5.1.2.1
      type: 'host',
      extensions: [],
    }];
  }

  /**
   * Attach (§6.5.1): asks the node at `destinations` for a connection. With No-ICE links
   * the answerer, as TLS client, connects to our candidate; we wait for that link.
   */
  async attach(destinations: Destination[], opts: { via?: Link; sendUpdate?: boolean } = {}): Promise<Link> {
    const request: AttachReqAns = {
      ufrag: randomBytes(4).toString('hex'), password: randomBytes(12).toString('hex'), role: 'passive',
      candidates: this.candidates(), sendUpdate: opts.sendUpdate ?? false,
    };
    const answer = await this.transport.request(destinations, 'attach_req', request, { via: opts.via });
    // The answer's verified signer is the node that connects to us.
    const peer = answer.signer[0];
    if (!peer) throw new ReloadError(ErrorCode.Error_Forbidden, 'attach answer without a signer Node-ID');
    this.remember(peer, (answer.body as AttachReqAns).candidates);
    return this.links.waitFor(peer, this.attachTimeoutMs);
  }

  private async answerAttach(req: AttachReqAns, ctx: RequestContext): Promise<{ name: 'attach_ans'; body: AttachReqAns }> {
    const requester = ctx.signer[0];
    if (!requester) throw new ReloadError(ErrorCode.Error_Forbidden, 'no signer');
    const answer: AttachReqAns = {
      ufrag: randomBytes(4).toString('hex'), password: randomBytes(12).toString('hex'), role: 'active', candidates: this.candidates(), sendUpdate: false,
    };
    // Connect after the answer is on its way; the requester waits for our link.
    setImmediate(() => void this.connectBack(requester, req, ctx));
    return { name: 'attach_ans', body: answer };
  }

  private async connectBack(requester: NodeId, req: AttachReqAns, ctx: RequestContext): Promise<void> {
    try {
      // Remembered even when a link exists already: it is the address to come back through.
      const endpoint = this.remember(requester, req.candidates);
      let link = this.links.get(requester);
      if (!link) {
        if (!endpoint) return;
        link = await this.links.connect(endpoint, requester);
      }
      this.onAttached(link, req, ctx);
    } catch (e) {
      this.components.log.debug('attach connect-back failed', { peer: requester, error: (e as Error).message });
    }
  }

  /**
   * Keeps the listening address a node offered in an Attach: a node that loses its
   * bootstrap and every neighbour can come back through any of these (§11.4 asks for a
   * cache of about ten). Returns the endpoint found, if any.
   */
  private remember(id: NodeId, candidates: IceCandidate[]): Endpoint | undefined {
    const c = candidates.find((k) => k.overlayLink === OverlayLinkType['TLS-TCP-FH-NO-ICE'] && k.addrPort.type !== 'unknown');
    if (!c || c.addrPort.type === 'unknown') return undefined;
    const endpoint = { host: c.addrPort.address, port: c.addrPort.port };
    const key = toHex(id);
    this.endpoints.delete(key);
    this.endpoints.set(key, endpoint);
    if (this.endpoints.size > KNOWN_ENDPOINTS) this.endpoints.delete(this.endpoints.keys().next().value as string);
    return endpoint;
  }

  /** Listening addresses of peers met through Attach, most recent first. */
  knownEndpoints(except?: NodeId): Endpoint[] {
    const skip = except && toHex(except);
    return [...this.endpoints].filter(([k]) => k !== skip).map(([, e]) => e).reverse();
  }

  endpointOf(id: NodeId): Endpoint | undefined {
    return this.endpoints.get(toHex(id));
  }

  /** Registers the application behind an Application-ID (§6.5.2). */
  application(id: number, app: AppAttachApplication): void {
    this.applications.set(id, app);
  }

  /**
   * AppAttach (§6.5.2): offers our application's candidates to the node at `destinations`
   * and returns its answer, whose candidates the application connects to.
   */
  async appAttach(destinations: Destination[], application: number): Promise<{ answer: AppAttach; signer: NodeId[] }> {
    const app = this.applications.get(application);
    const request: AppAttach = {
      ufrag: randomBytes(4).toString('hex'), password: randomBytes(12).toString('hex'), application, role: 'passive',
      candidates: app?.candidates() ?? [],
    };
    const answer = await this.transport.request(destinations, 'app_attach_req', request);
    return { answer: answer.body as AppAttach, signer: answer.signer };
  }

  private answerAppAttach(req: AppAttach, ctx: RequestContext): { name: 'app_attach_ans'; body: AppAttach } {
    const app = this.applications.get(req.application);
    // §6.5.2: "If the application is not supported, the peer MUST return Error_Not_Found".
    if (!app) throw new ReloadError(ErrorCode.Error_Not_Found, `no application ${req.application}`);
    setImmediate(() => app.attached(req, ctx));
    return {
      name: 'app_attach_ans',
      body: { ufrag: randomBytes(4).toString('hex'), password: randomBytes(12).toString('hex'), application: req.application, role: 'active', candidates: app.candidates() },
    };
  }

  private probe(requested: number[]): { type: 'responsible_set' | 'num_resources' | 'uptime'; value: number }[] {
    const uptime = Math.floor((this.components.clock.now() - this.startedAt) / 1000);
    const out: { type: 'responsible_set' | 'num_resources' | 'uptime'; value: number }[] = [];
    for (const t of requested) {
      if (t === ProbeInformationType.uptime) out.push({ type: 'uptime', value: uptime });
      if (t === ProbeInformationType.num_resources) out.push({ type: 'num_resources', value: 0 });
      if (t === ProbeInformationType.responsible_set) out.push({ type: 'responsible_set', value: this.responsiblePpb() });
    }
    return out;
  }

  /** Fraction of the ring this node is responsible for, in parts per billion (§6.4.2.5). */
  responsiblePpb: () => number = () => 1e9;

  close(): void {
    this.transport.close();
    this.links.closeAll('node closed');
  }
}
