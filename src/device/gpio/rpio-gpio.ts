// GPIO on a Raspberry Pi through the `rpio` npm package (memory-mapped /dev/gpiomem, BCM
// numbering). `rpio` is a native module and an optional dependency: it is loaded here, when a
// board asks for it, and never at module top level, so the bundle and the tests run on
// machines where it is absent or not built.
import { createRequire } from 'node:module';
import { silentLogger, type Logger } from '../../util/log.ts';
import type { Digital, DigitalOptions, GpioProvider } from '../io.ts';

/**
 * How often watched inputs are sampled. Far below a button's debounce time, and a fifth of the
 * wake-ups of rpio's own 1 ms poll().
 */
export const RPIO_SAMPLE_INTERVAL_MS = 5;

/** The part of rpio 2.x this provider uses. */
export interface RpioModule {
  init(options: { gpiomem?: boolean; mapping?: 'gpio' | 'physical'; mock?: string | false; close_on_exit?: boolean }): void;
  open(pin: number, mode: number, init?: number): void;
  read(pin: number): number;
  write(pin: number, value: number): void;
  close(pin: number, reset?: number): void;
  on(event: 'warn', listener: (message: string) => void): unknown;
  removeListener(event: 'warn', listener: (message: string) => void): unknown;
  readonly INPUT: number;
  readonly OUTPUT: number;
  readonly PULL_OFF: number;
  readonly PULL_DOWN: number;
  readonly PULL_UP: number;
  readonly PIN_PRESERVE: number;
  readonly PIN_RESET: number;
}

/** The hardware (or its driver) is not there: a configuration problem, not a bug. */
export class GpioUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GpioUnavailableError';
  }
}

export interface RpioGpioComponents {
  /** Default: silent. */
  logger?: Logger;
}

export interface RpioGpioInit {
  /**
   * rpio's mock board (e.g. `raspi-3`): pins are simulated in memory. Default: none, and a
   * machine rpio does not recognise as a Pi is an error rather than a silent mock, since a
   * door panel whose relay is a mock would never open the door.
   */
  mock?: string;
  /** Loads the module. Default: `require('rpio')` relative to this file (or the bundle). */
  load?: () => unknown;
  /** Sampling period of inputs with `onReadable`. Default RPIO_SAMPLE_INTERVAL_MS. */
  sampleIntervalMs?: number;
}

interface Watched {
  pin: number;
  last: number;
  onReadable: () => void;
}

function loadRpio(load: (() => unknown) | undefined): RpioModule {
  let mod: unknown;
  try {
    mod = load ? load() : createRequire(import.meta.url)('rpio');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && /['"]rpio['"]/.test(err.message)) {
      throw new GpioUnavailableError(
        "GPIO provider 'rpio' needs the npm package rpio, which is not installed; on the Pi run " +
          "`npm install rpio` next to the bundle (it compiles a native module: needs python3, make, g++), " +
          "or use a board with \"gpio\": \"sim\"",
        { cause: e },
      );
    }
    throw new GpioUnavailableError(
      `GPIO provider 'rpio': the rpio package is installed but cannot be loaded (${err.message}); ` +
        'rebuild it on the Pi with `npm rebuild rpio`, or use a board with "gpio": "sim"',
      { cause: e },
    );
  }
  const m = mod as Partial<RpioModule> | null;
  if (!m || typeof m.init !== 'function' || typeof m.open !== 'function' || typeof m.read !== 'function') {
    throw new GpioUnavailableError("GPIO provider 'rpio': the loaded rpio module lacks init/open/read; expected rpio 2.x");
  }
  return m as RpioModule;
}

export class RpioGpio implements GpioProvider {
  readonly name = 'rpio';
  private readonly rpio: RpioModule;
  private readonly log: Logger;
  private readonly open = new Map<number, Digital>();
  private readonly watched = new Map<number, Watched>();
  private readonly sampleIntervalMs: number;
  private sampler: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(components: RpioGpioComponents = {}, init: RpioGpioInit = {}) {
    this.log = components.logger ?? silentLogger;
    this.sampleIntervalMs = init.sampleIntervalMs ?? RPIO_SAMPLE_INTERVAL_MS;
    this.rpio = loadRpio(init.load);
    const warnings: string[] = [];
    const onWarn = (message: string): void => {
      warnings.push(message);
    };
    // rpio reports a failed board detection as a 'warn' event and falls back to a mock.
    this.rpio.on('warn', onWarn);
    try {
      // BCM numbering as in the board files; /dev/gpiomem needs no root; and no exit handler
      // of rpio's own: the application's exit hooks drive the relay off, then close.
      this.rpio.init({ mapping: 'gpio', gpiomem: true, mock: init.mock ?? false, close_on_exit: false });
    } catch (e) {
      throw new GpioUnavailableError(`GPIO provider 'rpio' could not open the GPIO: ${(e as Error).message}`, { cause: e });
    } finally {
      this.rpio.removeListener('warn', onWarn);
    }
    if (init.mock === undefined && warnings.some((w) => /mock/i.test(w))) {
      throw new GpioUnavailableError(
        `GPIO provider 'rpio': this machine is not a Raspberry Pi rpio can drive (${warnings.join('; ')}); ` +
          'use a board with "gpio": "sim" here',
      );
    }
    this.log.info('rpio GPIO ready', { mock: init.mock ?? null });
  }

  digital(options: DigitalOptions): Digital {
    if (this.closed) throw new Error('GPIO provider rpio is closed');
    const { pin, mode, onReadable } = options;
    if (this.open.has(pin)) throw new Error(`GPIO ${pin} is already open`);
    const r = this.rpio;
    if (mode === 'output') {
      // rpio writes the initial level before switching the pin to output: no glitch.
      if (options.initialValue !== undefined) r.open(pin, r.OUTPUT, options.initialValue ? 1 : 0);
      else r.open(pin, r.OUTPUT);
    } else {
      const pull = mode === 'inputPullUp' ? r.PULL_UP : mode === 'inputPullDown' ? r.PULL_DOWN : r.PULL_OFF;
      r.open(pin, r.INPUT, pull);
      if (onReadable) this.watch({ pin, last: r.read(pin) ? 1 : 0, onReadable });
    }
    let pinClosed = false;
    const digital: Digital = {
      read: () => {
        if (pinClosed) throw new Error(`GPIO ${pin} is closed`);
        return r.read(pin) ? 1 : 0;
      },
      write: (value: number) => {
        if (pinClosed) throw new Error(`GPIO ${pin} is closed`);
        if (mode !== 'output') throw new Error(`GPIO ${pin} is an input; it cannot be written`);
        if (value !== 0 && value !== 1) throw new RangeError(`GPIO ${pin}: level must be 0 or 1, got ${value}`);
        r.write(pin, value);
      },
      close: () => {
        if (pinClosed) return;
        pinClosed = true;
        this.open.delete(pin);
        this.unwatch(pin);
        // Outputs keep driving the level the driver left (a relay driven off stays off; a
        // pin reset to input would float, or be pulled up at GPIO 0-8). Inputs are released.
        r.close(pin, mode === 'output' ? r.PIN_PRESERVE : r.PIN_RESET);
      },
    };
    this.open.set(pin, digital);
    return digital;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const d of [...this.open.values()]) d.close();
  }

  /**
   * Inputs are sampled rather than watched with rpio.poll(): that one reads the SoC's
   * edge-detect registers, which current kernels also use for GPIO interrupts (rpio asks for
   * `dtoverlay=gpio-no-irq`, else crashes), and wakes the process every millisecond.
   */
  private watch(w: Watched): void {
    this.watched.set(w.pin, w);
    if (this.sampler) return;
    this.sampler = setInterval(() => this.sample(), this.sampleIntervalMs);
    // The application keeps the process alive; a sampler alone must not.
    this.sampler.unref();
  }

  private unwatch(pin: number): void {
    this.watched.delete(pin);
    if (this.watched.size > 0 || !this.sampler) return;
    clearInterval(this.sampler);
    this.sampler = undefined;
  }

  private sample(): void {
    const due: Array<() => void> = [];
    for (const w of this.watched.values()) {
      const level = this.rpio.read(w.pin) ? 1 : 0;
      if (level === w.last) continue;
      w.last = level;
      due.push(w.onReadable);
    }
    for (const fn of due) fn();
  }
}
