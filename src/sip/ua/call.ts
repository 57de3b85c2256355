// One call as the user sees it: the branches an outgoing INVITE forked to, the dialog that won,
// its media, its DTMF, and a timeline of what happened (what `status` shows).
import type { Dialog } from '../core/dialog.ts';
import type { SipRequest } from '../core/message.ts';
import type { InviteClientTransaction, InviteServerTransaction } from '../core/transaction.ts';
import type { SipDestination } from '../core/transport.ts';
import type { MediaLeg } from './media-leg.ts';

export type CallState = 'resolving' | 'calling' | 'ringing' | 'active' | 'ending' | 'ended';

/** Why a call ended, in the words a resident or a log reader would use. */
export type EndReason =
  | 'hangup-local' | 'hangup-remote' | 'cancelled' | 'busy' | 'declined' | 'no-answer' | 'unavailable'
  | 'not-found' | 'failed' | 'timeout' | 'answered-elsewhere';

/** Where an outgoing INVITE is sent: one registered device, or one plain SIP address. */
export interface Fork {
  /** What the branch reaches, for status and logs (a Node-ID, host:port). */
  label: string;
  requestUri: string;
  destination: SipDestination;
  /** Contact to offer this peer (our GRUU over the overlay, our address otherwise). */
  contact?: string;
}

export type ForkState = 'calling' | 'ringing' | 'answered' | 'cancelling' | 'cancelled' | 'failed';

export interface ForkLeg extends Fork {
  state: ForkState;
  status?: number;
  invite?: SipRequest;
  tx?: InviteClientTransaction;
  /** §9.1: a CANCEL waits for a provisional response before it may be sent. */
  provisional: boolean;
  cancelPending: boolean;
  /** RFC 3326 Reason carried by this branch's CANCEL. */
  cancelReason?: string;
}

/** Timeline entries kept per call. */
const CALL_TIMELINE_MAX = 48;

export class Call {
  state: CallState;
  endReason: EndReason | undefined;
  endStatus: number | undefined;
  readonly forks: ForkLeg[] = [];
  dialog: Dialog | undefined;
  destination: SipDestination | undefined;
  media: MediaLeg | undefined;
  /** Incoming: the INVITE that started the call. */
  invite: SipRequest | undefined;
  /** The latest INVITE server transaction: the initial INVITE's, then a re-INVITE's; its 2xx awaits our ACK. */
  serverTx: InviteServerTransaction | undefined;
  /** Incoming: our answer SDP, prepared while ringing. */
  answerSdp: string | undefined;
  /** Incoming: answered before the RTP sockets were open; the 200 OK follows once they are. */
  answerWhenReady = false;
  dtmfReceived = '';
  dtmfSent = '';
  readonly timeline: { atMs: number; event: string }[] = [];
  /** Outgoing: when the first 180 arrived; the call setup time is this minus startedAtMs. */
  ringingAtMs: number | undefined;
  answeredAtMs: number | undefined;
  endedAtMs: number | undefined;
  /** Timers this call owns, cleared when it ends. */
  readonly timers = new Set<{ readonly id: number }>();
  onEnded: () => void = () => {};

  constructor(readonly id: string, readonly direction: 'outgoing' | 'incoming', readonly remote: string, readonly startedAtMs: number,
    private readonly now: () => number, initial: CallState) {
    this.state = initial;
    this.note(`${direction} call ${direction === 'outgoing' ? 'to' : 'from'} ${remote}`);
  }

  note(event: string): void {
    if (this.timeline.length >= CALL_TIMELINE_MAX) this.timeline.splice(1, 1);
    this.timeline.push({ atMs: Math.round(this.now() - this.startedAtMs), event });
  }

  get ended(): boolean {
    return this.state === 'ended';
  }

  status(): object {
    return {
      id: this.id, direction: this.direction, remote: this.remote, state: this.state,
      endReason: this.endReason ?? null, endStatus: this.endStatus ?? null,
      forks: this.forks.map((f) => ({ label: f.label, state: f.state, status: f.status ?? null })),
      dialog: this.dialog ? { callId: this.dialog.callId, localTag: this.dialog.localTag, remoteTag: this.dialog.remoteTag, state: this.dialog.state } : null,
      dtmfReceived: this.dtmfReceived, dtmfSent: this.dtmfSent,
      media: this.media?.status() ?? null,
      ringingAfterMs: this.ringingAtMs === undefined ? null : Math.round((this.ringingAtMs - this.startedAtMs) * 1000) / 1000,
      answeredAfterMs: this.answeredAtMs === undefined ? null : Math.round(this.answeredAtMs - this.startedAtMs),
      durationMs: this.answeredAtMs === undefined ? 0 : Math.round((this.endedAtMs ?? this.now()) - this.answeredAtMs),
      timeline: this.timeline,
    };
  }
}
