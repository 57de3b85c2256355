// What the user agent needs from media: SDP offer/answer (RFC 3264) and a running RTP session
// with DTMF. The UA never touches sockets or codecs itself.

/** The offer could not be answered (§6 of RFC 3264: no common codec); the UA answers 488. */
export class MediaRefused extends Error {}

export interface MediaLeg {
  /** An SDP offer for an outgoing INVITE. */
  offer(): string;
  /** Answers a peer's offer; throws MediaRefused when nothing in it is acceptable. */
  answer(offer: string): string;
  /** The peer's answer to our offer; throws MediaRefused when it does not fit. */
  accept(answer: string): void;
  /** Starts sending and receiving once negotiated. */
  start(): void;
  /** True when telephone-event was negotiated, so digits can go as RFC 4733 events. */
  readonly canSendEvents: boolean;
  /** Queues digits as RFC 4733 events; false when they were refused (queue full). */
  sendDtmf(digits: string): boolean;
  /** A digit received as an RFC 4733 event. */
  onDtmf: (digit: string) => void;
  status(): object;
  /** Stops sending (RTCP BYE) and closes the sockets; idempotent. */
  close(): void;
}

export interface MediaFactory {
  /** Opens the sockets of a new leg. */
  (): Promise<MediaLeg>;
  /**
   * Why an offer could never be answered, checked before any socket is opened so the UA can
   * ring at once and refuse with 488 only what it must; undefined when it is acceptable.
   */
  refusal?(offer: string): string | undefined;
}
