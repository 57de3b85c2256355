// SIP transactions (RFC 3261 §17, with the INVITE "Accepted" state of RFC 6026 §7.1/§7.2):
// the four state machines, their timers, and retransmission over unreliable transports.
import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from '../../util/clock.ts';
import { SIP_T1_MS, SIP_T2_MS, SIP_T4_MS, SIP_TRYING_DELAY_MS } from './constants.ts';
import { REASON_PHRASES, type SipRequest, type SipResponse, SipHeaders } from './message.ts';
import { parseCSeq } from './uri.ts';
import type { SipDestination } from './transport.ts';

/** §8.1.1.7: every branch we generate starts with the magic cookie. */
export const MAGIC_COOKIE = 'z9hG4bK';

export function newBranch(): string {
  return MAGIC_COOKIE + randomBytes(8).toString('hex');
}

/** What a transaction needs from below: send one message (the transport keeps it reliable or not). */
export interface TransactionTransport {
  send(message: SipRequest | SipResponse, to: SipDestination): Promise<void>;
}

export interface TransactionComponents {
  clock: Clock;
  transport: TransactionTransport;
}

export interface TransactionTimers {
  t1Ms: number;
  t2Ms: number;
  t4Ms: number;
}

const DEFAULT_TIMERS: TransactionTimers = { t1Ms: SIP_T1_MS, t2Ms: SIP_T2_MS, t4Ms: SIP_T4_MS };

/** A response built from a request as §8.2.6.1 says: Via, From, To, Call-ID and CSeq copied. */
export function responseTo(request: SipRequest, status: number, reason?: string, toTag?: string): SipResponse {
  const headers = new SipHeaders();
  for (const v of request.headers.all('Via')) headers.add('Via', v);
  headers.add('From', request.headers.get('From') ?? '');
  let to = request.headers.get('To') ?? '';
  // §8.2.6.2: a To tag is added unless the request already had one; not on 100 Trying.
  if (toTag && status > 100 && !/;\s*tag=/i.test(to)) to += `;tag=${toTag}`;
  headers.add('To', to);
  headers.add('Call-ID', request.headers.get('Call-ID') ?? '');
  headers.add('CSeq', request.headers.get('CSeq') ?? '');
  // §8.2.6.1: a Timestamp in the request is copied into 100 Trying.
  const timestamp = request.headers.get('Timestamp');
  if (status === 100 && timestamp) headers.add('Timestamp', timestamp);
  return { type: 'response', status, reason: reason ?? REASON_PHRASES[status] ?? 'Unknown', headers, body: new Uint8Array(0) };
}

abstract class Transaction<S extends string> {
  state: S;
  /** Called once, on entering Terminated: the layer forgets the transaction. */
  onTerminated: () => void = () => {};
  protected readonly timers = new Map<string, TimerHandle>();
  protected readonly t: TransactionTimers;

  constructor(protected readonly components: TransactionComponents, initial: S, readonly branch: string,
    protected readonly destination: SipDestination, readonly reliable: boolean, timers?: Partial<TransactionTimers>) {
    this.state = initial;
    this.t = { ...DEFAULT_TIMERS, ...timers };
  }

  protected timer(name: string, ms: number, fire: () => void): void {
    this.clearTimer(name);
    this.timers.set(name, this.components.clock.setTimeout(() => { this.timers.delete(name); fire(); }, ms));
  }

  protected clearTimer(name: string): void {
    const h = this.timers.get(name);
    if (h) this.components.clock.clearTimeout(h);
    this.timers.delete(name);
  }

  protected transmit(message: SipRequest | SipResponse): void {
    this.components.transport.send(message, this.destination).catch((e: Error) => this.transportError(e));
  }

  /** §17.1.4 / §17.2.4: a transport failure ends the transaction and is reported to the TU. */
  protected abstract transportError(error: Error): void;

  /** Moves to `next`; Terminated releases every timer and tells the layer. */
  protected transition(next: S, allowed: readonly S[]): void {
    if (!allowed.includes(this.state)) throw new Error(`illegal transaction transition ${this.state} → ${next}`);
    this.state = next;
    if (next === 'terminated') {
      for (const h of this.timers.values()) this.components.clock.clearTimeout(h);
      this.timers.clear();
      this.onTerminated();
    }
  }

  /** Ends the transaction now (the layer closing). */
  abstract terminate(): void;
}

export type InviteClientState = 'calling' | 'proceeding' | 'accepted' | 'completed' | 'terminated';
export type NonInviteClientState = 'trying' | 'proceeding' | 'completed' | 'terminated';

export interface ClientTransactionEvents {
  /** Every response the TU should see (§17.1.1.2, §17.1.2.2). */
  onResponse: (response: SipResponse) => void;
  /** Timer B or F fired, or the transport failed (§17.1.1.2, §17.1.4): the TU treats it as 408/503. */
  onFailure: (reason: 'timeout' | 'transport', error?: Error) => void;
}

/** The INVITE client transaction (§17.1.1, Figure 5, with RFC 6026 Figure 5's Accepted state). */
export class InviteClientTransaction extends Transaction<InviteClientState> {
  private intervalA: number;

  constructor(components: TransactionComponents, readonly request: SipRequest, destination: SipDestination, reliable: boolean,
    private readonly events: ClientTransactionEvents, timers?: Partial<TransactionTimers>) {
    super(components, 'calling', branchOf(request), destination, reliable, timers);
    this.intervalA = this.t.t1Ms;
  }

  start(): void {
    this.transmit(this.request);
    // "If an unreliable transport is being used, the client transaction MUST start timer A with a value of T1."
    if (!this.reliable) this.timer('A', this.intervalA, () => this.fireA());
    // "For any transport, the client transaction MUST start timer B with a value of 64*T1 seconds."
    this.timer('B', 64 * this.t.t1Ms, () => {
      if (this.state !== 'calling') return;
      this.transition('terminated', ['calling']);
      this.events.onFailure('timeout');
    });
  }

  private fireA(): void {
    if (this.state !== 'calling') return;
    // "the client transaction MUST retransmit the request … and reset the timer with a value of 2*T1"
    this.transmit(this.request);
    this.intervalA *= 2;
    this.timer('A', this.intervalA, () => this.fireA());
  }

  receive(response: SipResponse): void {
    const s = response.status;
    if (s < 200) {
      if (this.state !== 'calling' && this.state !== 'proceeding') return;
      // "If the client transaction receives a provisional response while in the Calling state, it transitions to the Proceeding state."
      if (this.state === 'calling') {
        this.transition('proceeding', ['calling']);
        this.clearTimer('A');
      }
      this.events.onResponse(response);
      return;
    }
    if (s < 300) {
      // RFC 6026 §7.2: a 2xx moves Calling/Proceeding to Accepted; further 2xx (other forks,
      // retransmissions) are passed up for the TU to ACK. Timer M = 64*T1.
      if (this.state === 'calling' || this.state === 'proceeding') {
        this.transition('accepted', ['calling', 'proceeding']);
        this.clearTimer('A');
        this.clearTimer('B');
        this.timer('M', 64 * this.t.t1Ms, () => this.transition('terminated', ['accepted']));
      }
      if (this.state === 'accepted') this.events.onResponse(response);
      return;
    }
    if (this.state === 'calling' || this.state === 'proceeding') {
      // "When in either the Calling or Proceeding states, reception of a response with status code
      // from 300-699 MUST cause the client transaction to transition to Completed. The client
      // transaction MUST pass the received response up to the TU, and the client transaction
      // MUST generate an ACK request".
      this.transition('completed', ['calling', 'proceeding']);
      this.clearTimer('A');
      this.clearTimer('B');
      this.transmit(ackForFailure(this.request, response));
      this.events.onResponse(response);
      // "Timer D … at least 32 seconds for unreliable transports, and … zero seconds for reliable"
      this.timer('D', this.reliable ? 0 : 32_000, () => this.transition('terminated', ['completed']));
    } else if (this.state === 'completed') {
      // "Any retransmissions of the final response that are received while in the Completed state
      // MUST cause the ACK to be re-passed to the transport layer for retransmission".
      this.transmit(ackForFailure(this.request, response));
    }
  }

  protected transportError(error: Error): void {
    if (this.state === 'terminated') return;
    this.transition('terminated', ['calling', 'proceeding', 'accepted', 'completed']);
    this.events.onFailure('transport', error);
  }

  terminate(): void {
    if (this.state !== 'terminated') this.transition('terminated', ['calling', 'proceeding', 'accepted', 'completed']);
  }
}

/** The non-INVITE client transaction (§17.1.2, Figure 6). */
export class NonInviteClientTransaction extends Transaction<NonInviteClientState> {
  private intervalE: number;

  constructor(components: TransactionComponents, readonly request: SipRequest, destination: SipDestination, reliable: boolean,
    private readonly events: ClientTransactionEvents, timers?: Partial<TransactionTimers>) {
    super(components, 'trying', branchOf(request), destination, reliable, timers);
    this.intervalE = this.t.t1Ms;
  }

  start(): void {
    this.transmit(this.request);
    // "If an unreliable transport is in use, the client transaction MUST set timer E to fire in T1 seconds."
    if (!this.reliable) this.timer('E', this.intervalE, () => this.fireE());
    // "the client transaction MUST set timer F to fire in 64*T1 seconds"
    this.timer('F', 64 * this.t.t1Ms, () => {
      if (this.state !== 'trying' && this.state !== 'proceeding') return;
      this.transition('terminated', ['trying', 'proceeding']);
      this.events.onFailure('timeout');
    });
  }

  private fireE(): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.transmit(this.request);
    // Trying: "reset with a value of MIN(2*T1, T2)", doubling; Proceeding: "reset with a value of T2".
    this.intervalE = this.state === 'trying' ? Math.min(2 * this.intervalE, this.t.t2Ms) : this.t.t2Ms;
    this.timer('E', this.intervalE, () => this.fireE());
  }

  receive(response: SipResponse): void {
    if (this.state === 'completed' || this.state === 'terminated') return;
    if (response.status < 200) {
      if (this.state === 'trying') this.transition('proceeding', ['trying']);
      this.events.onResponse(response);
      return;
    }
    this.transition('completed', ['trying', 'proceeding']);
    this.clearTimer('E');
    this.clearTimer('F');
    this.events.onResponse(response);
    // "Timer K … T4 seconds for unreliable transports, and zero seconds for reliable transports."
    this.timer('K', this.reliable ? 0 : this.t.t4Ms, () => this.transition('terminated', ['completed']));
  }

  protected transportError(error: Error): void {
    if (this.state === 'terminated' || this.state === 'completed') return;
    this.transition('terminated', ['trying', 'proceeding']);
    this.events.onFailure('transport', error);
  }

  terminate(): void {
    if (this.state !== 'terminated') this.transition('terminated', ['trying', 'proceeding', 'completed']);
  }
}

export type InviteServerState = 'proceeding' | 'accepted' | 'completed' | 'confirmed' | 'terminated';
export type NonInviteServerState = 'trying' | 'proceeding' | 'completed' | 'terminated';

/** The INVITE server transaction (§17.2.1, Figure 7, with RFC 6026 Figure 7's Accepted state). */
export class InviteServerTransaction extends Transaction<InviteServerState> {
  /** Timer H fired with no ACK for our failure response, or the transport failed. */
  onFailure: (reason: 'no-ack' | 'transport' | 'no-2xx-ack') => void = () => {};
  private lastResponse: SipResponse | undefined;
  private intervalG: number;

  constructor(components: TransactionComponents, readonly request: SipRequest, destination: SipDestination, reliable: boolean,
    timers?: Partial<TransactionTimers>, private readonly tryingDelayMs = SIP_TRYING_DELAY_MS) {
    super(components, 'proceeding', branchOf(request), destination, reliable, timers);
    this.intervalG = this.t.t1Ms;
    // "the server transaction MUST generate a 100 (Trying) response unless it knows that the TU
    // will generate a provisional or final response within 200 ms".
    this.timer('trying', this.tryingDelayMs, () => {
      if (this.state === 'proceeding' && !this.lastResponse) this.respond(responseTo(this.request, 100));
    });
  }

  /** The TU's response: provisional stays Proceeding, 2xx goes to Accepted, 3xx–6xx to Completed. */
  respond(response: SipResponse): void {
    if (this.state !== 'proceeding') return;
    this.clearTimer('trying');
    this.lastResponse = response;
    this.transmit(response);
    const s = response.status;
    if (s < 200) return;
    if (s < 300) {
      // RFC 6026 §7.1: Accepted absorbs INVITE retransmissions; Timer L = 64*T1. The 2xx is
      // retransmitted until the TU says the ACK arrived (§13.3.1.4: T1 doubling up to T2).
      this.transition('accepted', ['proceeding']);
      this.timer('L', 64 * this.t.t1Ms, () => {
        const unacked = this.timers.has('2xx');
        this.transition('terminated', ['accepted']);
        if (unacked) this.onFailure('no-2xx-ack');
      });
      // Over a reliable transport the 2xx is still retransmitted (§13.3.1.4 applies to every
      // transport), but a lost ACK on TCP is rare; we keep the schedule anyway.
      let interval = this.t.t1Ms;
      const again = (): void => {
        if (this.state !== 'accepted') return;
        this.transmit(response);
        interval = Math.min(2 * interval, this.t.t2Ms);
        this.timer('2xx', interval, again);
      };
      this.timer('2xx', interval, again);
      return;
    }
    this.transition('completed', ['proceeding']);
    // "For unreliable transports, timer G is set to fire in T1 seconds"; "timer H MUST be set to fire in 64*T1 seconds".
    if (!this.reliable) this.timer('G', this.intervalG, () => this.fireG());
    this.timer('H', 64 * this.t.t1Ms, () => {
      if (this.state !== 'completed') return;
      this.transition('terminated', ['completed']);
      this.onFailure('no-ack');
    });
  }

  private fireG(): void {
    if (this.state !== 'completed' || !this.lastResponse) return;
    this.transmit(this.lastResponse);
    this.intervalG = Math.min(2 * this.intervalG, this.t.t2Ms);
    this.timer('G', this.intervalG, () => this.fireG());
  }

  /** The ACK for our 2xx arrived (matched by its dialog, §13.3.1.4): stop retransmitting. */
  acknowledged(): void {
    this.clearTimer('2xx');
  }

  /** A retransmitted INVITE or an ACK matched this transaction by branch (§17.2.3). */
  receive(request: SipRequest): void {
    if (request.method === 'ACK') {
      // "If an ACK is received while the server transaction is in the Completed state, the server
      // transaction MUST transition to the Confirmed state"; Timer I = T4 (unreliable) or 0.
      if (this.state === 'completed') {
        this.transition('confirmed', ['completed']);
        this.clearTimer('G');
        this.clearTimer('H');
        this.timer('I', this.reliable ? 0 : this.t.t4Ms, () => this.transition('terminated', ['confirmed']));
      }
      return;
    }
    // "If a request retransmission is received while in the Proceeding state, the most recent
    // provisional response … MUST be passed to the transport layer for retransmission."
    // Completed: "the server MUST pass the response to the transport for retransmission".
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) this.transmit(this.lastResponse);
  }

  protected transportError(): void {
    if (this.state === 'terminated') return;
    this.transition('terminated', ['proceeding', 'accepted', 'completed', 'confirmed']);
    this.onFailure('transport');
  }

  terminate(): void {
    if (this.state !== 'terminated') this.transition('terminated', ['proceeding', 'accepted', 'completed', 'confirmed']);
  }
}

/** The non-INVITE server transaction (§17.2.2, Figure 8). */
export class NonInviteServerTransaction extends Transaction<NonInviteServerState> {
  private lastResponse: SipResponse | undefined;

  constructor(components: TransactionComponents, readonly request: SipRequest, destination: SipDestination, reliable: boolean, timers?: Partial<TransactionTimers>) {
    super(components, 'trying', branchOf(request), destination, reliable, timers);
    // A TU that never answers must not keep the transaction forever: 64*T1, as Timer F bounds the client.
    this.timer('guard', 64 * this.t.t1Ms, () => this.terminate());
  }

  respond(response: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.lastResponse = response;
    this.transmit(response);
    if (response.status < 200) {
      if (this.state === 'trying') this.transition('proceeding', ['trying']);
      return;
    }
    this.clearTimer('guard');
    this.transition('completed', ['trying', 'proceeding']);
    // "Timer J … 64*T1 seconds for unreliable transports, and zero seconds for reliable transports."
    this.timer('J', this.reliable ? 0 : 64 * this.t.t1Ms, () => this.transition('terminated', ['completed']));
  }

  /** A retransmission of the request (§17.2.2): the last response goes out again. */
  receive(): void {
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse) this.transmit(this.lastResponse);
  }

  protected transportError(): void {
    if (this.state !== 'terminated') this.terminate();
  }

  terminate(): void {
    if (this.state !== 'terminated') this.transition('terminated', ['trying', 'proceeding', 'completed']);
  }
}

export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;
export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;

/** The branch parameter of the top Via. */
export function branchOf(message: SipRequest | SipResponse): string {
  const via = message.headers.get('Via') ?? '';
  const m = /;\s*branch\s*=\s*([^;,\s]+)/i.exec(via);
  return m ? m[1] : '';
}

/**
 * §17.1.1.3: the ACK for a non-2xx final response: same Request-URI, Call-ID, From, top Via
 * and Route as the INVITE, the response's To (with its tag), CSeq number with method ACK.
 */
export function ackForFailure(invite: SipRequest, response: SipResponse): SipRequest {
  const headers = new SipHeaders();
  const via = invite.headers.get('Via');
  if (via) headers.add('Via', via);
  for (const r of invite.headers.all('Route')) headers.add('Route', r);
  headers.add('Max-Forwards', '70');
  headers.add('From', invite.headers.get('From') ?? '');
  headers.add('To', response.headers.get('To') ?? '');
  headers.add('Call-ID', invite.headers.get('Call-ID') ?? '');
  headers.add('CSeq', `${parseCSeq(invite.headers.get('CSeq') ?? '0 INVITE').seq} ACK`);
  return { type: 'request', method: 'ACK', uri: invite.uri, headers, body: new Uint8Array(0) };
}
