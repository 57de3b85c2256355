// The SIP transport layer (RFC 3261 §18): UDP and TCP, plus stream connections handed in from
// elsewhere (the direct connection an AppAttach opened, RFC 7904 §5). Requests go out to an
// address or over a chosen flow; responses go back the way their request came (§18.2.2).
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket, type RemoteInfo } from 'node:dgram';
import { createConnection, createServer, isIP, type Server, type Socket } from 'node:net';
import { advertisedAddress } from '../../util/address.ts';
import type { Logger } from '../../util/log.ts';
import { SIP_MAX_DATAGRAM_BYTES, SIP_MAX_FLOWS, SIP_TCP_CONNECT_TIMEOUT_MS, SIP_FLOW_IDLE_MS } from './constants.ts';
import { type SipMessage, type SipResponse, SipHeaders } from './message.ts';
import { SipParseError, SipStreamFramer, parseMessage } from './parse.ts';
import { serialize } from './serialize.ts';
import { formatVia, parseCSeq, parseNameAddr, parseUri, parseVia } from './uri.ts';

export type SipTransportName = 'UDP' | 'TCP' | 'TLS';

/** A connection-oriented path to one peer: a TCP socket we accepted, opened, or adopted. */
export interface SipFlow {
  readonly id: number;
  readonly remote: { host: string; port: number };
  /** `TLS` for a TLS socket (SIPS, RFC 3261 §26.2), else `TCP`: what our Via says over it. */
  readonly transport: 'TCP' | 'TLS';
  readonly open: boolean;
  /** Where the connection came from: `tcp` (accepted or dialled) or an application such as `appattach`. */
  readonly origin: string;
}

/** Where a message came from. */
export interface SipSource {
  transport: SipTransportName;
  host: string;
  port: number;
  /** Set for stream transports: responses and in-dialog requests can go back over it. */
  flow?: SipFlow;
}

/** Where a message goes: an address (UDP, or TCP dialled on demand) or an existing flow. */
export type SipDestination =
  | { transport: SipTransportName; host: string; port: number }
  | { flow: SipFlow };

export interface SipTransportCounters {
  received: number;
  sent: number;
  parseErrors: number;
  badRequestsAnswered: number;
  flowsRefused: number;
  sendErrors: number;
}

interface FlowState extends SipFlow {
  socket: Socket;
  framer: SipStreamFramer;
  lastActivity: number;
}

export interface SipTransportInit {
  /** Address to bind. */
  host: string;
  /** UDP and TCP port; 0 picks one (the same for both where possible). */
  port: number;
  /** Address written into Via and Contact; defaults to `host`, or 127.0.0.1 for a wildcard bind. */
  advertisedHost?: string;
  /** Most stream connections at once. Default SIP_MAX_FLOWS. */
  maxFlows?: number;
}

export class SipTransport {
  onMessage: (message: SipMessage, source: SipSource) => void = () => {};
  /** A flow closed: dialogs bound to it must find another way. */
  onFlowClosed: (flow: SipFlow) => void = () => {};
  readonly counters: SipTransportCounters = { received: 0, sent: 0, parseErrors: 0, badRequestsAnswered: 0, flowsRefused: 0, sendErrors: 0 };
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly flows = new Map<number, FlowState>();
  private readonly dialled = new Map<string, Promise<FlowState>>();
  private nextFlowId = 1;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  port = 0;

  constructor(private readonly components: { log: Logger }, private readonly init: SipTransportInit) {}

  get advertisedHost(): string {
    return this.init.advertisedHost ?? advertisedAddress(this.init.host);
  }

  async start(): Promise<void> {
    // Same port number for UDP and TCP (§18: a UA listening on a port SHOULD accept both).
    for (let attempt = 0; ; attempt++) {
      const udp = createSocket({ type: isIP(this.init.host) === 6 ? 'udp6' : 'udp4' });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(this.init.port, this.init.host, () => { udp.off('error', reject); resolve(); });
      });
      const port = udp.address().port;
      const tcp = createServer((socket) => this.adopt(socket, 'tcp'));
      const bound = await new Promise<boolean>((resolve, reject) => {
        tcp.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' && this.init.port === 0 && attempt < 5 ? resolve(false) : reject(e)));
        tcp.listen(port, this.init.host, () => resolve(true));
      });
      if (!bound) { udp.close(); continue; }
      this.udp = udp;
      this.tcp = tcp;
      this.port = port;
      udp.on('message', (bytes, rinfo) => this.datagram(bytes, rinfo));
      udp.on('error', (e) => this.components.log.warn('udp socket error', { error: e.message }));
      tcp.on('error', (e) => this.components.log.warn('tcp listener error', { error: e.message }));
      break;
    }
    this.idleTimer = setInterval(() => this.closeIdleFlows(), SIP_FLOW_IDLE_MS / 4);
    this.idleTimer.unref();
  }

  /** A Via for a request we send over `transport` (§18.1.1), asking for rport (RFC 3581). */
  via(transport: SipTransportName, branch: string): string {
    return formatVia({ protocol: 'SIP/2.0', transport, host: this.advertisedHost, port: this.port, params: new Map<string, string | null>([['branch', branch], ['rport', null]]) });
  }

  /** Takes over a connected stream socket (an AppAttach connection); its messages arrive like any other. */
  adoptSocket(socket: Socket, origin: string, transport: 'TCP' | 'TLS' = 'TCP'): SipFlow | undefined {
    return this.adopt(socket, origin, transport);
  }

  flowFor(id: number): SipFlow | undefined {
    return this.flows.get(id);
  }

  get flowCount(): number {
    return this.flows.size;
  }

  async send(message: SipMessage, to: SipDestination): Promise<void> {
    if (this.closed) throw new Error('SIP transport closed');
    const bytes = serialize(message);
    if ('flow' in to) {
      const flow = this.flows.get(to.flow.id);
      if (!flow || !flow.open) throw new Error(`flow ${to.flow.id} is closed`);
      this.write(flow, bytes);
      return;
    }
    if (to.transport === 'TLS') throw new Error('SIPS goes over an established TLS flow only');
    if (to.transport === 'UDP') {
      if (bytes.length > SIP_MAX_DATAGRAM_BYTES) throw new Error(`message of ${bytes.length} bytes too large for UDP`);
      await new Promise<void>((resolve, reject) => this.udp!.send(bytes, to.port, to.host, (e) => (e ? reject(e) : resolve())));
      this.counters.sent++;
      return;
    }
    const flow = await this.dial(to.host, to.port);
    this.write(flow, bytes);
  }

  /** A flow to host:port, reusing an open one (§18.1.1: a connection SHOULD be reused). */
  async dial(host: string, port: number): Promise<SipFlow & FlowState> {
    const key = `${host}:${port}`;
    for (const f of this.flows.values()) if (f.open && f.remote.host === host && f.remote.port === port && f.origin === 'tcp') return f;
    let pending = this.dialled.get(key);
    if (!pending) {
      pending = new Promise<FlowState>((resolve, reject) => {
        const socket = createConnection({ host, port });
        const timer = setTimeout(() => { socket.destroy(); reject(new Error(`TCP connect to ${key} timed out`)); }, SIP_TCP_CONNECT_TIMEOUT_MS);
        socket.once('error', (e) => { clearTimeout(timer); reject(e); });
        socket.once('connect', () => {
          clearTimeout(timer);
          const flow = this.adopt(socket, 'tcp');
          if (flow) resolve(flow as FlowState);
          else reject(new Error('too many SIP connections'));
        });
      }).finally(() => this.dialled.delete(key));
      this.dialled.set(key, pending);
    }
    return pending;
  }

  /**
   * The address a response goes to when its request came over UDP (§18.2.2): the top Via's
   * `received` and `rport` (RFC 3581 §4), else its sent-by; a flow when it came over one.
   */
  responseDestination(response: SipResponse, source: SipSource): SipDestination {
    if (source.flow?.open) return { flow: source.flow };
    const top = response.headers.get('Via');
    if (top) {
      try {
        const via = parseVia(top);
        const host = via.params.get('received') ?? via.host;
        const rport = via.params.get('rport');
        const port = rport ? Number(rport) : (via.port ?? 5060);
        return { transport: source.transport, host: host ?? source.host, port };
      } catch { /* fall through to the source address */ }
    }
    return { transport: source.transport, host: source.host, port: source.port };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.idleTimer);
    this.udp?.close();
    this.tcp?.close();
    for (const f of [...this.flows.values()]) f.socket.destroy();
    this.flows.clear();
  }

  private write(flow: FlowState, bytes: Buffer): void {
    flow.lastActivity = Date.now();
    flow.socket.write(bytes);
    this.counters.sent++;
  }

  private adopt(socket: Socket, origin: string, transport: 'TCP' | 'TLS' = 'TCP'): FlowState | undefined {
    if (this.closed || this.flows.size >= (this.init.maxFlows ?? SIP_MAX_FLOWS)) {
      this.counters.flowsRefused++;
      this.components.log.warn('SIP connection refused: flow table full', { max: this.init.maxFlows ?? SIP_MAX_FLOWS });
      socket.destroy();
      return undefined;
    }
    socket.setNoDelay(true);
    const flow: FlowState = {
      id: this.nextFlowId++, remote: { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 }, transport, open: true, origin,
      socket, framer: new SipStreamFramer(), lastActivity: Date.now(),
    };
    this.flows.set(flow.id, flow);
    flow.framer.onMessage = (message) => {
      flow.lastActivity = Date.now();
      this.deliver(message, { transport: flow.transport, host: flow.remote.host, port: flow.remote.port, flow });
    };
    // RFC 5626 §3.5.1: a double-CRLF ping is answered with a single CRLF pong.
    flow.framer.onKeepalive = () => { flow.lastActivity = Date.now(); if (flow.open) socket.write('\r\n'); };
    flow.framer.onError = (e) => {
      this.counters.parseErrors++;
      this.components.log.warn('malformed SIP on a stream: closing it', { remote: `${flow.remote.host}:${flow.remote.port}`, error: e.message });
      this.answerBadRequest(e, { transport: flow.transport, host: flow.remote.host, port: flow.remote.port, flow });
      socket.end();
    };
    socket.on('data', (chunk) => flow.framer.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      (flow as { open: boolean }).open = false;
      this.flows.delete(flow.id);
      if (!this.closed) this.onFlowClosed(flow);
    });
    return flow;
  }

  private datagram(bytes: Buffer, rinfo: RemoteInfo): void {
    const source: SipSource = { transport: 'UDP', host: rinfo.address, port: rinfo.port };
    // RFC 5626 §4.4.1 keepalives over UDP are STUN; a bare CRLF datagram is also ignored.
    if (bytes.length <= 4 && bytes.every((b) => b === 0x0d || b === 0x0a)) return;
    let message: SipMessage;
    try {
      message = parseMessage(bytes);
    } catch (e) {
      this.counters.parseErrors++;
      if (e instanceof SipParseError) {
        this.components.log.debug('malformed SIP datagram dropped or answered', { from: `${rinfo.address}:${rinfo.port}`, error: e.message });
        this.answerBadRequest(e, source);
      } else this.components.log.warn('SIP datagram parser failed', { error: (e as Error).message });
      return;
    }
    this.deliver(message, source);
  }

  private deliver(message: SipMessage, source: SipSource): void {
    this.counters.received++;
    if (message.type === 'request') markReceived(message.headers, source);
    try {
      this.onMessage(message, source);
    } catch (e) {
      this.components.log.error('SIP message handler threw', { error: (e as Error).message });
    }
  }

  /**
   * §8.2.1 / §21.4.1: a request we could read far enough to answer gets 400 (or the error's
   * own status) with its Via, From, To, Call-ID and CSeq; anything else is dropped.
   */
  private answerBadRequest(error: SipParseError, source: SipSource): void {
    const partial = error.partial;
    if (!partial || !partial.method || partial.method === 'ACK') return;
    const headers = answerFields(partial.headers);
    if (!headers) return;
    // §18.2.2 and RFC 3581 §4: like any response, it goes to where the request came from.
    markReceived(headers, source);
    const response: SipResponse = { type: 'response', status: error.status, reason: reasonFor(error.status, error.message), headers, body: new Uint8Array(0) };
    this.counters.badRequestsAnswered++;
    void this.send(response, this.responseDestination(response, source)).catch(() => { this.counters.sendErrors++; });
  }

  private closeIdleFlows(): void {
    const now = Date.now();
    for (const f of this.flows.values()) if (now - f.lastActivity > SIP_FLOW_IDLE_MS && f.origin === 'tcp') f.socket.end();
  }
}

/**
 * Where a sip: URI is reached without DNS SRV (a simplified RFC 3263 §4): its host and port
 * (5060 by default), over TCP when `transport=tcp` says so, else UDP. Undefined for anything
 * that is not a sip: URI with a host. A sips: URI needs a TLS flow, which only AppAttach opens.
 */
export function destinationOfUri(text: string): { transport: 'UDP' | 'TCP'; host: string; port: number } | undefined {
  let uri;
  try {
    uri = parseUri(text);
  } catch {
    return undefined;
  }
  if (uri.scheme !== 'sip' || !uri.host) return undefined;
  const transport = (uri.params.get('transport') ?? '').toLowerCase() === 'tcp' ? 'TCP' : 'UDP';
  return { transport, host: uri.host.replace(/^\[|\]$/g, ''), port: uri.port ?? 5060 };
}

/**
 * §18.2.1: the server transport notes where a request really came from in its top Via
 * (`received`), and fills in an empty `rport` with the source port (RFC 3581 §4).
 */
function markReceived(headers: SipHeaders, source: SipSource): void {
  const top = headers.get('Via');
  if (!top) return;
  try {
    const via = parseVia(top);
    let changed = false;
    if (via.host !== source.host) { via.params.set('received', source.host); changed = true; }
    if (via.params.has('rport') && !via.params.get('rport')) { via.params.set('rport', String(source.port)); via.params.set('received', source.host); changed = true; }
    if (changed) headers.setFirst('Via', formatVia(via));
  } catch { /* the transaction layer answers a bad Via */ }
}

/**
 * The fields an error response to a malformed request copies (§8.2.6.2): every Via, and the
 * first From, To, Call-ID and CSeq, the To with a tag added when it has none. Undefined when
 * the client could not read the answer back or match it to its transaction (§17.1.3: top Via
 * branch and CSeq method): then there is nothing worth sending.
 */
function answerFields(request: SipHeaders): SipHeaders | undefined {
  const vias = request.all('Via');
  const from = request.get('From');
  const to = request.get('To');
  const callId = request.get('Call-ID');
  const cseq = request.get('CSeq');
  if (vias.length === 0 || !from || !to || !callId || !cseq || /\s/.test(callId)) return undefined;
  let tagged = to;
  try {
    for (const via of vias) parseVia(via);
    parseCSeq(cseq);
    parseNameAddr(from);
    if (!parseNameAddr(to).params.get('tag')) tagged = `${to};tag=${randomBytes(6).toString('hex')}`;
  } catch {
    return undefined;
  }
  const headers = new SipHeaders();
  for (const via of vias) headers.add('Via', via);
  return headers.add('From', from).add('To', tagged).add('Call-ID', callId).add('CSeq', cseq);
}

function reasonFor(status: number, message: string): string {
  // The reason phrase names the problem (§21.4.1 "SHOULD be used to indicate the problem");
  // keep it to printable ASCII without CR/LF.
  const text = message.replace(/[^\x20-\x7e]/g, ' ').slice(0, 80);
  return status === 400 ? `Bad Request - ${text}` : text || 'Error';
}
