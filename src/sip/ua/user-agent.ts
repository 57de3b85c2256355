// The user agent core (RFC 3261 §8, §13–§15), the transaction user of the SIP core: it owns
// the calls and their dialogs, rings for incoming INVITEs, answers, hangs up, carries DTMF as
// RFC 4733 events or SIP INFO, and registers with a conventional registrar. Placing a call
// (forking to every registered device) is outgoing-calls.ts.
import type { Clock } from '../../util/clock.ts';
import type { Logger } from '../../util/log.ts';
import { Dialog, dialogId, newCallId, newTag, tagOf } from '../core/dialog.ts';
import { type SipRequest, type SipResponse, SipHeaders } from '../core/message.ts';
import { type ServerTransaction, InviteServerTransaction, responseTo } from '../core/transaction.ts';
import type { TransactionLayer } from '../core/transaction-layer.ts';
import { type SipDestination, type SipSource, type SipTransport, type SipTransportName, destinationOfUri } from '../core/transport.ts';
import { parseCSeq } from '../core/uri.ts';
import { SIP_UA_CALL_HISTORY, SIP_UA_MAX_CALLS, SIP_UA_NO_ANSWER_MS, SIP_UA_RING_TIMEOUT_MS, SIP_UA_USER_AGENT } from './constants.ts';
import { type EndReason, Call } from './call.ts';
import { formatDtmfInfo, parseDtmfInfo } from '../media/dtmf-info.ts';
import { type MediaFactory, MediaRefused } from './media-leg.ts';
import { ALLOWED_METHODS, type CallEvent, type CallHost, type Locator, toSipUri } from './call-host.ts';
import { OutgoingCalls } from './outgoing-calls.ts';

export type { CallEvent } from './call-host.ts';

export { ALLOWED_METHODS, type Locator, toSipUri } from './call-host.ts';

export interface UserAgentComponents {
  clock: Clock;
  log: Logger;
  transport: SipTransport;
  transactions: TransactionLayer;
  locator: Locator;
  media: MediaFactory;
}

export interface UserAgentInit {
  /** Our identity in From headers: an AOR `user@domain` (no scheme). Default `p2psip@<host>`. */
  aor?: string;
  /** Outgoing calls with no answer are cancelled after this. Default SIP_UA_NO_ANSWER_MS. */
  noAnswerMs?: number;
  /** An incoming call nobody answers gets 480 after this. Default SIP_UA_RING_TIMEOUT_MS. */
  ringTimeoutMs?: number;
  /** Answer incoming calls by themselves after this many ms (an unattended test peer). Default off. */
  autoAnswerMs?: number;
  /** Calls in progress at once; one more gets 486 Busy Here. Default SIP_UA_MAX_CALLS. */
  maxCalls?: number;
}


export class UserAgent implements CallHost {
  /** Every state change of every call, for logs, MQTT and the door logic. */
  onCallEvent: (call: Call, event: CallEvent, detail?: string) => void = () => {};
  readonly counters = { callsPlaced: 0, callsReceived: 0, busyRefused: 0, requestsRefused: 0 };
  private readonly calls: Call[] = [];
  readonly dialogs = new Map<string, Call>();
  private readonly outgoing: OutgoingCalls;
  private nextId = 1;
  private registerSeq = 0;
  private closed = false;

  constructor(private readonly components: UserAgentComponents, private readonly init: UserAgentInit = {}) {
    this.outgoing = new OutgoingCalls(components, this, init.noAnswerMs ?? SIP_UA_NO_ANSWER_MS);
    components.transactions.onRequest = (request, tx, source) => this.receive(request, tx, source);
    components.transactions.onStrayResponse = (response) => this.outgoing.strayResponse(response);
  }

  get aor(): string {
    return this.init.aor ?? `p2psip@${this.components.transport.advertisedHost}`;
  }

  /** Our own address, for Contact headers of calls that do not go through the overlay. */
  contactFor(transport: SipTransportName): string {
    const user = this.aor.split('@')[0];
    const t = this.components.transport;
    // A TLS flow only exists as an AppAttach connection, whose calls carry our GRUU instead.
    return `<sip:${user}@${t.advertisedHost}:${t.port}${transport === 'UDP' ? '' : ';transport=tcp'}>`;
  }

  all(): Call[] {
    return this.calls;
  }

  find(id?: string): Call | undefined {
    if (id) return this.calls.find((c) => c.id === id);
    return [...this.calls].reverse().find((c) => !c.ended);
  }

  status(): object {
    return {
      aor: this.aor,
      listen: `${this.components.transport.advertisedHost}:${this.components.transport.port}`,
      calls: this.calls.map((c) => c.status()),
      counters: { ...this.counters, transport: this.components.transport.counters, transactions: { alive: this.components.transactions.size, ...this.components.transactions.counters } },
    };
  }

  // ---- outgoing calls (§13.2) ----

  /** Calls `target`: an AOR is looked up and every device it names rings in parallel. */
  call(target: string): Call {
    if (this.closed) throw new Error('user agent closed');
    if (this.inProgress() >= (this.init.maxCalls ?? SIP_UA_MAX_CALLS)) throw new Error('too many calls in progress');
    const call = this.track(new Call(`c${this.nextId++}`, 'outgoing', target, this.components.clock.now(), () => this.components.clock.now(), 'resolving'));
    this.counters.callsPlaced++;
    void this.outgoing.place(call, target).catch((e: Error) => {
      this.components.log.warn('call failed', { call: call.id, target, error: e.message });
      call.note(`failed: ${e.message}`);
      this.end(call, /not found|no registration|unknown/i.test(e.message) ? 'not-found' : 'failed');
    });
    return call;
  }

  /**
   * Registers our AOR with a conventional registrar (§10.2), e.g. a PBX next to the overlay:
   * To and From are our AOR, Contact our address, Expires the wanted lifetime (0 removes it).
   * Resolves with the final status and the expiry the registrar granted.
   */
  register(registrar: string, expiresS = 3600): Promise<{ status: number; reason: string; expiresS: number | undefined }> {
    const uri = toSipUri(registrar);
    const destination = destinationOfUri(uri);
    if (!destination) throw new Error(`registrar must be a sip: URI with a host, got "${registrar}"`);
    const headers = new SipHeaders();
    const aor = `<sip:${this.aor}>`;
    headers.add('Max-Forwards', '70');
    headers.add('From', `${aor};tag=${newTag()}`);
    headers.add('To', aor);
    headers.add('Call-ID', newCallId(this.components.transport.advertisedHost));
    headers.add('CSeq', `${++this.registerSeq} REGISTER`);
    headers.add('Contact', this.contactFor(destination.transport));
    headers.add('Expires', String(expiresS));
    headers.add('User-Agent', SIP_UA_USER_AGENT);
    // §10.2: the Request-URI of a REGISTER names the registrar's domain, without a user part.
    const request: SipRequest = { type: 'request', method: 'REGISTER', uri, headers, body: new Uint8Array(0) };
    return new Promise((resolve, reject) => {
      this.components.transactions.request(request, destination, {
        onResponse: (r) => {
          if (r.status < 200) return;
          // §10.2.4: the registrar states the granted expiry in the Contact's expires or in Expires.
          const granted = /;\s*expires\s*=\s*(\d+)/i.exec(r.headers.get('Contact') ?? '')?.[1] ?? r.headers.get('Expires');
          resolve({ status: r.status, reason: r.reason, expiresS: granted === undefined ? undefined : Number(granted) });
        },
        onFailure: (reason, error) => reject(new Error(`REGISTER ${reason}${error ? `: ${error.message}` : ''}`)),
      });
    });
  }

  // ---- incoming requests (§8.2, §12.2.2, §13.3) ----

  private receive(request: SipRequest, tx: ServerTransaction | undefined, source: SipSource): void {
    if (this.closed) return;
    if (request.method === 'ACK') return this.ack(request);
    if (!tx) return;
    // §8.2.2.3: a Require we do not support is refused with 420 and an Unsupported list.
    const required = request.headers.all('Require').flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
    if (required.length > 0 && request.method !== 'CANCEL') {
      const r = responseTo(request, 420);
      r.headers.add('Unsupported', required.join(', '));
      return this.respond(tx, r);
    }
    const toTag = tagOf(request.headers.get('To'));
    if (toTag && request.method !== 'CANCEL') return this.inDialog(request, tx, toTag, source);
    switch (request.method) {
      case 'INVITE': return void this.incoming(request, tx as InviteServerTransaction, source);
      case 'CANCEL': return this.cancelled(request, tx);
      case 'OPTIONS': return this.options(request, tx);
      case 'BYE':
      case 'INFO':
        // §15.1.2: a BYE (or INFO) outside any dialog is answered 481.
        return this.respond(tx, responseTo(request, 481));
      case 'REGISTER':
        // The overlay is the registrar (RFC 7904); this UA is not one.
        return this.respond(tx, this.withAllow(responseTo(request, 405)));
      default:
        this.counters.requestsRefused++;
        // §8.2.1: an unknown method gets 501, a known one we do not do 405.
        return this.respond(tx, this.withAllow(responseTo(request, ['PRACK', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'PUBLISH'].includes(request.method) ? 405 : 501)));
    }
  }

  private async incoming(request: SipRequest, tx: InviteServerTransaction, source: SipSource): Promise<void> {
    this.counters.callsReceived++;
    if (this.inProgress() >= (this.init.maxCalls ?? SIP_UA_MAX_CALLS)) {
      this.counters.busyRefused++;
      return this.respond(tx, responseTo(request, 486, undefined, newTag()));
    }
    const from = request.headers.get('From') ?? '';
    const call = this.track(new Call(`c${this.nextId++}`, 'incoming', uriText(from), this.components.clock.now(), () => this.components.clock.now(), 'ringing'));
    call.invite = request;
    call.serverTx = tx;
    const dialog = Dialog.asUas(request, newTag(), 'early');
    call.dialog = dialog;
    call.destination = source.flow ? { flow: source.flow } : this.inDialogDestination(dialog, { transport: source.transport, host: source.host, port: source.port });
    this.dialogs.set(dialog.id, call);
    tx.onFailure = (reason) => {
      if (reason === 'no-2xx-ack' && call.state === 'active') {
        // §13.3.1.4: "If the server retransmits the 2xx response for 64*T1 seconds without receiving an ACK, … the session SHOULD be terminated" with a BYE.
        call.note('no ACK for our 200 OK');
        this.sendBye(call);
        this.end(call, 'timeout');
      } else if (reason === 'transport' && !call.ended) this.end(call, 'failed');
    };
    const offer = Buffer.from(request.body).toString('utf8');
    // §13.3.1: an INVITE without an offer would need ours in the 2xx; we require the offer.
    const refusal = offer.trim() === '' ? 'INVITE without an SDP offer' : this.components.media.refusal?.(offer);
    if (refusal) {
      call.note(`488: ${refusal}`);
      this.respond(tx, responseTo(request, 488, undefined, dialog.localTag));
      this.end(call, 'failed');
      return;
    }
    // Ring first: the RTP sockets open while the phone rings, not before (call setup time).
    const ringing = this.withRecordRoute(request, responseTo(request, 180, undefined, dialog.localTag));
    ringing.headers.add('Contact', this.contactFor(source.transport));
    this.respond(tx, ringing);
    call.note('180 Ringing sent');
    this.onCallEvent(call, 'incoming', call.remote);
    this.timer(call, this.init.ringTimeoutMs ?? SIP_UA_RING_TIMEOUT_MS, () => {
      if (call.state !== 'ringing') return;
      call.note('nobody answered: 480');
      this.respond(tx, responseTo(request, 480, undefined, dialog.localTag));
      this.end(call, 'no-answer');
    });
    try {
      const media = await this.components.media();
      if (call.ended) { media.close(); return; }
      call.media = media;
      media.onDtmf = (digit) => this.dtmfReceived(call, digit, 'rfc4733');
      call.answerSdp = media.answer(offer);
      if (call.answerWhenReady) this.answer(call.id);
    } catch (e) {
      const refused = e instanceof MediaRefused;
      call.note(`${refused ? 488 : 500}: ${(e as Error).message}`);
      if (!call.ended) this.respond(tx, responseTo(request, refused ? 488 : 500, undefined, dialog.localTag));
      this.end(call, 'failed');
      return;
    }
    if (this.init.autoAnswerMs !== undefined) this.timer(call, this.init.autoAnswerMs, () => { if (call.state === 'ringing') this.answer(call.id); });
  }

  /** Answers a ringing incoming call with 200 OK and our SDP answer (§13.3.1.4). */
  answer(id?: string): Call {
    const call = id ? this.find(id) : [...this.calls].reverse().find((c) => c.direction === 'incoming' && c.state === 'ringing');
    if (!call || call.direction !== 'incoming' || call.state !== 'ringing') throw new Error(id ? `call ${id} is not ringing here` : 'no call is ringing');
    if (call.answerSdp === undefined) {
      call.answerWhenReady = true;
      call.note('answered; 200 OK once media is ready');
      return call;
    }
    const tx = call.serverTx!;
    const ok = this.withRecordRoute(call.invite!, responseTo(call.invite!, 200, undefined, call.dialog!.localTag));
    const overFlow = call.destination && 'flow' in call.destination;
    ok.headers.add('Contact', this.contactFor(overFlow ? 'TCP' : 'UDP'));
    ok.headers.add('Allow', ALLOWED_METHODS);
    ok.headers.add('User-Agent', SIP_UA_USER_AGENT);
    ok.headers.add('Content-Type', 'application/sdp');
    ok.body = Buffer.from(call.answerSdp!);
    this.respond(tx, ok);
    call.dialog!.state = 'confirmed';
    call.state = 'active';
    call.answeredAtMs = this.components.clock.now();
    call.media!.start();
    call.note('answered: 200 OK sent');
    this.onCallEvent(call, 'answered');
    return call;
  }

  /** Hangs up: CANCEL while calling, 603 Decline while ringing here, BYE once active. */
  hangup(id?: string): Call {
    const call = this.find(id);
    if (!call || call.ended) throw new Error(id ? `no call ${id} in progress` : 'no call in progress');
    if (call.direction === 'outgoing' && (call.state === 'resolving' || call.state === 'calling' || call.state === 'ringing')) {
      call.note('hung up before an answer: CANCEL');
      this.outgoing.cancelForks(call);
      this.end(call, 'cancelled');
    } else if (call.direction === 'incoming' && call.state === 'ringing') {
      call.note('declined: 603');
      this.respond(call.serverTx!, responseTo(call.invite!, 603, undefined, call.dialog!.localTag));
      this.end(call, 'declined');
    } else {
      call.note('hung up: BYE');
      this.sendBye(call);
      this.end(call, 'hangup-local');
    }
    return call;
  }

  /**
   * Sends DTMF on an active call: RFC 4733 events when telephone-event was negotiated and
   * `mode` is not `info`, else one SIP INFO (application/dtmf-relay) per digit, in order.
   */
  dtmf(digits: string, opts: { id?: string; mode?: 'auto' | 'rfc4733' | 'info' } = {}): Call {
    if (!/^[0-9*#A-Da-d]+$/.test(digits)) throw new Error('DTMF digits are 0-9, *, #, A-D');
    const call = this.find(opts.id);
    if (!call || call.state !== 'active') throw new Error('no active call');
    const mode = opts.mode ?? 'auto';
    if (mode !== 'info' && call.media?.canSendEvents) {
      if (!call.media.sendDtmf(digits.toUpperCase())) throw new Error('DTMF queue full');
      call.note(`DTMF ${digits} sent as RFC 4733 events`);
    } else {
      if (mode === 'rfc4733') throw new Error('the peer did not accept telephone-event');
      void this.sendInfoDigits(call, digits.toUpperCase());
      call.note(`DTMF ${digits} sent as SIP INFO`);
    }
    call.dtmfSent += digits.toUpperCase();
    return call;
  }

  private async sendInfoDigits(call: Call, digits: string): Promise<void> {
    for (const digit of digits) {
      if (call.state !== 'active') return;
      const body = formatDtmfInfo({ digit });
      const info = call.dialog!.request('INFO', { type: body.contentType, bytes: Buffer.from(body.body) });
      await new Promise<void>((resolve) => {
        try {
          this.components.transactions.request(info, call.destination!, { onResponse: (r) => { if (r.status >= 200) resolve(); }, onFailure: () => resolve() });
        } catch { resolve(); }
      });
    }
  }

  private inDialog(request: SipRequest, tx: ServerTransaction, toTag: string, source: SipSource): void {
    const call = this.dialogs.get(dialogId(request.headers.get('Call-ID') ?? '', toTag, tagOf(request.headers.get('From')) ?? ''));
    if (!call || !call.dialog) return this.respond(tx, responseTo(request, 481));
    let seq: number;
    try {
      seq = parseCSeq(request.headers.get('CSeq') ?? '').seq;
    } catch {
      return this.respond(tx, responseTo(request, 400));
    }
    // §12.2.2: "If the remote sequence number … is lower than or equal to … it MUST respond with 500".
    if (!call.dialog.acceptsRemoteSeq(seq, request.method)) return this.respond(tx, responseTo(request, 500, 'Out of Order'));
    if (source.flow && !call.destination) call.destination = { flow: source.flow };
    switch (request.method) {
      case 'BYE':
        this.respond(tx, responseTo(request, 200));
        call.note('BYE received');
        if (!call.ended) this.end(call, 'hangup-remote');
        return;
      case 'INFO': {
        const type = (request.headers.get('Content-Type') ?? '').split(';')[0].trim().toLowerCase();
        const digit = parseDtmfInfo(type, Buffer.from(request.body).toString('utf8'))?.digit;
        if (digit === undefined && request.body.length > 0) {
          // RFC 6086 §4.2.2: an INFO package body we do not understand is refused with 415.
          const r = responseTo(request, 415);
          r.headers.add('Accept', 'application/dtmf-relay, application/dtmf');
          return this.respond(tx, r);
        }
        this.respond(tx, responseTo(request, 200));
        if (digit !== undefined) this.dtmfReceived(call, digit, 'info');
        return;
      }
      case 'INVITE': {
        // A re-INVITE (§14.2): we keep the session as negotiated and answer with our SDP again.
        if (call.state !== 'active' || !call.media) return this.respond(tx, responseTo(request, 491));
        const ok = responseTo(request, 200);
        ok.headers.add('Contact', this.contactFor(source.transport));
        ok.headers.add('Content-Type', 'application/sdp');
        try {
          ok.body = Buffer.from(call.media.answer(Buffer.from(request.body).toString('utf8')));
        } catch {
          return this.respond(tx, responseTo(request, 488));
        }
        // §13.3.1.4: this 2xx is retransmitted until its ACK arrives; the ACK is matched to the
        // call's latest INVITE transaction, so that is now this one.
        call.serverTx = tx as InviteServerTransaction;
        return this.respond(tx, ok);
      }
      case 'OPTIONS':
        return this.options(request, tx);
      default:
        return this.respond(tx, this.withAllow(responseTo(request, 405)));
    }
  }

  private ack(request: SipRequest): void {
    const call = this.dialogs.get(dialogId(request.headers.get('Call-ID') ?? '', tagOf(request.headers.get('To')) ?? '', tagOf(request.headers.get('From')) ?? ''));
    if (!call || !call.serverTx) return;
    // §17.1.1.3: an ACK carries the CSeq number of the INVITE it acknowledges; a late copy of an
    // earlier one must not stop a re-INVITE's 2xx.
    if (parseCSeq(request.headers.get('CSeq') ?? '').seq !== parseCSeq(call.serverTx.request.headers.get('CSeq') ?? '').seq) return;
    call.serverTx.acknowledged();
    if (call.state === 'active') call.note('ACK received');
  }

  private cancelled(request: SipRequest, tx: ServerTransaction): void {
    const invite = this.components.transactions.inviteFor(request);
    const call = invite && this.calls.find((c) => c.serverTx === invite);
    // §9.2: "If the UAS did not find a matching transaction for the CANCEL …, it SHOULD respond … 481".
    if (!invite || !call) return this.respond(tx, responseTo(request, 481));
    // §9.2: the 200 to the CANCEL and the response to the INVITE SHOULD carry the same To tag.
    this.respond(tx, responseTo(request, 200, undefined, call.dialog?.localTag));
    if (call.state === 'ringing') {
      // "the UAS … SHOULD respond to the INVITE with a 487 (Request Terminated)".
      this.respond(invite, responseTo(call.invite!, 487, undefined, call.dialog!.localTag));
      // RFC 3326: a Reason with cause 200 means another device took the call.
      const elsewhere = request.headers.all('Reason').some((r) => /^\s*SIP\s*;(?:.*;)?\s*cause\s*=\s*200\b/i.test(r));
      call.note(`CANCEL received${elsewhere ? ' (answered elsewhere)' : ''}: 487`);
      this.end(call, elsewhere ? 'answered-elsewhere' : 'cancelled');
    }
  }

  private options(request: SipRequest, tx: ServerTransaction): void {
    // §11.2: OPTIONS is answered as an INVITE would be, with what we support.
    const busy = this.inProgress() >= (this.init.maxCalls ?? SIP_UA_MAX_CALLS);
    const r = this.withAllow(responseTo(request, busy ? 486 : 200));
    r.headers.add('Accept', 'application/sdp, application/dtmf-relay, application/dtmf');
    r.headers.add('User-Agent', SIP_UA_USER_AGENT);
    this.respond(tx, r);
  }

  emit(call: Call, event: CallEvent, detail?: string): void {
    this.onCallEvent(call, event, detail);
  }

  dtmfReceived(call: Call, digit: string, how: 'rfc4733' | 'info'): void {
    call.dtmfReceived += digit;
    call.note(`DTMF ${digit} received (${how === 'info' ? 'SIP INFO' : 'RFC 4733'})`);
    this.onCallEvent(call, 'dtmf', digit);
  }

  sendBye(call: Call): void {
    if (!call.dialog || !call.destination) return;
    const bye = call.dialog.request('BYE');
    try {
      this.components.transactions.request(bye, call.destination, {
        onResponse: (r) => { if (r.status >= 200) call.note(`${r.status} ${r.reason} to BYE`); },
        onFailure: (reason) => call.note(`BYE ${reason}`),
      });
    } catch (e) {
      call.note(`BYE not sent: ${(e as Error).message}`);
    }
  }

  end(call: Call, reason: EndReason): void {
    if (call.ended) return;
    call.state = 'ended';
    call.endReason = reason;
    call.endedAtMs = this.components.clock.now();
    for (const t of call.timers) this.components.clock.clearTimeout(t);
    call.timers.clear();
    call.media?.close();
    call.note(`ended: ${reason}`);
    if (call.dialog) {
      call.dialog.state = 'terminated';
      // The dialog stays findable for a while so late ACKs and BYE retransmissions match it.
      const id = call.dialog.id;
      const h = this.components.clock.setTimeout(() => { if (this.dialogs.get(id) === call) this.dialogs.delete(id); }, 32_000);
      void h;
    }
    this.components.log.info('call ended', { call: call.id, reason, remote: call.remote });
    this.onCallEvent(call, 'ended', reason);
  }

  private respond(tx: ServerTransaction, response: SipResponse): void {
    // §8.2.6.2: "the UAS MUST add a tag to the To header field in the response (with the
    // exception of the 100 (Trying) response". Dialog responses carry the dialog's tag already;
    // a response that makes no dialog (OPTIONS, 481, 420 …) gets a fresh one.
    const to = response.headers.get('To');
    if (response.status > 100 && to !== undefined && !/;\s*tag=/i.test(to)) response.headers.set('To', `${to};tag=${newTag()}`);
    if (tx instanceof InviteServerTransaction) tx.respond(response);
    else tx.respond(response);
  }

  /** §12.1.1: "The UAS MUST copy all Record-Route header field values from the request into the response". */
  private withRecordRoute(request: SipRequest, response: SipResponse): SipResponse {
    for (const rr of request.headers.all('Record-Route')) response.headers.add('Record-Route', rr);
    return response;
  }

  private withAllow(response: SipResponse): SipResponse {
    response.headers.add('Allow', ALLOWED_METHODS);
    return response;
  }

  timer(call: Call, ms: number, fire: () => void): void {
    const h = this.components.clock.setTimeout(() => { call.timers.delete(h); fire(); }, ms);
    call.timers.add(h);
  }

  private inProgress(): number {
    return this.calls.filter((c) => !c.ended).length;
  }

  private track(call: Call): Call {
    this.calls.push(call);
    // Keep a short history of ended calls for status; drop the oldest ended one first.
    while (this.calls.length > SIP_UA_CALL_HISTORY) {
      const i = this.calls.findIndex((c) => c.ended);
      if (i < 0) break;
      this.calls.splice(i, 1);
    }
    return call;
  }

  /**
   * Where requests in a dialog go: back over the flow the dialog was made on while it is open
   * (RFC 7904 §5 lets a SIP connection be reused), else the remote target's address.
   */
  inDialogDestination(dialog: Dialog, fallback: SipDestination): SipDestination {
    if ('flow' in fallback) return fallback;
    // A GRUU remote target (RFC 7904 §6) is reached over the flow it came on, not by address.
    if (/;\s*gr=/i.test(dialog.remoteTarget)) return fallback;
    const d = destinationOfUri(dialog.remoteTarget);
    return d ? { ...d, transport: d.transport === 'TCP' ? 'TCP' : fallback.transport } : fallback;
  }

  close(): void {
    if (this.closed) return;
    for (const call of this.calls) {
      if (call.ended) continue;
      if (call.state === 'active') this.sendBye(call);
      else if (call.direction === 'outgoing') this.outgoing.cancelForks(call);
      else if (call.serverTx && call.invite) this.respond(call.serverTx, responseTo(call.invite, 480, undefined, call.dialog?.localTag));
      this.end(call, 'hangup-local');
    }
    this.closed = true;
  }
}


function uriText(nameAddr: string): string {
  const m = /<([^>]*)>/.exec(nameAddr);
  return (m ? m[1] : nameAddr.split(';')[0]).trim();
}
