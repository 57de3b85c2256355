// Device I/O in the shape of ECMA-419 (the embedded IO class pattern): small typed classes,
// an options bag, callbacks on change. Drivers (button, door strike, LED) take the class they
// use, so a board provider (rpio on a Pi, the simulator elsewhere) can be swapped under them.

/** A digital pin (ECMA-419 §9 Digital). */
export interface Digital {
  /** 0 or 1. */
  read(): number;
  /** Output pins only. */
  write(value: number): void;
  close(): void;
}

export interface DigitalOptions {
  /** BCM GPIO number on a Raspberry Pi; any number on the simulator. */
  pin: number;
  mode: 'input' | 'inputPullUp' | 'inputPullDown' | 'output';
  /** Input pins: called on every edge (ECMA-419 `onReadable`); the driver reads the value. */
  onReadable?: () => void;
  /**
   * Output pins: the level set before the pin starts driving, so a relay never sees a glitch
   * between opening the pin and the driver's first write. Default: the pin's current latch.
   */
  initialValue?: number;
}

/** What a board gives its drivers: digital pins. */
export interface GpioProvider {
  readonly name: string;
  digital(options: DigitalOptions): Digital;
  close(): void;
}
