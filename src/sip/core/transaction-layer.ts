// Matching messages to transactions (RFC 3261 §17.1.3, §17.2.3) and creating them: the layer
// between the transport and the transaction user (the UA core).
import type { Clock } from '../../util/clock.ts';
import type { Logger } from '../../util/log.ts';
import { SIP_MAX_TRANSACTIONS } from './constants.ts';
import type { SipMessage, SipRequest, SipResponse } from './message.ts';
import {
  type ClientTransaction, type ClientTransactionEvents, type ServerTransaction, type TransactionTimers,
  InviteClientTransaction, InviteServerTransaction, MAGIC_COOKIE, NonInviteClientTransaction, NonInviteServerTransaction,
  branchOf, newBranch, responseTo,
} from './transaction.ts';
import type { SipDestination, SipSource, SipTransport } from './transport.ts';
import { parseCSeq, parseVia } from './uri.ts';

export interface TransactionLayerInit {
  /** Most transactions alive at once. Default SIP_MAX_TRANSACTIONS. */
  maxTransactions?: number;
  /** T1, T2, T4 (§17.1.1.1); tests shorten them. */
  timers?: Partial<TransactionTimers>;
}

export interface TransactionLayerCounters {
  clientTransactions: number;
  serverTransactions: number;
  refused: number;
  strayResponses: number;
  timeouts: number;
}

export class TransactionLayer {
  /**
   * A request that starts a server transaction (tx set), an ACK for a 2xx (no transaction,
   * §17.2.3: it is matched by its dialog), or a CANCEL (tx is its own non-INVITE transaction).
   */
  onRequest: (request: SipRequest, tx: ServerTransaction | undefined, source: SipSource) => void = () => {};
  /** A response matching no client transaction, e.g. a 2xx retransmitted after Timer M (§17.1.3). */
  onStrayResponse: (response: SipResponse, source: SipSource) => void = () => {};
  readonly counters: TransactionLayerCounters = { clientTransactions: 0, serverTransactions: 0, refused: 0, strayResponses: 0, timeouts: 0 };
  private readonly clients = new Map<string, ClientTransaction>();
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly max: number;

  constructor(private readonly components: { clock: Clock; log: Logger; transport: SipTransport }, private readonly init: TransactionLayerInit = {}) {
    this.max = init.maxTransactions ?? SIP_MAX_TRANSACTIONS;
  }

  get size(): number {
    return this.clients.size + this.servers.size;
  }

  /**
   * Sends `request` in a new client transaction. The top Via is ours, with a fresh branch
   * unless the caller already put one (a CANCEL must reuse its INVITE's branch, §9.1).
   */
  request(request: SipRequest, to: SipDestination, events: ClientTransactionEvents, via?: { branch: string }): ClientTransaction {
    if (this.size >= this.max) {
      this.counters.refused++;
      throw new Error(`transaction table full (${this.max})`);
    }
    const transportName = 'flow' in to ? to.flow.transport : to.transport;
    if (!via || request.headers.get('Via') === undefined) request.headers.prepend('Via', this.components.transport.via(transportName, via?.branch ?? newBranch()));
    const reliable = transportName !== 'UDP';
    const components = { clock: this.components.clock, transport: this.components.transport };
    const key = clientKey(branchOf(request), request.method);
    const wrapped: ClientTransactionEvents = {
      onResponse: events.onResponse,
      onFailure: (reason, error) => { if (reason === 'timeout') this.counters.timeouts++; events.onFailure(reason, error); },
    };
    const tx = request.method === 'INVITE'
      ? new InviteClientTransaction(components, request, to, reliable, wrapped, this.init.timers)
      : new NonInviteClientTransaction(components, request, to, reliable, wrapped, this.init.timers);
    tx.onTerminated = () => { if (this.clients.get(key) === tx) this.clients.delete(key); };
    this.clients.set(key, tx);
    this.counters.clientTransactions++;
    tx.start();
    return tx;
  }

  /** An ACK for a 2xx, which is not a transaction (§17.1.1.3, §13.2.2.4): sent once per 2xx. */
  sendAck(ack: SipRequest, to: SipDestination): void {
    const transportName = 'flow' in to ? to.flow.transport : to.transport;
    if (!ack.headers.has('Via')) ack.headers.prepend('Via', this.components.transport.via(transportName, newBranch()));
    this.components.transport.send(ack, to).catch(() => {});
  }

  /** The INVITE server transaction a CANCEL names (§9.2: same branch and sent-by, method INVITE). */
  inviteFor(cancel: SipRequest): InviteServerTransaction | undefined {
    const tx = this.servers.get(serverKey(cancel, 'INVITE'));
    return tx instanceof InviteServerTransaction ? tx : undefined;
  }

  receive(message: SipMessage, source: SipSource): void {
    if (message.type === 'response') return this.receiveResponse(message, source);
    this.receiveRequest(message, source);
  }

  close(): void {
    for (const tx of [...this.clients.values(), ...this.servers.values()]) tx.terminate();
    this.clients.clear();
    this.servers.clear();
  }

  private receiveResponse(response: SipResponse, source: SipSource): void {
    // §17.1.3: the branch of the top Via and the CSeq method identify the client transaction.
    let method: string;
    try {
      method = parseCSeq(response.headers.get('CSeq') ?? '').method;
    } catch {
      return;
    }
    const tx = this.clients.get(clientKey(branchOf(response), method));
    if (!tx) {
      this.counters.strayResponses++;
      this.onStrayResponse(response, source);
      return;
    }
    tx.receive(response);
  }

  private receiveRequest(request: SipRequest, source: SipSource): void {
    // §17.2.3: an ACK matches the INVITE transaction it acknowledges (non-2xx ACKs share its branch).
    const existing = this.servers.get(serverKey(request, request.method === 'ACK' ? 'INVITE' : request.method));
    if (existing) {
      if (existing instanceof InviteServerTransaction) existing.receive(request);
      else existing.receive();
      return;
    }
    if (request.method === 'ACK') {
      this.onRequest(request, undefined, source);
      return;
    }
    const destination: SipDestination = source.flow ? { flow: source.flow } : { transport: source.transport, host: source.host, port: source.port };
    const components = { clock: this.components.clock, transport: this.components.transport };
    if (this.size >= this.max) {
      // §21.5.4: 503 tells the client to try later; stateless, so no transaction is kept.
      this.counters.refused++;
      const busy = responseTo(request, 503);
      busy.headers.add('Retry-After', '5');
      this.components.transport.send(busy, this.components.transport.responseDestination(busy, source)).catch(() => {});
      return;
    }
    // Responses follow the top Via (received/rport) for UDP, or the flow (§18.2.2).
    const responseTarget: SipDestination = source.flow ? destination : this.components.transport.responseDestination(responseTo(request, 100), source);
    const reliable = source.transport !== 'UDP';
    const tx: ServerTransaction = request.method === 'INVITE'
      ? new InviteServerTransaction(components, request, responseTarget, reliable, this.init.timers)
      : new NonInviteServerTransaction(components, request, responseTarget, reliable, this.init.timers);
    const key = serverKey(request, request.method);
    tx.onTerminated = () => { if (this.servers.get(key) === tx) this.servers.delete(key); };
    this.servers.set(key, tx);
    this.counters.serverTransactions++;
    this.onRequest(request, tx, source);
  }
}

function clientKey(branch: string, method: string): string {
  // A CANCEL shares its INVITE's branch (§9.1) but is its own transaction; an ACK is never one.
  return `${branch}\u0000${method === 'ACK' ? 'INVITE' : method}`;
}

function serverKey(request: SipRequest, method: string): string {
  const branch = branchOf(request);
  let sentBy = '';
  try {
    const via = parseVia(request.headers.get('Via') ?? '');
    sentBy = `${via.host}:${via.port ?? ''}`;
  } catch { /* a request without a readable Via still gets a key of its own */ }
  if (branch.startsWith(MAGIC_COOKIE)) return `${branch}\u0000${sentBy}\u0000${method}`;
  // §17.2.3: without the magic cookie, RFC 2543 matching: Request-URI, tags, Call-ID, CSeq number, top Via.
  const h = request.headers;
  const toTag = /;\s*tag=([^;]+)/i.exec(h.get('To') ?? '')?.[1] ?? '';
  const fromTag = /;\s*tag=([^;]+)/i.exec(h.get('From') ?? '')?.[1] ?? '';
  const seq = /^\s*(\d+)/.exec(h.get('CSeq') ?? '')?.[1] ?? '';
  return `2543\u0000${request.method === 'ACK' || method === 'INVITE' ? '' : request.uri}\u0000${method === 'INVITE' ? '' : toTag}\u0000${fromTag}\u0000${h.get('Call-ID') ?? ''}\u0000${seq}\u0000${h.get('Via') ?? ''}\u0000${method}`;
}
