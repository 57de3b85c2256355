// The RTCP side of one RTP session with one peer: what this side has sent (for SR, RFC 3550
// §6.4.1), what it has received from the peer's source (report blocks, Appendix A), and what
// the peer's reports say back (round-trip time from LSR/DLSR, §6.4.1).
import type { Clock } from '../../util/clock.ts';
import { RTP_UNITS_PER_MS } from './constants.ts';
import { encodeRtcp, ntpFromUnixMs, ntpMiddle32, SDES_CNAME, type ReportBlock, type RtcpPacket } from './rtcp.ts';
import { RtpReceiverStatistics, type SequenceVerdict } from './rtp-statistics.ts';

export interface RtcpReporterComponents {
  clock: Clock;
}

export interface RtcpReporterInit {
  /** This side's SSRC. */
  ssrc: number;
  /** SDES CNAME (§6.5.1); RFC 7022 suggests a random one per session. */
  cname: string;
}

export class RtcpReporter {
  private readonly clock: Clock;
  private readonly ssrc: number;
  private readonly cname: string;
  /** Data packets and payload octets sent (SR sender's packet and octet counts). */
  packetCount = 0;
  octetCount = 0;
  private lastRtpTimestamp = 0;
  private lastRtpAt = 0;
  /** Whether RTP was sent in the current and in the previous report interval. */
  private sentNow = false;
  private sentBefore = false;
  /** The peer's source, once a packet from it has arrived. */
  remoteSsrc: number | undefined;
  statistics = new RtpReceiverStatistics();
  /** Middle 32 bits of the peer's last SR and when it arrived (for LSR/DLSR). */
  private lastSr = 0;
  private lastSrAt = 0;
  /** Round-trip time from the peer's last report about this source, when it had LSR. */
  rttMs: number | undefined;
  /** The peer's last report block about this source. */
  remoteReport: ReportBlock | undefined;
  /** The peer said BYE. */
  remoteBye = false;

  constructor(components: RtcpReporterComponents, init: RtcpReporterInit) {
    this.clock = components.clock;
    this.ssrc = init.ssrc >>> 0;
    this.cname = init.cname;
  }

  /** An RTP packet went out with `rtpTimestamp` and `payloadBytes` of payload. */
  noteSent(rtpTimestamp: number, payloadBytes: number): void {
    this.packetCount = (this.packetCount + 1) >>> 0;
    this.octetCount = (this.octetCount + payloadBytes) >>> 0;
    this.lastRtpTimestamp = rtpTimestamp >>> 0;
    this.lastRtpAt = this.clock.now();
    this.sentNow = true;
  }

  /**
   * An RTP packet arrived from `ssrc`. A new SSRC starts the statistics afresh (the peer
   * restarted, or a re-INVITE moved the stream). Only `audio` packets feed the jitter: an
   * RFC 4733 event update carries the event's start time, not its own, and peers such as
   * baresip interleave them with audio, which would read as seconds of delay variation.
   */
  noteReceived(ssrc: number, sequenceNumber: number, rtpTimestamp: number, audio: boolean): SequenceVerdict {
    if (ssrc !== this.remoteSsrc) {
      this.remoteSsrc = ssrc;
      this.statistics = new RtpReceiverStatistics();
      this.lastSr = 0;
    }
    const verdict = this.statistics.updateSequence(sequenceNumber);
    if (audio) this.statistics.updateJitter(rtpTimestamp, this.clock.now() * RTP_UNITS_PER_MS);
    return verdict;
  }

  /** Takes in a received compound packet. */
  receive(packets: RtcpPacket[]): void {
    const now = this.clock.now();
    for (const p of packets) {
      if (p.type === 'sr' && p.ssrc === this.remoteSsrc) {
        this.lastSr = ntpMiddle32(p.ntpSeconds, p.ntpFraction);
        this.lastSrAt = now;
      }
      if (p.type === 'sr' || p.type === 'rr') {
        const block = p.reports.find((r) => r.ssrc === this.ssrc);
        if (block) {
          this.remoteReport = block;
          if (block.lastSr !== 0) {
            // §6.4.1: RTT = A - LSR - DLSR, all in 1/65536 s, A the arrival time as NTP middle bits.
            const wall = ntpFromUnixMs(this.clock.wallTime());
            const a = ntpMiddle32(wall.seconds, wall.fraction);
            const rtt = (a - block.lastSr - block.delaySinceLastSr) >>> 0;
            // A negative result (clock steps, bogus report) wraps to a huge value: ignore it.
            if (rtt < 65536 * 60) this.rttMs = (rtt / 65536) * 1000;
          }
        }
      }
      if (p.type === 'bye' && this.remoteSsrc !== undefined && p.sources.includes(this.remoteSsrc)) this.remoteBye = true;
    }
  }

  /**
   * The next compound packet (§6.1): SR if this side sent RTP in this or the previous
   * interval (§6.4: "if the site has sent any data packets during the interval since issuing
   * the last report or the previous one"), else RR; then SDES CNAME, which "MUST" be in
   * every compound packet; then BYE when leaving (§6.6).
   */
  report(bye?: { reason?: string }): Uint8Array {
    const now = this.clock.now();
    const reports: ReportBlock[] = [];
    if (this.remoteSsrc !== undefined && this.statistics.received > 0) {
      const dlsr = this.lastSr === 0 ? 0 : Math.min(0xffffffff, Math.round(((now - this.lastSrAt) / 1000) * 65536));
      reports.push(this.statistics.reportBlock(this.remoteSsrc, this.lastSr, dlsr));
    }
    const packets: RtcpPacket[] = [];
    if (this.sentNow || this.sentBefore) {
      const ntp = ntpFromUnixMs(this.clock.wallTime());
      // "the same time as the NTP timestamp (above), but in the same units and with the same
      // random offset as the RTP timestamps in data packets".
      const rtpTimestamp = (this.lastRtpTimestamp + Math.round((now - this.lastRtpAt) * RTP_UNITS_PER_MS)) >>> 0;
      packets.push({
        type: 'sr', ssrc: this.ssrc, ntpSeconds: ntp.seconds, ntpFraction: ntp.fraction, rtpTimestamp,
        packetCount: this.packetCount, octetCount: this.octetCount, reports,
      });
    } else {
      packets.push({ type: 'rr', ssrc: this.ssrc, reports });
    }
    this.sentBefore = this.sentNow;
    this.sentNow = false;
    packets.push({ type: 'sdes', chunks: [{ ssrc: this.ssrc, items: [{ type: SDES_CNAME, text: this.cname }] }] });
    if (bye) packets.push(bye.reason === undefined ? { type: 'bye', sources: [this.ssrc] } : { type: 'bye', sources: [this.ssrc], reason: bye.reason });
    return encodeRtcp(packets);
  }
}
