// Sends queued DTMF digits as RFC 4733 event packets, one digit at a time, on the injected
// clock. The RTP layer below numbers the packets; this decides what each one says and when.
import type { Clock, TimerHandle } from '../../util/clock.ts';
import type { Logger } from '../../util/log.ts';
import {
  DTMF_END_PACKETS, DTMF_GAP_MS, DTMF_PACKET_INTERVAL_MS, DTMF_QUEUE_LIMIT, DTMF_TONE_MS, DTMF_VOLUME_DBM0, SAMPLE_RATE_HZ,
} from './constants.ts';
import { digitToEvent, type TelephoneEvent } from './telephone-event.ts';

/** One event packet to send: RTP marker and timestamp, and the payload. */
export interface DtmfPacket {
  marker: boolean;
  timestamp: number;
  event: TelephoneEvent;
}

export interface DtmfSenderComponents {
  clock: Clock;
  log: Logger;
}

export interface DtmfSenderInit {
  /** Sends one packet; called synchronously from the sender's timers. */
  send: (packet: DtmfPacket) => void;
  /**
   * The RTP timestamp of the current instant on the audio stream's timeline: RFC 4733
   * §2.5.1.2, events "MUST use the same sequence number and timestamp base as the regular
   * audio channel". Called once as each digit begins.
   */
  timestamp: () => number;
  /** Called after a digit's last end packet. */
  onDigitSent?: (digit: string) => void;
  /** Tone length of each digit. Default 100 ms. */
  toneMs?: number;
  /** Pause after a digit's last packet before the next digit starts. Default 50 ms. */
  gapMs?: number;
  /** Time between packets of one event (§2.5.1.2 RECOMMENDS 50 ms). Default 50 ms. */
  intervalMs?: number;
  /** Power level in -dBm0 (§2.3.4). Default 10. */
  volume?: number;
  /** Digits that may wait; more are refused. Default 32. */
  queueLimit?: number;
  /** telephone-event clock rate from the rtpmap (§2.4). Default 8000. */
  clockRate?: number;
}

/**
 * - `idle`: nothing to send.
 * - `tone`: an event is being reported, its duration growing with each packet.
 * - `ending`: the final packet is being repeated.
 * - `gap`: between two digits; audio may flow.
 * - `stopped`: terminal.
 */
export type DtmfSenderState = 'idle' | 'tone' | 'ending' | 'gap' | 'stopped';

const EDGES: Record<DtmfSenderState, readonly DtmfSenderState[]> = {
  idle: ['tone', 'stopped'],
  tone: ['ending', 'stopped'],
  ending: ['gap', 'stopped'],
  gap: ['tone', 'idle', 'stopped'],
  stopped: [],
};

export class DtmfSender {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly init: DtmfSenderInit;
  private readonly toneUnits: number;
  private readonly intervalMs: number;
  private readonly gapMs: number;
  private readonly volume: number;
  private readonly queueLimit: number;
  private readonly unitsPerMs: number;
  private readonly queue: string[] = [];
  private currentState: DtmfSenderState = 'idle';
  private timer: TimerHandle | undefined;
  private digit = '';
  private event = 0;
  private timestamp = 0;
  private packets = 0;
  private endPackets = 0;
  /** Digits whose packets all went out, and digits refused because the queue was full. */
  readonly stats = { sent: 0, refused: 0 };

  constructor(components: DtmfSenderComponents, init: DtmfSenderInit) {
    this.clock = components.clock;
    this.log = components.log;
    this.init = init;
    const clockRate = init.clockRate ?? SAMPLE_RATE_HZ;
    this.unitsPerMs = clockRate / 1000;
    this.intervalMs = init.intervalMs ?? DTMF_PACKET_INTERVAL_MS;
    this.gapMs = init.gapMs ?? DTMF_GAP_MS;
    this.volume = init.volume ?? DTMF_VOLUME_DBM0;
    this.queueLimit = init.queueLimit ?? DTMF_QUEUE_LIMIT;
    this.toneUnits = Math.round((init.toneMs ?? DTMF_TONE_MS) * this.unitsPerMs);
    // §2.5.1.3 splits longer events into segments; a DTMF digit never needs that.
    if (!(this.toneUnits > 0 && this.toneUnits <= 0xffff)) throw new RangeError(`DTMF tone of ${init.toneMs} ms does not fit one event segment`);
    if (!(this.intervalMs > 0)) throw new RangeError('DTMF packet interval must be positive');
    if (!(this.volume >= 0 && this.volume <= 63)) throw new RangeError(`DTMF volume ${this.volume} outside 0..63`);
  }

  get state(): DtmfSenderState {
    return this.currentState;
  }

  /** An event is on the wire: audio packets pause until its final packets are sent. */
  get busy(): boolean {
    return this.currentState === 'tone' || this.currentState === 'ending';
  }

  /** Digits waiting, not counting the one being sent. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Queues `digits` (0-9, *, #, A-D); returns how many were accepted. Digits past the queue
   * limit are refused and counted. A character that is not a DTMF digit is a caller error.
   */
  enqueue(digits: string): number {
    for (const d of digits) if (digitToEvent(d) === undefined) throw new RangeError(`"${d}" is not a DTMF digit`);
    if (this.currentState === 'stopped') return 0;
    let accepted = 0;
    for (const d of digits) {
      if (this.queue.length >= this.queueLimit) {
        this.stats.refused++;
        continue;
      }
      this.queue.push(d.toUpperCase());
      accepted++;
      // The digit that starts at once does not wait, so it does not count against the queue.
      if (this.currentState === 'idle') this.beginDigit();
    }
    if (accepted < digits.length) this.log.warn('DTMF queue full, digits refused', { refused: digits.length - accepted, limit: this.queueLimit });
    return accepted;
  }

  /** Stops at once: no further packet is sent, queued digits are dropped. Idempotent. */
  stop(): void {
    if (this.currentState === 'stopped') return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.transition('stopped');
  }

  private transition(to: DtmfSenderState): void {
    if (!EDGES[this.currentState].includes(to)) throw new Error(`DTMF sender: illegal transition ${this.currentState} -> ${to}`);
    this.currentState = to;
  }

  private schedule(ms: number, fn: () => void): void {
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      fn();
    }, ms);
  }

  private beginDigit(): void {
    this.digit = this.queue.shift()!;
    this.event = digitToEvent(this.digit)!;
    // §2.2.1: "the RTP timestamp identifies the beginning of the event"; every packet of it
    // carries the same one.
    this.timestamp = this.init.timestamp() >>> 0;
    this.packets = 0;
    this.endPackets = 0;
    this.transition('tone');
    this.schedule(this.intervalMs, () => this.onInterval());
  }

  private onInterval(): void {
    if (this.currentState === 'tone') {
      this.packets++;
      const elapsed = Math.round(this.packets * this.intervalMs * this.unitsPerMs);
      const ended = elapsed >= this.toneUnits;
      // §2.5.1.2: "The first packet for an event MUST have the M bit set. The final packet
      // for an event MUST have the E bit set"; updates carry "the total cumulative duration
      // since the beginning of the event".
      this.emit(this.packets === 1, ended, Math.min(elapsed, this.toneUnits));
      if (this.currentState !== 'tone') return; // stopped from inside send()
      if (ended) {
        this.endPackets = 1;
        this.transition('ending');
      }
      this.schedule(this.intervalMs, () => this.onInterval());
      return;
    }
    if (this.currentState === 'ending') {
      // §2.5.1.4: "The final packet for each event ... SHOULD be sent a total of three times
      // at the interval used by the source for updates."
      this.emit(false, true, this.toneUnits);
      if (this.currentState !== 'ending') return; // stopped from inside send()
      this.endPackets++;
      if (this.endPackets < DTMF_END_PACKETS) {
        this.schedule(this.intervalMs, () => this.onInterval());
        return;
      }
      this.stats.sent++;
      this.transition('gap');
      this.schedule(this.gapMs, () => this.afterGap());
      this.init.onDigitSent?.(this.digit);
    }
  }

  private afterGap(): void {
    if (this.currentState !== 'gap') return;
    if (this.queue.length > 0) this.beginDigit();
    else this.transition('idle');
  }

  private emit(marker: boolean, end: boolean, duration: number): void {
    this.init.send({ marker, timestamp: this.timestamp, event: { event: this.event, end, volume: this.volume, duration } });
  }
}
