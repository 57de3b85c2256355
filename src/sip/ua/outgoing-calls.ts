// Outgoing calls (RFC 3261 §13.2) as the overlay makes them: the INVITE forks to every device
// the locator found, each branch its own client transaction; the first 2xx wins, the other
// branches get CANCEL (§9.1), a late second 2xx is ACKed and ended with BYE (§13.2.2.4), and
// when every branch failed one response speaks for the call.
import type { Clock } from '../../util/clock.ts';
import { Dialog, dialogId, newCallId, newTag, tagOf } from '../core/dialog.ts';
import { type SipRequest, type SipResponse, SipHeaders } from '../core/message.ts';
import type { TransactionLayer } from '../core/transaction-layer.ts';
import type { SipTransport } from '../core/transport.ts';
import { parseCSeq } from '../core/uri.ts';
import type { Call, EndReason, Fork, ForkLeg } from './call.ts';
import { SIP_UA_USER_AGENT } from './constants.ts';
import type { MediaFactory } from './media-leg.ts';
import { ALLOWED_METHODS, type CallHost, type Locator, toSipUri } from './call-host.ts';

/** RFC 3326 §2 Reason of the CANCELs sent to the branches that lost the race. */
const ANSWERED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"';

export interface OutgoingCallsComponents {
  clock: Clock;
  transport: SipTransport;
  transactions: TransactionLayer;
  locator: Locator;
  media: MediaFactory;
}

export class OutgoingCalls {
  constructor(private readonly components: OutgoingCallsComponents, private readonly host: CallHost, private readonly noAnswerMs: number) {}

  async place(call: Call, target: string): Promise<void> {
    // The RTP sockets are opened while the overlay looks the target up: neither waits for the other.
    const media = this.components.media();
    void media.then((m) => call.note(`RTP ready on ${(m.status() as { local?: string }).local ?? '?'}`), () => {});
    let forks: Fork[];
    try {
      forks = await this.components.locator.locate(target, (event) => call.note(event));
    } catch (e) {
      void media.then((m) => m.close(), () => {});
      throw e;
    }
    call.media = await media;
    if (call.ended) { call.media.close(); return; }
    if (forks.length === 0) throw new Error(`no registration found for ${target}`);
    call.note(`located ${forks.length} device(s): ${forks.map((f) => f.label).join(', ')}`);
    call.media.onDtmf = (digit) => this.host.dtmfReceived(call, digit, 'rfc4733');
    const offer = Buffer.from(call.media.offer());
    const callId = newCallId(this.components.transport.advertisedHost);
    const fromTag = newTag();
    const to = `<${toSipUri(target)}>`;
    call.state = 'calling';
    for (const fork of forks) {
      const headers = new SipHeaders();
      headers.add('Max-Forwards', '70');
      headers.add('From', `<sip:${this.host.aor}>;tag=${fromTag}`);
      headers.add('To', to);
      headers.add('Call-ID', callId);
      headers.add('CSeq', '1 INVITE');
      headers.add('Contact', fork.contact ?? this.host.contactFor('flow' in fork.destination ? 'TCP' : fork.destination.transport));
      headers.add('Allow', ALLOWED_METHODS);
      headers.add('User-Agent', SIP_UA_USER_AGENT);
      headers.add('Content-Type', 'application/sdp');
      const invite: SipRequest = { type: 'request', method: 'INVITE', uri: fork.requestUri, headers, body: offer };
      const leg: ForkLeg = { ...fork, state: 'calling', invite, provisional: false, cancelPending: false };
      call.forks.push(leg);
      try {
        leg.tx = this.components.transactions.request(invite, fork.destination, {
          onResponse: (r) => this.forkResponse(call, leg, r),
          onFailure: (reason, error) => this.forkFailed(call, leg, reason === 'timeout' ? 408 : 503, error?.message ?? reason),
        }) as ForkLeg['tx'];
        call.note(`INVITE sent to ${fork.label}`);
      } catch (e) {
        this.forkFailed(call, leg, 503, (e as Error).message);
      }
    }
    this.host.timer(call, this.noAnswerMs, () => {
      if (call.state !== 'calling' && call.state !== 'ringing') return;
      call.note('no answer: cancelling');
      this.cancelForks(call);
      this.host.end(call, 'no-answer');
    });
  }

  private forkResponse(call: Call, leg: ForkLeg, response: SipResponse): void {
    const s = response.status;
    if (s < 200) {
      leg.provisional = true;
      if (leg.cancelPending) return this.sendCancel(leg);
      if (s >= 180 && leg.state === 'calling') {
        leg.state = 'ringing';
        call.note(`${s} ${response.reason} from ${leg.label}`);
        if (call.state === 'calling') {
          call.state = 'ringing';
          call.ringingAtMs = this.components.clock.now();
          this.host.emit(call, 'ringing', leg.label);
        }
      }
      return;
    }
    if (s < 300) return this.forkAnswered(call, leg, response);
    leg.status = s;
    if (leg.state !== 'cancelling') leg.state = 'failed';
    else leg.state = 'cancelled';
    call.note(`${s} ${response.reason} from ${leg.label}`);
    this.settleIfAllFailed(call);
  }

  private forkAnswered(call: Call, leg: ForkLeg, response: SipResponse): void {
    const dialog = Dialog.asUac(leg.invite!, response);
    if (!dialog) return;
    const destination = this.host.inDialogDestination(dialog, leg.destination);
    // §13.2.2.4: every 2xx gets an ACK, retransmissions included.
    const ack = dialog.request('ACK', undefined, parseCSeq(leg.invite!.headers.get('CSeq')!).seq);
    this.components.transactions.sendAck(ack, destination);
    const existing = this.host.dialogs.get(dialog.id);
    if (existing) return;
    if (call.dialog || call.ended) {
      // "If … the UAC … receives a 2xx from a second branch, it … MUST send a BYE" (§13.2.2.4).
      call.note(`second answer from ${leg.label}: ending it`);
      const bye = dialog.request('BYE');
      try {
        this.components.transactions.request(bye, destination, { onResponse: () => {}, onFailure: () => {} });
      } catch { /* the table is full; the peer's session timer ends it */ }
      return;
    }
    leg.state = 'answered';
    leg.status = response.status;
    call.dialog = dialog;
    call.destination = destination;
    this.host.dialogs.set(dialog.id, call);
    try {
      call.media!.accept(Buffer.from(response.body).toString('utf8'));
    } catch (e) {
      // §13.2.1 / RFC 3264: an answer we cannot use ends the call with a BYE after the ACK.
      call.note(`unusable answer: ${(e as Error).message}`);
      this.cancelForks(call);
      this.host.sendBye(call);
      this.host.end(call, 'failed');
      return;
    }
    call.media!.start();
    call.state = 'active';
    call.answeredAtMs = this.components.clock.now();
    call.note(`answered by ${leg.label}`);
    this.host.emit(call, 'answered', leg.label);
    // The others stop ringing: a CANCEL per branch still ringing (§9.1), saying why
    // (RFC 3326 §2: cause 200, so their devices show "answered elsewhere", not a missed call).
    this.cancelForks(call, ANSWERED_ELSEWHERE);
  }

  private forkFailed(call: Call, leg: ForkLeg, status: number, why: string): void {
    if (leg.state === 'answered') {
      // The transport under an answered call failed: there is nobody left to talk to.
      if (!call.ended) { call.note(`connection to ${leg.label} lost: ${why}`); this.host.end(call, 'failed'); }
      return;
    }
    leg.status = status;
    leg.state = leg.state === 'cancelling' ? 'cancelled' : 'failed';
    call.note(`${leg.label} unreachable: ${why}`);
    this.settleIfAllFailed(call);
  }

  /** §16.7-style choice of the response that speaks for the call when every branch failed. */
  private settleIfAllFailed(call: Call): void {
    if (call.ended || call.dialog || call.state === 'resolving') return;
    if (call.forks.some((f) => f.state === 'calling' || f.state === 'ringing' || f.state === 'cancelling')) return;
    const statuses = call.forks.map((f) => f.status ?? 500);
    const six = statuses.find((s) => s >= 600);
    const best = six ?? (statuses.includes(486) ? 486 : statuses.includes(487) ? 487 : Math.min(...statuses));
    call.endStatus = best;
    const reason: EndReason = best === 486 || best === 600 ? 'busy' : best === 603 ? 'declined' : best === 487 ? 'cancelled'
      : best === 404 || best === 604 ? 'not-found' : best === 480 ? 'unavailable' : best === 408 ? 'timeout' : 'failed';
    this.host.end(call, reason);
  }

  cancelForks(call: Call, reason?: string): void {
    for (const leg of call.forks) {
      if (leg.state !== 'calling' && leg.state !== 'ringing') continue;
      leg.state = 'cancelling';
      leg.cancelReason = reason;
      // §9.1: "a CANCEL … SHOULD NOT be sent [before] a provisional response"; it waits for one.
      if (leg.provisional) this.sendCancel(leg);
      else leg.cancelPending = true;
    }
  }

  /** §9.1: CANCEL with the INVITE's Request-URI, Call-ID, To, From, CSeq number, Route and top Via. */
  private sendCancel(leg: ForkLeg): void {
    leg.cancelPending = false;
    const invite = leg.invite!;
    const headers = new SipHeaders();
    headers.add('Via', invite.headers.get('Via')!);
    for (const r of invite.headers.all('Route')) headers.add('Route', r);
    headers.add('Max-Forwards', '70');
    headers.add('From', invite.headers.get('From')!);
    headers.add('To', invite.headers.get('To')!);
    headers.add('Call-ID', invite.headers.get('Call-ID')!);
    headers.add('CSeq', `${parseCSeq(invite.headers.get('CSeq')!).seq} CANCEL`);
    if (leg.cancelReason) headers.add('Reason', leg.cancelReason);
    const cancel: SipRequest = { type: 'request', method: 'CANCEL', uri: invite.uri, headers, body: new Uint8Array(0) };
    try {
      this.components.transactions.request(cancel, leg.destination, { onResponse: () => {}, onFailure: () => {} }, { branch: '' });
    } catch { /* table full: Timer C of the far end, or our Timer B, ends the branch */ }
  }

  /** A 2xx after our INVITE transaction ended: re-ACK it (§13.2.2.4), or BYE an unknown dialog. */
  strayResponse(response: SipResponse): void {
    let method = '';
    try { method = parseCSeq(response.headers.get('CSeq') ?? '').method; } catch { return; }
    if (method !== 'INVITE' || response.status < 200 || response.status >= 300) return;
    const call = this.host.dialogs.get(dialogId(response.headers.get('Call-ID') ?? '', tagOf(response.headers.get('From')) ?? '', tagOf(response.headers.get('To')) ?? ''));
    if (!call?.dialog || !call.destination) return;
    const ack = call.dialog.request('ACK', undefined, parseCSeq(response.headers.get('CSeq')!).seq);
    this.components.transactions.sendAck(ack, call.destination);
  }
}
