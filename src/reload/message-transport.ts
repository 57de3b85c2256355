// The message transport (RFC 6940 §6.1–§6.3, §6.7): routes each received message by its
// destination list, forwards with symmetric recursive routing, delivers what is for this
// node to the transaction table or a method handler, and originates requests with
// end-to-end retransmission.
import { randomBytes } from 'node:crypto';
import {
  type BodyName, type Bodies, type DecodedMessage, type Destination, type ForwardingHeader, type NodeId, BASE_DATA_MODELS,
  CodecError, Cursor, ErrorCode, FRAGMENT_UNFRAGMENTED, ForwardingFlag, MessageCode, MessageContents, WILDCARD_NODE_ID,
  bodyNameOf, decodeBodyAs, decodeHeaderOf, decodeMessage, encode, encodeBody, encodeForwardingHeader, encodeMessageWithContents,
  forwardingHeaderLength, idEquals, isFragment, overlayHash, toHex, type DataModels,
} from '../codec/index.ts';
import type { Link } from '../link/link.ts';
import { loopbackLink } from '../link/loopback-link.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import { AnswerCache } from './answer-cache.ts';
import * as D from './constants.ts';
import { ReloadError } from './errors.ts';
import { Reassembly, fragmentMessage } from './reassembly.ts';
import { Transactions } from './transactions.ts';
import type { Answer, Handler, MessageSecurity, RequestContext, Topology } from './types.ts';

export interface TransportInit {
  /** Overlay instance name; its hash goes in every header (§6.3.2). */
  overlay: string;
  /** Sequence number of the configuration in force (§6.3.2.1). Default 0. */
  configurationSequence?: number;
  /** max-message-size, default 5000 bytes (§11.1). */
  maxMessageSize?: number;
  /** initial-ttl, default 100 (§11.1). */
  initialTtl?: number;
  /** overlay-reliability-timer, default 3000 ms (§6.2.1). */
  reliabilityTimerMs?: number;
  /** Cap on requests awaiting answers; default 256. */
  maxPendingTransactions?: number;
  /** Cap on answers kept for retransmitted requests; default 512. */
  maxAnswerCache?: number;
  /** Data models of the kinds the configuration defines; default the base kinds. */
  models?: DataModels;
}

export interface TransportComponents {
  clock: Clock;
  log: Logger;
  security: MessageSecurity;
  /** The connection table: the link to a Node-ID, if one is open. */
  linkTo(nodeId: NodeId): Link | undefined;
}

/** What the transport counts; `p2psip status` shows it. */
export interface TransportCounters {
  received: number;
  forwarded: number;
  delivered: number;
  malformed: number;
  wrongOverlay: number;
  badSignature: number;
  ttlExceeded: number;
  noRoute: number;
  duplicates: number;
  errorsSent: number;
  unroutableDropped: number;
  /** Answers dropped because someone other than the addressed node signed them (§6.3.4). */
  wrongResponder: number;
}

const REQUEST = (code: number): boolean => code !== MessageCode.error && (code & 1) === 1;

export class MessageTransport {
  readonly nodeId: NodeId;
  readonly overlayId: number;
  readonly counters: TransportCounters = {
    received: 0, forwarded: 0, delivered: 0, malformed: 0, wrongOverlay: 0, badSignature: 0, ttlExceeded: 0, noRoute: 0,
    duplicates: 0, errorsSent: 0, unroutableDropped: 0, wrongResponder: 0,
  };
  topology: Topology | undefined;
  configurationSequence: number;
  readonly transactions: Transactions;
  readonly answers: AnswerCache;
  readonly reassembly: Reassembly;
  private readonly handlers = new Map<number, Handler>();
  /** Node-ID that must sign the answer of a pending request (bounded by the transactions). */
  private readonly expectedSigners = new Map<bigint, NodeId>();
  /** A link to ourselves, for requests this node answers itself. */
  readonly loopback: Link;
  private readonly maxMessageSize: number;
  readonly initialTtl: number;
  /** Data models of the Kinds in force; a new configuration replaces them (§6.5.4). */
  models: DataModels;
  private closed = false;

  constructor(private readonly components: TransportComponents, init: TransportInit) {
    this.nodeId = components.security.nodeId;
    this.overlayId = overlayHash(init.overlay);
    this.configurationSequence = init.configurationSequence ?? 0;
    this.maxMessageSize = init.maxMessageSize ?? 5000;
    this.initialTtl = init.initialTtl ?? D.INITIAL_TTL;
    this.models = init.models ?? BASE_DATA_MODELS;
    this.transactions = new Transactions(components.clock, {
      reliabilityTimerMs: init.reliabilityTimerMs ?? D.OVERLAY_RELIABILITY_TIMER_MS,
      maxTransmissions: D.MAX_TRANSMISSIONS,
      maxPending: init.maxPendingTransactions ?? D.MAX_PENDING_TRANSACTIONS,
    });
    this.answers = new AnswerCache(components.clock, init.maxAnswerCache ?? D.MAX_ANSWER_CACHE_ENTRIES, D.REQUEST_LIFETIME_MS);
    this.loopback = loopbackLink(this.nodeId, (bytes) => this.receive(bytes, this.loopback));
    // Answers over max-message-size are sent fragmented (sendAnswer), so a reassembled
    // message may exceed it; the byte cap bounds it instead (§6.7).
    this.reassembly = new Reassembly(components.clock, {
      maxMessages: D.MAX_REASSEMBLY_MESSAGES, maxBytes: D.MAX_REASSEMBLY_BYTES, timeoutMs: D.REASSEMBLY_TIMEOUT_MS, maxMessageSize: D.MAX_REASSEMBLY_BYTES,
    });
  }

  /** Registers the handler of one request method. */
  handle<K extends BodyName>(name: K, handler: (body: Bodies[K], ctx: RequestContext) => Answer | Promise<Answer>): void {
    this.handlers.set(MessageCode[name], handler as Handler);
  }

  /** Stops answering `name` (a role's handlers go when the device changes role). */
  unhandle(name: BodyName): void {
    this.handlers.delete(MessageCode[name]);
  }

  close(): void {
    this.closed = true;
    this.transactions.close();
    this.reassembly.close();
  }

  // ---- originating ----

  /**
   * Sends a request and resolves with the answer's body. `via` forces the first hop (a
   * joining node talks through its bootstrap link before it has a routing table).
   */
  async request<K extends BodyName>(
    destinations: Destination[], name: K, body: Bodies[K],
    opts: { via?: Link; signal?: AbortSignal; timerMs?: number; certificates?: readonly Uint8Array[] } = {},
  ): Promise<{ message: DecodedMessage; signer: NodeId[]; name: BodyName; body: unknown }> {
    const transactionId = randomBytes(8).readBigUInt64BE();
    const contents = encode(MessageContents, { code: MessageCode[name], body: encodeBody(name, body, this.models), extensions: [] });
    const header: ForwardingHeader = {
      overlay: this.overlayId, configurationSequence: this.configurationSequence, ttl: this.initialTtl, fragment: FRAGMENT_UNFRAGMENTED,
      length: 0, transactionId, maxResponseLength: 0, viaList: [], destinationList: destinations, options: [],
    };
    const bytes = encodeMessageWithContents(header, contents, this.components.security.sign(this.overlayId, transactionId, contents, opts.certificates));
    // §6.3.4: an answer to a request sent to a Node-ID must be signed by that Node-ID.
    const last = destinations[destinations.length - 1];
    const expected = last?.type === 'node' && !idEquals(last.id, WILDCARD_NODE_ID) ? last.id : undefined;
    if (expected) this.expectedSigners.set(transactionId, expected);
    let answered;
    try {
      answered = await this.transactions.start(transactionId, () => this.sendOwn(header, bytes, opts.via), opts);
    } finally {
      this.expectedSigners.delete(transactionId);
    }
    const { message, signer } = answered;
    if (message.contents.code === MessageCode.error) {
      const e = decodeBodyAs('error', message.contents.body);
      throw new ReloadError(e.errorCode, e.errorInfo);
    }
    const answerName = bodyNameOf(message.contents.code);
    if (!answerName) throw new ReloadError(ErrorCode.Error_Invalid_Message, 'unknown answer code');
    return { message, signer, name: answerName, body: decodeBodyAs(answerName, message.contents.body, this.models) };
  }

  /** Sends a message this node built: through `via`, or routed by its destination list. */
  private sendOwn(header: ForwardingHeader, bytes: Uint8Array, via?: Link): void {
    if (via) {
      this.transmit(via, bytes);
      return;
    }
    const route = this.route(header.destinationList);
    if (route.kind === 'forward') {
      const h = { ...header, destinationList: route.destinations };
      this.transmit(route.link, route.destinations.length === header.destinationList.length ? bytes : this.rewrite(h, bytes, header));
    } else if (route.kind === 'local') {
      // A request to ourselves (e.g. to a Resource-ID we hold) goes round the loopback.
      this.transmit(this.loopback, bytes);
    } else {
      this.counters.noRoute++;
    }
  }

  // ---- receiving ----

  /** Entry point for every message a link delivers; never throws. */
  receive(bytes: Uint8Array, from: Link | undefined): void {
    if (this.closed) return;
    this.counters.received++;
    let header: ForwardingHeader;
    let headerLength: number;
    try {
      const decoded = decodeHeaderOf(bytes, { maxMessageSize: this.maxMessageSize });
      header = decoded.header;
      headerLength = decoded.cursor.pos;
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      this.counters.malformed++;
      this.components.log.debug('malformed forwarding header', { error: e.message, from: from?.remoteNodeId });
      return;
    }
    // §6.1: a wrong overlay, version or other header field: discard.
    if (header.overlay !== this.overlayId) {
      this.counters.wrongOverlay++;
      return;
    }
    const code = firstFragmentCode(bytes, header, headerLength);
    // §6.3.2: a TTL above initial-ttl is an error, and so is a TTL that runs out in transit.
    if (header.ttl > this.initialTtl) {
      this.counters.ttlExceeded++;
      if (code !== undefined && REQUEST(code) && from) this.answerError(header, from, ErrorCode.Error_TTL_Exceeded, 'ttl above initial-ttl');
      return;
    }
    const route = this.route(header.destinationList);
    if (route.kind === 'local') {
      this.deliver(bytes, header, headerLength, from);
      return;
    }
    if (route.kind === 'drop') {
      this.counters.unroutableDropped++;
      return;
    }
    if (header.ttl === 0) {
      this.counters.ttlExceeded++;
      if (code !== undefined && REQUEST(code) && from) this.answerError(header, from, ErrorCode.Error_TTL_Exceeded, 'ttl exhausted');
      return;
    }
    const unsupported = header.options.find((o) => (o.flags & ForwardingFlag.FORWARD_CRITICAL) !== 0);
    if (unsupported) {
      if (code !== undefined && REQUEST(code) && from) this.answerError(header, from, ErrorCode.Error_Unsupported_Forwarding_Option, `option ${unsupported.type}`);
      return;
    }
    // Symmetric recursive routing (§6.1.2): append the node we received it from to the
    // via list, so the answer can retrace the path.
    const forwarded: ForwardingHeader = {
      ...header,
      ttl: header.ttl - 1,
      destinationList: route.destinations,
      viaList: from ? [...header.viaList, { type: 'node', id: from.remoteNodeId }] : header.viaList,
    };
    this.counters.forwarded++;
    this.transmit(route.link, this.rewrite(forwarded, bytes, header, headerLength));
  }

  /**
   * The routing decision of §6.1 for a destination list: consume entries that name this
   * node, then deliver locally, forward over a link, or drop.
   */
  route(list: Destination[]): { kind: 'local' } | { kind: 'drop'; reason: string } | { kind: 'forward'; link: Link; destinations: Destination[] } {
    let i = 0;
    for (;;) {
      const d = list[i];
      if (d === undefined) return { kind: 'drop', reason: 'empty destination list' };
      const last = i === list.length - 1;
      if (d.type === 'node') {
        if (idEquals(d.id, WILDCARD_NODE_ID)) return { kind: 'local' };
        if (idEquals(d.id, this.nodeId)) {
          if (last) return { kind: 'local' };
          i++;
          continue;
        }
        // A direct connection wins (§6.1.2), which is how answers reach clients and
        // joining nodes that are in no routing table.
        const direct = this.components.linkTo(d.id);
        if (direct) return { kind: 'forward', link: direct, destinations: list.slice(i) };
        if (this.topology?.isResponsible(d.id)) return { kind: 'drop', reason: 'node in my range is not connected' };
        return this.hop(d.id, list.slice(i));
      }
      if (d.type === 'resource') {
        // §6.1.1: a Resource-ID must be the last entry.
        if (!last) return { kind: 'drop', reason: 'resource not last' };
        if (this.topology?.isResponsible(d.id)) return { kind: 'local' };
        return this.hop(d.id, list.slice(i));
      }
      // Opaque and compact entries are only ever ours (list compression, §6.1.3); this
      // node never compresses, so one reaching it cannot be expanded.
      return { kind: 'drop', reason: `${d.type} destination` };
    }
  }

  private hop(id: Uint8Array, destinations: Destination[]): ReturnType<MessageTransport['route']> {
    const link = this.topology?.nextHop(id);
    if (!link) {
      this.counters.noRoute++;
      return { kind: 'drop', reason: 'no route' };
    }
    return { kind: 'forward', link, destinations };
  }

  private deliver(bytes: Uint8Array, header: ForwardingHeader, headerLength: number, from: Link | undefined): void {
    let whole = bytes;
    if (isFragment(header)) {
      const joined = this.reassembly.add(header, bytes.subarray(headerLength));
      if (!joined) return;
      whole = joined;
    }
    let m: DecodedMessage;
    try {
      m = decodeMessage(whole, { maxMessageSize: Math.max(this.maxMessageSize, whole.length) });
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      this.counters.malformed++;
      const code = firstFragmentCode(whole, header, headerLength);
      if (code !== undefined && REQUEST(code) && from) this.answerError(header, from, ErrorCode.Error_Invalid_Message, e.message);
      return;
    }
    let signer: NodeId[];
    try {
      signer = this.components.security.verify(m);
    } catch (e) {
      // §6.3.4: a message whose signature does not verify is dropped silently.
      this.counters.badSignature++;
      this.components.log.debug('signature check failed', { error: (e as Error).message, from: from?.remoteNodeId });
      return;
    }
    this.counters.delivered++;
    const code = m.contents.code;
    if (!REQUEST(code)) {
      // Errors may come from any node on the path (a TTL that ran out in transit).
      const expected = code === MessageCode.error ? undefined : this.expectedSigners.get(header.transactionId);
      if (expected && !signer.some((id) => idEquals(id, expected))) {
        this.counters.wrongResponder++;
        return;
      }
      this.transactions.answer(header.transactionId, { message: m, signer });
      return;
    }
    if (!from) return;
    void this.serve(m, from, signer);
  }

  private async serve(m: DecodedMessage, from: Link, signer: NodeId[]): Promise<void> {
    const header = m.header;
    const key = `${toHex(signer[0] ?? from.remoteNodeId)}:${header.transactionId.toString(16)}`;
    const seen = this.answers.begin(key);
    if (seen !== 'new') {
      this.counters.duplicates++;
      // The same answer again (§6.2.1); it is routed afresh, the path may have changed.
      if (seen !== 'in_progress') for (const b of seen) this.sendAnswerBytes(b, from);
      return;
    }
    let answer: { code: number; body: Uint8Array; certificates?: readonly Uint8Array[] };
    try {
      answer = await this.dispatch(m, from, signer);
    } catch (e) {
      const err = e instanceof ReloadError ? e : new ReloadError(ErrorCode.Error_Invalid_Message, (e as Error).message);
      if (!(e instanceof ReloadError)) this.components.log.warn('handler failed', { error: (e as Error).message, code: m.contents.code });
      answer = { code: MessageCode.error, body: encodeBody('error', { errorCode: err.code, errorInfo: err.infoBytes }) };
      this.counters.errorsSent++;
    }
    if (this.closed) return;
    const sent = this.sendAnswer(header, from, answer.code, answer.body, answer.certificates);
    this.answers.complete(key, sent);
  }

  private async dispatch(m: DecodedMessage, from: Link, signer: NodeId[]): Promise<{ code: number; body: Uint8Array; certificates?: readonly Uint8Array[] }> {
    const { code } = m.contents;
    // §6.3.2.1: the destination checks the configuration sequence; ConfigUpdate always passes.
    if (code !== MessageCode.config_update_req && m.header.configurationSequence !== 0xffff && m.header.configurationSequence !== this.configurationSequence) {
      const older = ((m.header.configurationSequence - this.configurationSequence) & 0xffff) > 0x8000;
      throw new ReloadError(older ? ErrorCode.Error_Config_Too_Old : ErrorCode.Error_Config_Too_New);
    }
    const critical = m.contents.extensions.find((e) => e.critical);
    if (critical) throw new ReloadError(ErrorCode.Error_Unknown_Extension, `extension ${critical.type}`);
    const option = m.header.options.find((o) => (o.flags & ForwardingFlag.DESTINATION_CRITICAL) !== 0);
    if (option) throw new ReloadError(ErrorCode.Error_Unsupported_Forwarding_Option, `option ${option.type}`);
    const name = bodyNameOf(code);
    const handler = this.handlers.get(code);
    if (!name || !handler) throw new ReloadError(ErrorCode.Error_Invalid_Message, `no handler for message code 0x${code.toString(16)}`);
    let body: unknown;
    try {
      body = decodeBodyAs(name, m.contents.body, this.models);
    } catch (e) {
      if (e instanceof CodecError) throw new ReloadError(ErrorCode.Error_Invalid_Message, e.message);
      throw e;
    }
    const answer = await handler(body as never, { message: m, from, signer });
    return { code: MessageCode[answer.name], body: encodeBody(answer.name, answer.body as never, this.models), certificates: answer.certificates };
  }

  /**
   * Sends an answer: destination list = the via list with the previous hop appended,
   * reversed (§6.1.2, §6.2.2). Returns the bytes sent, for the duplicate cache.
   */
  private sendAnswer(request: ForwardingHeader, from: Link, code: number, body: Uint8Array, certificates?: readonly Uint8Array[]): Uint8Array[] {
    const destinations = [...request.viaList, { type: 'node', id: from.remoteNodeId } as Destination].reverse();
    const header: ForwardingHeader = {
      overlay: this.overlayId, configurationSequence: this.configurationSequence, ttl: this.initialTtl, fragment: FRAGMENT_UNFRAGMENTED,
      length: 0, transactionId: request.transactionId, maxResponseLength: 0, viaList: [], destinationList: destinations, options: [],
    };
    const contents = encode(MessageContents, { code, body, extensions: [] });
    const bytes = encodeMessageWithContents(header, contents, this.components.security.sign(this.overlayId, request.transactionId, contents, certificates));
    if (request.maxResponseLength > 0 && bytes.length > request.maxResponseLength && code !== MessageCode.error) {
      const err = encodeBody('error', { errorCode: ErrorCode.Error_Response_Too_Large, errorInfo: new Uint8Array(0) });
      return this.sendAnswer(request, from, MessageCode.error, err);
    }
    const parts = bytes.length > this.maxMessageSize ? this.fragments(bytes) : [bytes];
    for (const p of parts) this.sendAnswerBytes(p, from);
    return parts;
  }

  private sendAnswerBytes(bytes: Uint8Array, from: Link): void {
    // The first destination is the previous hop, directly connected; if that link is
    // gone the answer is routed like any message.
    if (!from.closed) this.transmit(from, bytes);
    else this.receive(bytes, undefined);
  }

  private answerError(request: ForwardingHeader, from: Link, errorCode: number, info: string): void {
    this.counters.errorsSent++;
    this.sendAnswer(request, from, MessageCode.error, encodeBody('error', { errorCode, errorInfo: new TextEncoder().encode(info) }));
  }

  private transmit(link: Link, bytes: Uint8Array): void {
    // §6.7: a message over max-message-size travels as fragments the destination joins.
    const parts = bytes.length > this.maxMessageSize ? this.fragments(bytes) : [bytes];
    for (const part of parts) {
      if (!link.send(part)) this.components.log.debug('link refused a message', { to: link.remoteNodeId });
    }
  }

  private fragments(bytes: Uint8Array): Uint8Array[] {
    const { header, cursor } = decodeHeaderOf(bytes, { maxMessageSize: bytes.length });
    return fragmentMessage(header, bytes.subarray(cursor.pos), this.maxMessageSize - cursor.pos);
  }

  /** The message with a new forwarding header and the same contents and security block. */
  private rewrite(h: ForwardingHeader, bytes: Uint8Array, old: ForwardingHeader, oldHeaderLength = forwardingHeaderLength(old)): Uint8Array {
    const rest = bytes.subarray(oldHeaderLength);
    const headerLength = forwardingHeaderLength(h);
    const c = Cursor.alloc(headerLength + rest.length);
    encodeForwardingHeader({ ...h, length: headerLength + rest.length }, c);
    c.bytes.set(rest, headerLength);
    return c.bytes;
  }
}

/** The message code, when this is an unfragmented message or the first fragment. */
function firstFragmentCode(bytes: Uint8Array, header: ForwardingHeader, headerLength: number): number | undefined {
  if ((header.fragment & 0x00ffffff) !== 0 || bytes.length < headerLength + 2) return undefined;
  return (bytes[headerLength] << 8) | bytes[headerLength + 1];
}
