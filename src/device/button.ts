// A call button on a digital input: debounced, with a long press. Contacts bounce for a few
// milliseconds, so an edge only (re)starts a quiet-period timer and the level is believed once
// it has held for the debounce time; a burst of bounces gives one press. At most two timers
// exist (quiet period, long press) whatever the line does, and none after close().
import type { Clock, TimerHandle } from '../util/clock.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import type { Digital, GpioProvider } from './io.ts';

/** Quiet time before a level counts; contact bounce of a door-panel push button is under ~10 ms. */
export const BUTTON_DEBOUNCE_MS = 30;
/** Held this long, a press is a long press (it rings the long-press AORs). */
export const BUTTON_LONG_PRESS_MS = 1500;

export type ButtonPull = 'up' | 'down' | 'none';

export interface ButtonRelease {
  /** From the settled press to the settled release. */
  heldMs: number;
  /** Whether `onLongPress` fired during this press. */
  long: boolean;
}

export interface ButtonComponents {
  gpio: GpioProvider;
  clock: Clock;
  /** Default: silent. */
  logger?: Logger;
}

export interface ButtonInit {
  /** BCM pin. */
  pin: number;
  /** Internal resistor. Default 'up' (button to ground). */
  pull?: ButtonPull;
  /** Level while pressed. Default 0 (active low, with the pull-up). */
  activeLevel?: 0 | 1;
  /** For logs. Default `GPIO <pin>`. */
  label?: string;
  /** Default BUTTON_DEBOUNCE_MS. */
  debounceMs?: number;
  /** Default BUTTON_LONG_PRESS_MS. */
  longPressMs?: number;
  /** The press settled. */
  onPress?: () => void;
  /** Still held `longPressMs` after the press; at most once per press. */
  onLongPress?: () => void;
  /** The release settled after a reported press. */
  onRelease?: (release: ButtonRelease) => void;
}

export interface ButtonStatus {
  label: string;
  pin: number;
  pressed: boolean;
  presses: number;
  longPresses: number;
  /** Edges seen on the line, bounces included. */
  edges: number;
}

export class Button {
  private readonly digital: Digital;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly label: string;
  private readonly activeLevel: 0 | 1;
  private readonly debounceMs: number;
  private readonly longPressMs: number;
  private active: boolean;
  /** A press was reported and its release will be. */
  private reported = false;
  private long = false;
  private pressedAt = 0;
  private debounceTimer: TimerHandle | undefined;
  private longTimer: TimerHandle | undefined;
  private closed = false;
  private readonly counters = { presses: 0, longPresses: 0, edges: 0 };

  constructor(components: ButtonComponents, private readonly init: ButtonInit) {
    this.clock = components.clock;
    this.log = components.logger ?? silentLogger;
    this.label = init.label ?? `GPIO ${init.pin}`;
    this.activeLevel = init.activeLevel ?? 0;
    this.debounceMs = init.debounceMs ?? BUTTON_DEBOUNCE_MS;
    this.longPressMs = init.longPressMs ?? BUTTON_LONG_PRESS_MS;
    if (!(this.debounceMs >= 0) || !(this.longPressMs > 0)) throw new RangeError('debounceMs must be >= 0 and longPressMs > 0');
    const pull = init.pull ?? 'up';
    this.digital = components.gpio.digital({
      pin: init.pin,
      mode: pull === 'up' ? 'inputPullUp' : pull === 'down' ? 'inputPullDown' : 'input',
      onReadable: () => this.edge(),
    });
    this.active = this.digital.read() === this.activeLevel;
    // Held at start (a finger, or a stuck or shorted button): not a press. It is reported
    // only after a release, so a stuck button cannot ring a flat at every boot.
    if (this.active) this.log.warn('button active at start; ignored until released', { button: this.label, pin: init.pin });
  }

  get pressed(): boolean {
    return this.active && this.reported;
  }

  status(): ButtonStatus {
    return { label: this.label, pin: this.init.pin, pressed: this.pressed, ...this.counters };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.debounceTimer);
    this.clock.clearTimeout(this.longTimer);
    this.debounceTimer = this.longTimer = undefined;
    this.digital.close();
  }

  private edge(): void {
    if (this.closed) return;
    this.counters.edges++;
    this.clock.clearTimeout(this.debounceTimer);
    this.debounceTimer = this.clock.setTimeout(() => this.settle(), this.debounceMs);
  }

  private settle(): void {
    this.debounceTimer = undefined;
    if (this.closed) return;
    const active = this.digital.read() === this.activeLevel;
    if (active === this.active) return;
    this.active = active;
    if (active) {
      this.reported = true;
      this.long = false;
      this.pressedAt = this.clock.now();
      this.counters.presses++;
      this.longTimer = this.clock.setTimeout(() => this.longPress(), this.longPressMs);
      this.log.debug('button pressed', { button: this.label });
      this.init.onPress?.();
      return;
    }
    this.clock.clearTimeout(this.longTimer);
    this.longTimer = undefined;
    if (!this.reported) {
      this.log.info('button released after being active at start', { button: this.label });
      return;
    }
    this.reported = false;
    const release = { heldMs: this.clock.now() - this.pressedAt, long: this.long };
    this.log.debug('button released', { button: this.label, ...release });
    this.init.onRelease?.(release);
  }

  private longPress(): void {
    this.longTimer = undefined;
    if (this.closed || !this.active) return;
    this.long = true;
    this.counters.longPresses++;
    this.log.debug('button long press', { button: this.label });
    this.init.onLongPress?.();
  }
}
