// The door strike relay. Energising it opens the door, so it is a state machine that can
// only ever produce one bounded pulse:
//
//   locked --open()--> open --pulse ends--> holdoff --hold-off ends--> locked
//   any state --close()--> closed (terminal)
//
// The relay is driven off when the driver starts (after a crash and restart the output latch
// may still be energised), when a pulse ends, on close(), and by forceOff(), which the
// application calls from its process exit hooks; the driver installs nothing global itself.
// Opens during a pulse or its hold-off are refused and counted, never queued: a queued open
// would unlock the door later for someone who is no longer there.
import type { Clock, TimerHandle } from '../util/clock.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import type { Digital, GpioProvider } from './io.ts';

/** How long the strike is energised per open. */
export const DOOR_STRIKE_PULSE_MS = 3000;
/**
 * Pulse bounds: a strike needs ~100 ms to release its keeper; most strikes are rated for
 * intermittent duty only, and a longer pulse heats the coil and leaves the door open unwatched.
 */
export const DOOR_STRIKE_MIN_PULSE_MS = 100;
export const DOOR_STRIKE_MAX_PULSE_MS = 10_000;
/** After a pulse, opens are refused this long (coil cool-down, no rapid re-triggering). */
export const DOOR_STRIKE_HOLD_OFF_MS = 2000;
export const DOOR_STRIKE_MAX_HOLD_OFF_MS = 60_000;

export const DoorStrikeState = {
  Locked: 'locked',
  Open: 'open',
  HoldOff: 'holdoff',
  Closed: 'closed',
} as const;
export type DoorStrikeState = (typeof DoorStrikeState)[keyof typeof DoorStrikeState];

/** The only legal edges; anything else is a bug and throws. */
const EDGES: Readonly<Record<DoorStrikeState, readonly DoorStrikeState[]>> = {
  locked: ['open', 'closed'],
  open: ['holdoff', 'closed'],
  holdoff: ['locked', 'closed'],
  closed: [],
};

export interface DoorStrikeComponents {
  gpio: GpioProvider;
  clock: Clock;
  /** Default: silent. */
  logger?: Logger;
}

export interface DoorStrikeInit {
  /** BCM pin of the relay input. */
  pin: number;
  /** Level that energises the relay. Default 1 (active high). */
  activeLevel?: 0 | 1;
  /** Default DOOR_STRIKE_PULSE_MS; DOOR_STRIKE_MIN_PULSE_MS..DOOR_STRIKE_MAX_PULSE_MS. */
  pulseMs?: number;
  /** Default DOOR_STRIKE_HOLD_OFF_MS; 0..DOOR_STRIKE_MAX_HOLD_OFF_MS. */
  holdOffMs?: number;
  /** Every transition except to `closed`, after it happened (for MQTT and the LED). */
  onStateChange?: (state: DoorStrikeState, change: { from: DoorStrikeState; reason: string }) => void;
}

export interface DoorStrikeStatus {
  state: DoorStrikeState;
  /** Whether the relay pin reads energised. */
  relayOn: boolean;
  pin: number;
  activeLevel: 0 | 1;
  pulseMs: number;
  holdOffMs: number;
  /** Until the current pulse or hold-off ends; 0 when locked. */
  msLeft: number;
  opens: number;
  refused: number;
  watchdogTrips: number;
  lastOpen: { reason: string; at: string } | null;
}

export class DoorStrike {
  private readonly digital: Digital;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly on: 0 | 1;
  private readonly off: 0 | 1;
  private readonly pulseMs: number;
  private readonly holdOffMs: number;
  private current: DoorStrikeState = 'locked';
  private enteredAt: number;
  /** Timer ending the current pulse or hold-off. */
  private stateTimer: TimerHandle | undefined;
  /** Second, independent timer for the pulse deadline. */
  private watchdogTimer: TimerHandle | undefined;
  private energisedAt = 0;
  private lastOpen: { reason: string; at: string } | null = null;
  private readonly counters = { opens: 0, refused: 0, watchdogTrips: 0 };

  constructor(components: DoorStrikeComponents, private readonly init: DoorStrikeInit) {
    this.clock = components.clock;
    this.log = components.logger ?? silentLogger;
    this.on = init.activeLevel ?? 1;
    this.off = this.on === 1 ? 0 : 1;
    this.pulseMs = init.pulseMs ?? DOOR_STRIKE_PULSE_MS;
    this.holdOffMs = init.holdOffMs ?? DOOR_STRIKE_HOLD_OFF_MS;
    if (!(this.pulseMs >= DOOR_STRIKE_MIN_PULSE_MS && this.pulseMs <= DOOR_STRIKE_MAX_PULSE_MS)) {
      throw new RangeError(`door strike pulseMs ${this.pulseMs} is outside ${DOOR_STRIKE_MIN_PULSE_MS}..${DOOR_STRIKE_MAX_PULSE_MS}`);
    }
    if (!(this.holdOffMs >= 0 && this.holdOffMs <= DOOR_STRIKE_MAX_HOLD_OFF_MS)) {
      throw new RangeError(`door strike holdOffMs ${this.holdOffMs} is outside 0..${DOOR_STRIKE_MAX_HOLD_OFF_MS}`);
    }
    // Off before anything else: the latch may still be energised from a run that crashed.
    this.digital = components.gpio.digital({ pin: init.pin, mode: 'output', initialValue: this.off });
    this.digital.write(this.off);
    this.enteredAt = this.clock.now();
    if (this.digital.read() !== this.off) this.log.error('door strike relay does not read off after driving it off', { pin: init.pin });
    this.log.info('door strike ready, relay off', { pin: init.pin, activeLevel: this.on, pulseMs: this.pulseMs, holdOffMs: this.holdOffMs });
  }

  get state(): DoorStrikeState {
    return this.current;
  }

  /** Energises the strike for one pulse. False (and counted) unless locked. */
  open(reason: string): boolean {
    this.watchdog();
    if (this.current !== 'locked') {
      this.counters.refused++;
      this.log.info('door open refused', { state: this.current, reason, msLeft: this.msLeft() });
      return false;
    }
    this.counters.opens++;
    this.lastOpen = { reason, at: new Date(this.clock.wallTime()).toISOString() };
    this.transition('open', reason);
    return true;
  }

  /**
   * Drives the relay off now, whatever the state; for exit and crash hooks. Never throws and
   * may be called at any time, also after close().
   */
  forceOff(): void {
    try {
      this.digital.write(this.off);
    } catch {
      // Closed already: close() drove the relay off before releasing the pin.
    }
    if (this.current === 'open') {
      try {
        this.transition('holdoff', 'forced off');
      } catch {
        // Exit hooks must not fail; the relay is off, which is what matters.
      }
    }
  }

  status(): DoorStrikeStatus {
    this.watchdog();
    return {
      state: this.current,
      relayOn: this.relayOn(),
      pin: this.init.pin,
      activeLevel: this.on,
      pulseMs: this.pulseMs,
      holdOffMs: this.holdOffMs,
      msLeft: this.msLeft(),
      ...this.counters,
      lastOpen: this.lastOpen,
    };
  }

  /** Drives the relay off and releases the pin; idempotent. */
  close(): void {
    if (this.current === 'closed') return;
    this.transition('closed', 'close');
  }

  /**
   * The one place the state changes. Leaving a state cancels its timers; entering one sets
   * the relay and the timer that ends it.
   */
  private transition(to: DoorStrikeState, reason: string): void {
    const from = this.current;
    if (!EDGES[from].includes(to)) throw new Error(`illegal door strike transition ${from} -> ${to} (${reason})`);
    this.clock.clearTimeout(this.stateTimer);
    this.clock.clearTimeout(this.watchdogTimer);
    this.stateTimer = this.watchdogTimer = undefined;
    this.current = to;
    this.enteredAt = this.clock.now();
    switch (to) {
      case 'open':
        this.energisedAt = this.enteredAt;
        this.digital.write(this.on);
        this.stateTimer = this.clock.setTimeout(() => this.pulseEnded(), this.pulseMs);
        // Should the pulse timer be lost or its handler fail, this one still ends the pulse.
        this.watchdogTimer = this.clock.setTimeout(() => this.watchdogTick(), this.pulseMs);
        break;
      case 'holdoff':
        this.digital.write(this.off);
        this.stateTimer = this.clock.setTimeout(() => this.transition('locked', 'hold-off ended'), this.holdOffMs);
        break;
      case 'locked':
        this.digital.write(this.off);
        break;
      case 'closed':
        this.digital.write(this.off);
        this.digital.close();
        break;
    }
    this.log.info('door strike', { from, to, reason, relayOn: to === 'open' });
    if (to !== 'closed') this.init.onStateChange?.(to, { from, reason });
  }

  private pulseEnded(): void {
    this.stateTimer = undefined;
    // The relay goes off first, so nothing after this line can keep the door open.
    this.digital.write(this.off);
    this.transition('holdoff', 'pulse ended');
  }

  private watchdogTick(): void {
    this.watchdogTimer = undefined;
    this.watchdog();
    // A timer may fire a little early by the clock's reading; look again at the deadline.
    if (this.current === 'open') {
      this.watchdogTimer = this.clock.setTimeout(() => this.watchdogTick(), Math.max(1, this.energisedAt + this.pulseMs - this.clock.now()));
    }
  }

  /**
   * The relay must never be on longer than one pulse, nor at all outside one. Checked by the
   * watchdog timer and on every open() and status(), so a pulse whose timer was lost ends at
   * the first chance. (A blocked event loop cannot be helped from JavaScript; wire a strike
   * with its own timeout if that matters.)
   */
  private watchdog(): void {
    if (this.current === 'closed') return;
    if (this.current === 'open') {
      if (this.clock.now() - this.energisedAt < this.pulseMs) return;
      this.trip('pulse deadline passed');
      return;
    }
    if (this.relayOn()) this.trip('relay on outside a pulse');
  }

  private trip(why: string): void {
    this.counters.watchdogTrips++;
    this.log.error('door strike watchdog: relay forced off', { why, state: this.current, sinceMs: this.clock.now() - this.energisedAt });
    try {
      this.digital.write(this.off);
    } finally {
      if (this.current === 'open') this.transition('holdoff', `watchdog: ${why}`);
    }
  }

  private relayOn(): boolean {
    try {
      return this.digital.read() === this.on;
    } catch {
      return false;
    }
  }

  private msLeft(): number {
    const now = this.clock.now();
    if (this.current === 'open') return Math.max(0, this.energisedAt + this.pulseMs - now);
    if (this.current === 'holdoff') return Math.max(0, this.enteredAt + this.holdOffMs - now);
    return 0;
  }
}
