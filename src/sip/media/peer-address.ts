// Where the peer's RTP and RTCP go, and from where they are accepted. With symmetric RTP
// (RFC 4961) the first packet from the peer fixes its address — the one a NAT shows —
// and later packets from anywhere else are refused; without it, SDP's addresses are used
// and packets are taken from any source.
import type { Logger } from '../../util/log.ts';
import type { Endpoint, NegotiatedMedia } from './sdp.ts';

export type Flow = 'rtp' | 'rtcp';

export class PeerAddress {
  private readonly log: Logger;
  private readonly symmetric: boolean;
  private readonly to: Record<Flow, Endpoint | undefined> = { rtp: undefined, rtcp: undefined };
  private readonly latched: Record<Flow, boolean> = { rtp: false, rtcp: false };

  constructor(components: { log: Logger }, init: { symmetric: boolean }) {
    this.log = components.log;
    this.symmetric = init.symmetric;
  }

  /** New signalled addresses (an answer, a re-INVITE): any latch is let go. */
  reset(negotiated: NegotiatedMedia): void {
    this.to.rtp = { ...negotiated.remote };
    // RFC 3550 §11: RTCP on the next port unless SDP says otherwise (RFC 3605 a=rtcp).
    this.to.rtcp = negotiated.remoteRtcp ? { ...negotiated.remoteRtcp } : { address: negotiated.remote.address, port: negotiated.remote.port + 1 };
    this.latched.rtp = false;
    this.latched.rtcp = false;
  }

  /** Where to send the flow, once known. */
  destination(flow: Flow): Endpoint | undefined {
    return this.to[flow];
  }

  /** Whether a packet of `flow` from `address:port` is the peer's; latches on the first one. */
  accept(flow: Flow, address: string, port: number): boolean {
    if (!this.symmetric) return true;
    const current = this.to[flow];
    const same = current !== undefined && current.address === address && current.port === port;
    if (this.latched[flow]) return same;
    if (!same) this.log.info(`${flow.toUpperCase()} latched to the peer's source address`, { signalled: current, actual: { address, port } });
    this.to[flow] = { address, port };
    this.latched[flow] = true;
    return true;
  }
}
