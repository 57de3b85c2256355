// A simulated 40-pin header for tests and for running the intercom on a machine without GPIO.
// Output pins can be wired to input pins (a relay's coil to a "door sense" input, so a test
// can watch the pulse); tests drive inputs as a finger on a button would. Levels can be kept
// in a small state file so another process, or this device after a SIGKILL and restart, sees
// what a pin was left at: a real output latch keeps driving a relay after its process dies,
// and the simulator models exactly that.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { silentLogger, type Logger } from '../../util/log.ts';
import type { Digital, DigitalOptions, GpioProvider } from '../io.ts';

export type Level = 0 | 1;
export type PinMode = DigitalOptions['mode'];

/** An output pin whose level is copied onto an input pin, as a jumper wire would. */
export interface SimWire {
  from: number;
  to: number;
}

/** What the state file records per pin. */
export interface SimPinState {
  mode: PinMode;
  level: Level;
}

export interface SimGpioComponents {
  /** Default: silent. */
  logger?: Logger;
}

export interface SimGpioInit {
  /**
   * File the pin levels are written to (atomically, on every change) and read from at
   * construction, so output latches survive a restart. Default: none, levels live in memory.
   */
  stateFile?: string;
  /** Wires from output pins to input pins. Default: none; `wire()` adds more. */
  wires?: SimWire[];
}

interface OpenPin {
  mode: PinMode;
  onReadable: (() => void) | undefined;
  /** Level last reported to `onReadable`, so only real edges call back. */
  seen: Level;
}

function toLevel(value: number, pin: number): Level {
  if (value !== 0 && value !== 1) throw new RangeError(`GPIO ${pin}: level must be 0 or 1, got ${value}`);
  return value;
}

/** Reads a simulator state file written by another process; an absent file is an empty header. */
export function readSimStateFile(path: string): Map<number, SimPinState> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw e;
  }
  const parsed = JSON.parse(text) as { pins?: Record<string, { mode?: unknown; level?: unknown }> };
  const pins = new Map<number, SimPinState>();
  const modes: readonly string[] = ['input', 'inputPullUp', 'inputPullDown', 'output'];
  for (const [key, v] of Object.entries(parsed.pins ?? {})) {
    const pin = Number(key);
    if (!Number.isInteger(pin) || typeof v !== 'object' || v === null) continue;
    if (typeof v.mode !== 'string' || !modes.includes(v.mode) || (v.level !== 0 && v.level !== 1)) continue;
    pins.set(pin, { mode: v.mode as PinMode, level: v.level });
  }
  return pins;
}

export class SimGpio implements GpioProvider {
  readonly name = 'sim';
  /** Output latches, including those left by a previous run and not yet reopened. */
  private readonly latches = new Map<number, Level>();
  /** Levels forced onto inputs from outside (a pressed button). */
  private readonly driven = new Map<number, Level>();
  /** Input pin → the output pin wired to it. */
  private readonly wires = new Map<number, number>();
  private readonly pins = new Map<number, OpenPin>();
  private readonly log: Logger;
  private readonly stateFile: string | undefined;
  private lastWritten = '';
  private closed = false;

  constructor(components: SimGpioComponents = {}, init: SimGpioInit = {}) {
    this.log = components.logger ?? silentLogger;
    this.stateFile = init.stateFile;
    if (this.stateFile) {
      try {
        for (const [pin, s] of readSimStateFile(this.stateFile)) if (s.mode === 'output') this.latches.set(pin, s.level);
      } catch (e) {
        // A torn or foreign file is dropped, as a real board forgets nothing useful either.
        this.log.warn('ignoring unreadable GPIO state file', { file: this.stateFile, error: e });
      }
    }
    for (const w of init.wires ?? []) this.wire(w.from, w.to);
  }

  digital(options: DigitalOptions): Digital {
    if (this.closed) throw new Error('GPIO provider sim is closed');
    const { pin, mode } = options;
    if (!Number.isInteger(pin) || pin < 0) throw new RangeError(`GPIO ${pin} is not a pin number`);
    if (this.pins.has(pin)) throw new Error(`GPIO ${pin} is already open`);
    if (mode === 'output') {
      if (options.initialValue !== undefined) this.latches.set(pin, toLevel(options.initialValue, pin));
      else if (!this.latches.has(pin)) this.latches.set(pin, 0);
    } else {
      // The pin changes function: whatever its latch held no longer reaches the header.
      this.latches.delete(pin);
    }
    const open: OpenPin = { mode, onReadable: options.onReadable, seen: 0 };
    this.pins.set(pin, open);
    open.seen = this.level(pin);
    this.changed();
    let pinClosed = false;
    const check = (): void => {
      if (pinClosed || this.closed) throw new Error(`GPIO ${pin} is closed`);
    };
    return {
      read: () => {
        check();
        return this.level(pin);
      },
      write: (value: number) => {
        check();
        if (mode !== 'output') throw new Error(`GPIO ${pin} is an input; it cannot be written`);
        const level = toLevel(value, pin);
        if (this.latches.get(pin) === level) return;
        this.latches.set(pin, level);
        this.changed();
      },
      close: () => {
        if (pinClosed) return;
        pinClosed = true;
        // Like rpio's PIN_PRESERVE: a closed output keeps its latch, a closed input floats.
        if (this.pins.get(pin) === open) this.pins.delete(pin);
        if (!this.closed) this.changed();
      },
    };
  }

  /** Wires output `from` to input `to`: the input follows the output's level. */
  wire(from: number, to: number): void {
    if (from === to) throw new Error(`GPIO ${from} cannot be wired to itself`);
    if (this.wires.has(from)) throw new Error(`GPIO ${from} is an input end of a wire; it cannot drive one`);
    for (const src of this.wires.values()) if (src === to) throw new Error(`GPIO ${to} drives a wire; it cannot be an input end`);
    this.wires.set(to, from);
    this.changed();
  }

  /** Forces input `pin` to `value`, as a pressed button pulls it to ground (0) or 3.3 V (1). */
  drive(pin: number, value: number): void {
    this.driven.set(pin, toLevel(value, pin));
    this.changed();
  }

  /** Stops forcing input `pin`: it returns to its wire or its pull. */
  release(pin: number): void {
    if (this.driven.delete(pin)) this.changed();
  }

  /** The level a voltmeter would read on `pin`, open or not. */
  level(pin: number): Level {
    const latch = this.latches.get(pin);
    if (latch !== undefined) return latch;
    const forced = this.driven.get(pin);
    if (forced !== undefined) return forced;
    const from = this.wires.get(pin);
    const fromLevel = from === undefined ? undefined : this.latches.get(from);
    if (fromLevel !== undefined) return fromLevel;
    // An unconnected input with no pull floats; the simulator reads it low.
    return this.pins.get(pin)?.mode === 'inputPullUp' ? 1 : 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pins.clear();
  }

  /** Reports edges on open inputs and keeps the state file current. */
  private changed(): void {
    const due: Array<() => void> = [];
    for (const [pin, p] of this.pins) {
      if (p.mode === 'output') continue;
      const now = this.level(pin);
      if (now === p.seen) continue;
      p.seen = now;
      if (p.onReadable) due.push(p.onReadable);
    }
    this.persist();
    // Levels are recorded before anyone is called, so a callback that writes a pin sees a
    // consistent header and its own edges are reported once, by the nested call.
    for (const fn of due) fn();
  }

  private persist(): void {
    if (!this.stateFile) return;
    const pins: Record<string, SimPinState> = {};
    const known = new Set<number>([...this.latches.keys(), ...this.pins.keys()]);
    for (const pin of [...known].sort((a, b) => a - b)) {
      pins[pin] = { mode: this.pins.get(pin)?.mode ?? 'output', level: this.level(pin) };
    }
    const text = `${JSON.stringify({ pins })}\n`;
    if (text === this.lastWritten) return;
    // Temp file and rename: a reader, or a restart after SIGKILL, sees the old or the new
    // state, never half of one. No fsync: the simulator models a process crash, not power loss.
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.stateFile), { recursive: true });
      writeFileSync(tmp, text);
      renameSync(tmp, this.stateFile);
      this.lastWritten = text;
    } catch (e) {
      this.log.warn('could not write GPIO state file', { file: this.stateFile, error: e });
    }
  }
}
