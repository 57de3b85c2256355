// The UA's MediaLeg on top of the media layer: one RTP/RTCP socket pair per call, SDP offer
// and answer (RFC 3264) for PCMU, PCMA and telephone-event, and the audio source and sink the
// device was configured with.
import type { Clock } from '../../util/clock.ts';
import type { Logger } from '../../util/log.ts';
import {
  type NegotiatedMedia, type PortRange, type SdpOffer, MediaSession, acceptAnswer, answerOffer,
  audioFromSpec, createOffer,
} from '../media/index.ts';
import { type MediaFactory, type MediaLeg, MediaRefused } from './media-leg.ts';

export interface RtpMediaInit {
  /** Address RTP is bound to and written into SDP. */
  address: string;
  /** Audio to send: `silence`, `tone:440`, `wav:FILE`, `alsa[:DEVICE]`. Default `silence`. */
  source?: string;
  /** Where received audio goes: `null`, `wav:FILE`, `alsa[:DEVICE]`. Default `null`. */
  sink?: string;
  portRange?: PortRange;
}

/** A MediaFactory opening a fresh RTP session per call. */
export function rtpMediaFactory(components: { clock: Clock; log: Logger }, init: RtpMediaInit): MediaFactory {
  const open = async (): Promise<MediaLeg> => {
    const source = audioFromSpec({ log: components.log }, init.source ?? 'silence', 'source');
    const sink = audioFromSpec({ log: components.log }, init.sink ?? 'null', 'sink');
    const session = await MediaSession.open(components, { address: init.address, source, sink, portRange: init.portRange })
      .catch((e: Error) => { source.close(); sink.close(); throw e; });
    return new RtpMediaLeg(session);
  };
  // Offer/answer is pure: a stand-in port answers the same way the real one will.
  const refusal = (offer: string): string | undefined => {
    const r = answerOffer(offer, { address: init.address, port: 9 });
    return r.ok ? undefined : `${r.refusal.reason}: ${r.refusal.detail}`;
  };
  return Object.assign(open, { refusal });
}

class RtpMediaLeg implements MediaLeg {
  onDtmf: (digit: string) => void = () => {};
  private offered: SdpOffer | undefined;
  private negotiated: NegotiatedMedia | undefined;
  private version = 0;
  private readonly sessionId = String(Math.floor(Math.random() * 2 ** 31));

  constructor(private readonly session: MediaSession) {
    session.onDtmf = (digit) => this.onDtmf(digit);
  }

  private local(): { address: string; port: number; sessionId: string; sessionVersion: string } {
    // RFC 3264 §8: every new description in the session carries a higher o= version.
    return { address: this.session.address, port: this.session.port, sessionId: this.sessionId, sessionVersion: String(Number(this.sessionId) + this.version++) };
  }

  offer(): string {
    this.offered = createOffer(this.local());
    return this.offered.sdp;
  }

  answer(offer: string): string {
    const r = answerOffer(offer, this.local());
    if (!r.ok) throw new MediaRefused(`${r.refusal.reason}: ${r.refusal.detail}`);
    // A re-INVITE's offer renegotiates nothing while the session runs: the first answer stands.
    this.negotiated ??= r.negotiated;
    return r.sdp;
  }

  accept(answer: string): void {
    if (!this.offered) throw new MediaRefused('an answer without an offer');
    const r = acceptAnswer(answer, this.offered);
    if (!r.ok) throw new MediaRefused(`${r.refusal.reason}: ${r.refusal.detail}`);
    this.negotiated = r.negotiated;
  }

  start(): void {
    if (this.negotiated && this.session.state === 'open') this.session.start(this.negotiated);
  }

  get canSendEvents(): boolean {
    return this.negotiated?.telephoneEventPayloadType !== undefined;
  }

  sendDtmf(digits: string): boolean {
    return this.session.sendDtmf(digits) === digits.length;
  }

  status(): object {
    const n = this.negotiated;
    return {
      local: `${this.session.address}:${this.session.port}`,
      remote: n ? `${n.remote.address}:${n.remote.port}` : null,
      codec: n?.codec ?? null,
      telephoneEvent: n?.telephoneEventPayloadType ?? null,
      state: this.session.state,
      counters: this.session.counters,
      tone: this.session.tone(),
    };
  }

  close(): void {
    // The session closes its source and sink when it stops.
    this.session.stop();
  }
}
