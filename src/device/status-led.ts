// The status LED: one pattern at a time, timed by the injected clock. What each pattern
// means on a door panel (STATUS_LED_INDICATIONS):
//
//   off           dark                         the intercom is not running
//   on            steady                       idle: joined the overlay, AORs registered
//   slow-blink    500 ms on / 500 ms off       joining the overlay, or not registered
//   fast-blink    100 ms on / 100 ms off       ringing: a call is being placed
//   double-blink  two 150 ms flashes a second  a call is active (someone answered)
//
// Steady-on is "all well" because a visitor reads a dark or blinking panel as "wait" and a
// lit one as "ready"; the two call states blink so they are told apart from idle at a glance.
import type { Clock, TimerHandle } from '../util/clock.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import type { Digital, GpioProvider } from './io.ts';

export type LedPattern = 'off' | 'on' | 'slow-blink' | 'fast-blink' | 'double-blink';

/** What the application shows; the same words as the intercom's indicator. */
export type StatusIndication = 'off' | 'idle' | 'joining' | 'ringing' | 'call';

export const STATUS_LED_INDICATIONS: Readonly<Record<StatusIndication, LedPattern>> = {
  off: 'off',
  idle: 'on',
  joining: 'slow-blink',
  ringing: 'fast-blink',
  call: 'double-blink',
};

/**
 * Each blinking pattern as alternating on/off durations, starting lit, repeated. Steady
 * patterns have none (and no timer).
 */
export const LED_PATTERN_STEPS_MS: Readonly<Record<LedPattern, readonly number[]>> = {
  off: [],
  on: [],
  'slow-blink': [500, 500],
  'fast-blink': [100, 100],
  'double-blink': [150, 150, 150, 550],
};

export interface StatusLedComponents {
  gpio: GpioProvider;
  clock: Clock;
  /** Default: silent. */
  logger?: Logger;
}

export interface StatusLedInit {
  /** BCM pin. */
  pin: number;
  /** Level that lights the LED. Default 1. */
  activeLevel?: 0 | 1;
  /** Pattern at start. Default 'off'. */
  pattern?: LedPattern;
}

export class StatusLed {
  private readonly digital: Digital;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly on: 0 | 1;
  private current: LedPattern = 'off';
  private lit = false;
  private step = 0;
  /** When the current step is due to end; the next one is timed from it, so blinking does not drift. */
  private stepEndsAt = 0;
  private timer: TimerHandle | undefined;
  private closed = false;

  constructor(components: StatusLedComponents, private readonly init: StatusLedInit) {
    this.clock = components.clock;
    this.log = components.logger ?? silentLogger;
    this.on = init.activeLevel ?? 1;
    this.digital = components.gpio.digital({ pin: init.pin, mode: 'output', initialValue: this.on ? 0 : 1 });
    this.light(false);
    this.set(init.pattern ?? 'off');
  }

  get pattern(): LedPattern {
    return this.current;
  }

  /** Whether the LED is lit at this moment. */
  get isLit(): boolean {
    return this.lit;
  }

  /** Shows `pattern`. The same pattern again keeps its rhythm instead of restarting it. */
  set(pattern: LedPattern): void {
    if (this.closed) return;
    if (!(pattern in LED_PATTERN_STEPS_MS)) throw new Error(`unknown LED pattern "${pattern}"`);
    if (pattern === this.current) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.log.debug('status LED', { from: this.current, to: pattern });
    this.current = pattern;
    const steps = LED_PATTERN_STEPS_MS[pattern];
    if (steps.length === 0) {
      this.light(pattern === 'on');
      return;
    }
    this.step = 0;
    this.light(true);
    this.stepEndsAt = this.clock.now() + steps[0];
    this.timer = this.clock.setTimeout(() => this.next(), steps[0]);
  }

  /** Shows what the application means; see STATUS_LED_INDICATIONS. */
  show(indication: StatusIndication): void {
    const pattern = STATUS_LED_INDICATIONS[indication];
    if (!pattern) throw new Error(`unknown status indication "${indication}"`);
    this.set(pattern);
  }

  status(): { pin: number; pattern: LedPattern; lit: boolean } {
    return { pin: this.init.pin, pattern: this.current, lit: this.lit };
  }

  /** Turns the LED off and releases the pin; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.light(false);
    this.digital.close();
  }

  private next(): void {
    this.timer = undefined;
    if (this.closed) return;
    const steps = LED_PATTERN_STEPS_MS[this.current];
    this.step = (this.step + 1) % steps.length;
    // Even steps are lit, odd ones dark.
    this.light(this.step % 2 === 0);
    this.stepEndsAt += steps[this.step];
    // After a stall (a blocked event loop) start afresh instead of flickering to catch up.
    if (this.stepEndsAt < this.clock.now()) this.stepEndsAt = this.clock.now() + steps[this.step];
    this.timer = this.clock.setTimeout(() => this.next(), Math.max(0, this.stepEndsAt - this.clock.now()));
  }

  private light(lit: boolean): void {
    this.lit = lit;
    this.digital.write(lit ? this.on : this.on ? 0 : 1);
  }
}
