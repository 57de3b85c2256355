// Turns received RFC 4733 event packets into DTMF digits, each exactly once: an event is
// known by its RTP timestamp (§2.2.1), so repeated updates and end packets of one digit
// collapse into one, a lost first packet still yields the digit, and a lost end is covered
// by a timeout.
import type { Clock, TimerHandle } from '../../util/clock.ts';
import type { Logger } from '../../util/log.ts';
import { DTMF_EVENT_TIMEOUT_MS, DTMF_HISTORY_EVENTS } from './constants.ts';
import { eventToDigit, type TelephoneEvent } from './telephone-event.ts';

export interface DtmfReceiverComponents {
  clock: Clock;
  log: Logger;
}

/** What is known of a digit when it is delivered. */
export interface DtmfReport {
  event: number;
  /** RTP timestamp of the event's start. */
  timestamp: number;
  /** Whether the first packet (M bit) was received. */
  marker: boolean;
}

export interface DtmfReceiverInit {
  onDigit: (digit: string, report: DtmfReport) => void;
  /**
   * Without an end packet, an event is over this long after its last packet (§2.5.2.2:
   * "a given time period elapses"). Default 150 ms (three 50 ms packet intervals).
   */
  timeoutMs?: number;
  /** Past events remembered to recognise late reports of them. Default 16. */
  historyLimit?: number;
}

interface EventRecord {
  timestamp: number;
  event: number;
  duration: number;
  ended: boolean;
}

/** Long-duration events (§2.5.1.3) are split into segments of this duration. */
const MAX_SEGMENT_DURATION = 0xffff;

export class DtmfReceiver {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly onDigit: DtmfReceiverInit['onDigit'];
  private readonly timeoutMs: number;
  private readonly historyLimit: number;
  /** Recent events, newest last, including the one playing. */
  private readonly history: EventRecord[] = [];
  private current: EventRecord | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;
  /** Digits delivered, and packets ignored (not DTMF, zero duration, late). */
  readonly stats = { digits: 0, ignored: 0, endsLost: 0 };

  constructor(components: DtmfReceiverComponents, init: DtmfReceiverInit) {
    this.clock = components.clock;
    this.log = components.log;
    this.onDigit = init.onDigit;
    this.timeoutMs = init.timeoutMs ?? DTMF_EVENT_TIMEOUT_MS;
    this.historyLimit = init.historyLimit ?? DTMF_HISTORY_EVENTS;
  }

  /** The digit currently being received (between its first packet and its end), if any. */
  get active(): string | undefined {
    return this.current ? eventToDigit(this.current.event) : undefined;
  }

  /** One telephone-event packet: its payload, RTP timestamp and marker bit. */
  receive(event: TelephoneEvent, timestamp: number, marker: boolean): void {
    if (this.stopped) return;
    const digit = eventToDigit(event.event);
    // §2.3.5: "The receiver SHOULD ignore an event report with zero duration if the event is
    // not a state"; DTMF digits are not states. Events other than DTMF are not digits.
    if (digit === undefined || event.duration === 0) {
      this.stats.ignored++;
      return;
    }
    timestamp >>>= 0;
    const cur = this.current;
    if (cur && cur.timestamp === timestamp && cur.event === event.event) {
      cur.duration = event.duration;
      if (event.end) this.finish(cur);
      else this.arm();
      return;
    }
    const past = this.history.find((h) => h.timestamp === timestamp && h.event === event.event);
    if (past) {
      // §2.5.2.2: "The receiver MAY determine on the basis of retained history and the
      // timestamp and event code of the current packet that it corresponds to an event
      // already played out and lapsed. In that case, further reports for the event MUST be
      // ignored".
      this.stats.ignored++;
      return;
    }
    const previous = cur ?? this.history[this.history.length - 1];
    if (previous && !previous.ended && previous.event === event.event && previous.duration === MAX_SEGMENT_DURATION
      && ((previous.timestamp + MAX_SEGMENT_DURATION) >>> 0) === timestamp) {
      // §2.5.2.3: a report starting where a 0xFFFF-long segment ended, for the same event,
      // continues one long-duration event; it is not a new digit.
      this.remember({ timestamp, event: event.event, duration: event.duration, ended: false });
      return;
    }
    // §2.5.2.2: the receiver plays a tone until "it receives the next tone, distinguished by
    // a different timestamp value".
    if (cur) this.finish(cur);
    if (!marker) {
      // §2.5.2.2: "If a receiver receives an event packet for an event that it is not
      // currently playing out and the packet does not have the M bit set, earlier packets
      // for that event have evidently been lost."
      this.log.debug('DTMF event without its first packet', { digit, timestamp });
    }
    const record: EventRecord = { timestamp, event: event.event, duration: event.duration, ended: false };
    this.remember(record);
    this.stats.digits++;
    if (event.end) this.finish(record);
    this.onDigit(digit, { event: event.event, timestamp, marker });
  }

  /** Forgets everything and delivers nothing more. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.current = undefined;
  }

  private remember(record: EventRecord): void {
    this.history.push(record);
    if (this.history.length > this.historyLimit) this.history.shift();
    if (!record.ended) {
      this.current = record;
      this.arm();
    }
  }

  private finish(record: EventRecord): void {
    record.ended = true;
    if (this.current === record) {
      this.current = undefined;
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private arm(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      const cur = this.current;
      if (!cur) return;
      // §2.5.2.2: "Limiting the time period of extending the tone is necessary to avoid that
      // a tone "gets stuck"." All end packets were lost.
      this.stats.endsLost++;
      this.log.debug('DTMF event ended by timeout', { event: cur.event, timestamp: cur.timestamp });
      this.finish(cur);
    }, this.timeoutMs);
  }
}
