// Reception statistics for one remote source, as RFC 3550 Appendix A computes them:
// sequence validation and extension (A.1), the report block's loss figures (A.3) and the
// interarrival jitter (A.8). Pure arithmetic; the caller supplies arrival times.
import type { ReportBlock } from './rtcp.ts';

const RTP_SEQ_MOD = 1 << 16;

export interface RtpReceiverStatisticsInit {
  /** A.1 MIN_SEQUENTIAL: packets in sequence before a new source is valid. Default 2. */
  minSequential?: number;
  /** A.1 MAX_DROPOUT: a forward jump larger than this is suspect. Default 3000. */
  maxDropout?: number;
  /** A.1 MAX_MISORDER: a backward jump up to this is a late packet. Default 100. */
  maxMisorder?: number;
}

/** What the arrival of one packet did to the statistics. */
export type SequenceVerdict = 'counted' | 'probation' | 'duplicate_or_late' | 'restart_pending';

export class RtpReceiverStatistics {
  private readonly minSequential: number;
  private readonly maxDropout: number;
  private readonly maxMisorder: number;
  private started = false;
  private maxSeq = 0;
  private cycles = 0;
  private baseSeq = 0;
  private badSeq = RTP_SEQ_MOD + 1;
  private probation = 0;
  private receivedCount = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  private jitterUnits = 0;
  private lastArrival = 0;
  private lastTimestamp = 0;
  private haveTransit = false;

  constructor(init: RtpReceiverStatisticsInit = {}) {
    this.minSequential = init.minSequential ?? 2;
    this.maxDropout = init.maxDropout ?? 3000;
    this.maxMisorder = init.maxMisorder ?? 100;
  }

  /**
   * Records a packet with `sequenceNumber`; A.1 `update_seq`. The verdict is advisory: a
   * packet on probation or of a pending restart is still playable audio, it just does not
   * count towards the loss figures yet.
   */
  updateSequence(sequenceNumber: number): SequenceVerdict {
    const seq = sequenceNumber & 0xffff;
    if (!this.started) {
      // A.1: "init_seq(s, seq); s->max_seq = seq - 1; s->probation = MIN_SEQUENTIAL;"
      this.initSequence(seq);
      this.maxSeq = (seq - 1) & 0xffff;
      this.probation = this.minSequential;
      this.started = true;
    }
    const udelta = (seq - this.maxSeq) & 0xffff;
    if (this.probation > 0) {
      // A.1: "Source is not valid until MIN_SEQUENTIAL packets with sequential sequence
      // numbers have been received."
      if (seq === ((this.maxSeq + 1) & 0xffff)) {
        this.probation--;
        this.maxSeq = seq;
        if (this.probation === 0) {
          this.initSequence(seq);
          this.receivedCount++;
          return 'counted';
        }
      } else {
        this.probation = this.minSequential - 1;
        this.maxSeq = seq;
      }
      return 'probation';
    } else if (udelta < this.maxDropout) {
      // A.1: "in order, with permissible gap"; a wrap counts another 64K cycle.
      if (seq < this.maxSeq) this.cycles += RTP_SEQ_MOD;
      this.maxSeq = seq;
    } else if (udelta <= RTP_SEQ_MOD - this.maxMisorder) {
      // A.1: "the sequence number made a very large jump ... If two sequential packets
      // arrive, accept the latter as a valid restart."
      if (seq === this.badSeq) {
        this.initSequence(seq);
      } else {
        this.badSeq = (seq + 1) & 0xffff;
        return 'restart_pending';
      }
    } else {
      // A.1: "duplicate or reordered packet" — counted as received.
      this.receivedCount++;
      return 'duplicate_or_late';
    }
    this.receivedCount++;
    return 'counted';
  }

  /**
   * A.8: updates the jitter estimate with a packet's RTP timestamp and its arrival time in
   * the same units. A packet repeating the previous timestamp (an RFC 4733 event update, a
   * duplicate) is skipped: RFC 4733 §2.5.2.2 has jitter computed "based on all packets with a
   * given timestamp" together, and their spacing is not network delay.
   */
  updateJitter(rtpTimestamp: number, arrivalUnits: number): void {
    if (this.haveTransit && rtpTimestamp === this.lastTimestamp) return;
    if (this.haveTransit) {
      // D(i-1,i) = (Rj - Ri) - (Sj - Si), with the RTP timestamp difference taken modulo 2^32.
      const sent = ((rtpTimestamp - this.lastTimestamp) << 0);
      const d = Math.abs(arrivalUnits - this.lastArrival - sent);
      this.jitterUnits += (d - this.jitterUnits) / 16;
    }
    this.haveTransit = true;
    this.lastArrival = arrivalUnits;
    this.lastTimestamp = rtpTimestamp >>> 0;
  }

  /** Packets counted as received (A.1 `received`). */
  get received(): number {
    return this.receivedCount;
  }

  /** A.3 extended_max: cycles in the high 16 bits, the highest sequence number below. */
  get extendedHighestSequence(): number {
    return (this.cycles + this.maxSeq) >>> 0;
  }

  /** A.3 "lost = expected - received", which duplicates can make negative. */
  get cumulativeLost(): number {
    if (!this.started || this.probation > 0) return 0;
    return this.expected() - this.receivedCount;
  }

  /** A.8 jitter, in timestamp units. */
  get jitter(): number {
    return this.jitterUnits;
  }

  /**
   * A.3: the report block about this source; moves the "prior" counters so the next
   * block's fraction lost covers only the interval since this one.
   */
  reportBlock(ssrc: number, lastSr = 0, delaySinceLastSr = 0): ReportBlock {
    const expected = this.started && this.probation === 0 ? this.expected() : 0;
    const expectedInterval = expected - this.expectedPrior;
    this.expectedPrior = expected;
    const receivedInterval = this.receivedCount - this.receivedPrior;
    this.receivedPrior = this.receivedCount;
    const lostInterval = expectedInterval - receivedInterval;
    const fractionLost = expectedInterval === 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval * 256) / expectedInterval));
    return {
      ssrc,
      fractionLost,
      cumulativeLost: this.cumulativeLost,
      highestSequence: this.extendedHighestSequence,
      jitter: Math.floor(this.jitterUnits) >>> 0,
      lastSr,
      delaySinceLastSr,
    };
  }

  private expected(): number {
    return this.cycles + this.maxSeq - this.baseSeq + 1;
  }

  private initSequence(seq: number): void {
    // A.1 init_seq.
    this.baseSeq = seq;
    this.maxSeq = seq;
    this.badSeq = RTP_SEQ_MOD + 1;
    this.cycles = 0;
    this.receivedCount = 0;
    this.receivedPrior = 0;
    this.expectedPrior = 0;
  }
}
