// A serial line in the shape of ECMA-419 (§10 Serial): the options bag carries the callbacks,
// `read()` takes what has arrived, `write()` never blocks and `writable` says how much it will
// take. Drivers such as the technician console receive a `SerialFactory`, so a UART on a
// board (`NodeSerial`) and an in-memory line in tests (`MemorySerial`) are interchangeable.
import { createRequire } from 'node:module';
import type { SerialPortStream } from '@serialport/stream';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.ts';
import { createLogger, type Logger } from '../util/log.ts';

/** Line speed when the configuration names none: what USB-serial consoles default to. */
export const SERIAL_DEFAULT_BAUD_RATE = 115_200;
/** Received bytes kept until `read()`; more are dropped and counted. */
export const SERIAL_RECEIVE_BUFFER_BYTES = 4096;
/** Bytes handed to the OS but not yet sent; `writable` is what is left of this. */
export const SERIAL_TRANSMIT_BUFFER_BYTES = 4096;
/** First delay before reopening a line that failed or disappeared. */
export const SERIAL_RECONNECT_MIN_MS = 500;
/** Longest delay between reopening attempts: a replugged adapter is found within this. */
export const SERIAL_RECONNECT_MAX_MS = 30_000;

export interface SerialOptions {
  /** Device path: `/dev/ttyUSB0`, `/dev/serial0`, a pty. */
  path: string;
  /** Bits per second; default `SERIAL_DEFAULT_BAUD_RATE`. */
  baudRate?: number;
  /** Bytes arrived; `count` is how many `read()` would return now. */
  onReadable?: (count: number) => void;
  /** Transmit space freed; `count` is the current `writable`. */
  onWritable?: (count: number) => void;
  /** The line failed or went away. Informational: the line recovers by itself where it can. */
  onError?: (error: Error) => void;
}

export interface Serial {
  readonly path: string;
  /** Bytes `write()` accepts now; more than this is refused and counted. */
  readonly writable: number;
  /** Everything received since the last call, or `undefined` when nothing has arrived. */
  read(): Uint8Array | undefined;
  /** Queues bytes for sending without blocking; the bytes are copied. Throws after `close()`. */
  write(bytes: Uint8Array): void;
  /**
   * Stops every callback at once and releases the device. Idempotent. A returned promise
   * settles when the operating system has let go of the device.
   */
  close(): void | Promise<void>;
}

/** How a driver opens its line: `(o) => new NodeSerial(o)` on a board. */
export type SerialFactory = (options: SerialOptions) => Serial;

/** What refused or lost bytes a line has counted, for status reports. */
export interface SerialCounters {
  receiveDroppedBytes: number;
  transmitDroppedBytes: number;
  reconnects: number;
}

export interface NodeSerialOptions extends SerialOptions {
  /** Default `SERIAL_RECONNECT_MIN_MS`; doubles on each failure up to `reconnectMaxMs`. */
  reconnectMinMs?: number;
  /** Default `SERIAL_RECONNECT_MAX_MS`. */
  reconnectMaxMs?: number;
  /** Default `SERIAL_RECEIVE_BUFFER_BYTES`. */
  receiveBufferBytes?: number;
  /** Default `SERIAL_TRANSMIT_BUFFER_BYTES`. */
  transmitBufferBytes?: number;
}

export interface NodeSerialComponents {
  /** Default `systemClock`. */
  clock?: Clock;
  /** Default the `device:serial` logger. */
  log?: Logger;
}

type SerialModules = {
  SerialPortStream: typeof SerialPortStream;
  binding: ConstructorParameters<typeof SerialPortStream>[0]['binding'];
};
let serialModules: SerialModules | undefined;

/**
 * The native binding is loaded here, on first use, and never at module load: a peer without
 * a serial console must start on a board where no prebuilt binary exists.
 */
function loadSerialModules(): SerialModules {
  if (!serialModules) {
    const requireNative = createRequire(import.meta.url);
    const stream = requireNative('@serialport/stream') as typeof import('@serialport/stream');
    const bindings = requireNative('@serialport/bindings-cpp') as typeof import('@serialport/bindings-cpp');
    serialModules = { SerialPortStream: stream.SerialPortStream, binding: bindings.autoDetect() };
  }
  return serialModules;
}

type Attempt = { port: SerialPortStream; opened: Promise<Error | null> };
type NodeSerialState = 'opening' | 'open' | 'waiting' | 'closed';

/**
 * A UART or USB-serial adapter through `@serialport/bindings-cpp`. The line reopens with
 * backoff whenever it fails or disappears (an adapter unplugged), so a console outlives a
 * cable; failures are logged once per outage and never thrown into a callback.
 * The constructor throws only when the native binding cannot be loaded on this board.
 */
export class NodeSerial implements Serial {
  readonly path: string;
  readonly counters: SerialCounters = { receiveDroppedBytes: 0, transmitDroppedBytes: 0, reconnects: 0 };
  private readonly options: NodeSerialOptions;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly modules: SerialModules;
  private state: NodeSerialState = 'opening';
  private attempt: Attempt | undefined;
  private received: Uint8Array[] = [];
  private receivedBytes = 0;
  private failures = 0;
  private timer: TimerHandle | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: NodeSerialOptions, components: NodeSerialComponents = {}) {
    this.path = options.path;
    this.options = options;
    this.clock = components.clock ?? systemClock;
    this.log = components.log ?? createLogger('device:serial');
    this.modules = loadSerialModules();
    this.open();
  }

  get writable(): number {
    const bound = this.options.transmitBufferBytes ?? SERIAL_TRANSMIT_BUFFER_BYTES;
    if (this.state === 'closed') return 0;
    // While the line is down, writes are discarded: output for a terminal that is not there.
    if (this.state === 'waiting' || !this.attempt) return bound;
    return Math.max(0, bound - this.attempt.port.writableLength);
  }

  read(): Uint8Array | undefined {
    if (this.receivedBytes === 0) return undefined;
    const bytes = this.received.length === 1 ? this.received[0]! : Buffer.concat(this.received, this.receivedBytes);
    this.received = [];
    this.receivedBytes = 0;
    return bytes;
  }

  write(bytes: Uint8Array): void {
    if (this.state === 'closed') throw new Error(`serial ${this.path} is closed`);
    const room = this.writable;
    const n = Math.min(room, bytes.length);
    this.counters.transmitDroppedBytes += bytes.length - n;
    const attempt = this.attempt;
    if (n === 0 || this.state === 'waiting' || !attempt) return;
    // Before the port is open the stream holds the bytes and sends them on open.
    attempt.port.write(Buffer.from(bytes.subarray(0, n)), () => {
      if (this.attempt === attempt && this.state !== 'closed') this.notify('onWritable', this.writable);
    });
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.state = 'closed';
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.received = [];
    this.receivedBytes = 0;
    const attempt = this.attempt;
    this.attempt = undefined;
    this.closing = attempt ? release(attempt) : Promise.resolve();
    return this.closing;
  }

  private open(): void {
    const { SerialPortStream, binding } = this.modules;
    const bufferBytes = this.options.receiveBufferBytes ?? SERIAL_RECEIVE_BUFFER_BYTES;
    let port: SerialPortStream;
    try {
      // The stream's read pool is as large as its high-water mark (64 KiB by default).
      port = new SerialPortStream({
        binding,
        path: this.path,
        baudRate: this.options.baudRate ?? SERIAL_DEFAULT_BAUD_RATE,
        autoOpen: false,
        highWaterMark: Math.max(1024, bufferBytes),
      });
    } catch (e) {
      // Invalid options: retrying cannot help, so report and stay down until closed.
      this.state = 'waiting';
      this.report(e as Error, true);
      return;
    }
    const opened = new Promise<Error | null>((resolve) => port.open((err) => resolve(err)));
    const attempt: Attempt = { port, opened };
    this.attempt = attempt;
    this.state = 'opening';
    port.on('data', (chunk: Buffer) => this.receive(attempt, chunk));
    port.on('error', (err: Error) => this.lost(attempt, err));
    port.on('close', (err: Error | null) => this.lost(attempt, err ?? new Error('serial line closed')));
    void opened.then((err) => {
      if (this.attempt !== attempt) return;
      if (err) return this.lost(attempt, err);
      this.state = 'open';
      if (this.failures > 0) {
        this.counters.reconnects++;
        this.log.info('serial line back', { path: this.path, after: this.failures });
      }
      this.failures = 0;
      this.notify('onWritable', this.writable);
    });
  }

  private receive(attempt: Attempt, chunk: Buffer): void {
    if (this.attempt !== attempt) return;
    const bound = this.options.receiveBufferBytes ?? SERIAL_RECEIVE_BUFFER_BYTES;
    const n = Math.min(chunk.length, bound - this.receivedBytes);
    this.counters.receiveDroppedBytes += chunk.length - Math.max(0, n);
    if (n <= 0) return;
    // A copy: the stream's chunk is a view into its shared read pool.
    this.received.push(chunk.subarray(0, n).slice());
    this.receivedBytes += n;
    this.notify('onReadable', this.receivedBytes);
  }

  /** The line failed to open, errored or disappeared: drop it and try again later. */
  private lost(attempt: Attempt, err: Error): void {
    if (this.attempt !== attempt || this.state === 'closed') return;
    this.attempt = undefined;
    this.state = 'waiting';
    void release(attempt);
    this.failures++;
    this.report(err, this.failures === 1);
    const min = this.options.reconnectMinMs ?? SERIAL_RECONNECT_MIN_MS;
    const max = this.options.reconnectMaxMs ?? SERIAL_RECONNECT_MAX_MS;
    const delay = Math.min(max, min * 2 ** Math.min(this.failures - 1, 20));
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.state === 'waiting') this.open();
    }, delay);
    // Transmit space is all free again: pending output now goes nowhere instead of piling up.
    this.notify('onWritable', this.writable);
  }

  private report(err: Error, first: boolean): void {
    // One warning per outage; the retries of a long unplug are debug noise.
    if (first) this.log.warn('serial line down', { path: this.path, error: err });
    else this.log.debug('serial line still down', { path: this.path, error: err, attempts: this.failures });
    this.notify('onError', err);
  }

  private notify<K extends 'onReadable' | 'onWritable' | 'onError'>(name: K, arg: Parameters<NonNullable<SerialOptions[K]>>[0]): void {
    const callback = this.options[name] as ((a: typeof arg) => void) | undefined;
    if (!callback) return;
    try {
      callback(arg);
    } catch (e) {
      this.log.error('serial callback threw', { path: this.path, callback: name, error: e });
    }
  }
}

/** Detaches an attempt and closes its port, waiting for an open still in flight. */
async function release(attempt: Attempt): Promise<void> {
  const { port } = attempt;
  port.removeAllListeners('data');
  port.removeAllListeners('close');
  port.removeAllListeners('error');
  // Pending writes fail as the port closes; nobody is listening for that any more.
  port.on('error', () => {});
  const err = await attempt.opened;
  if (err || !port.isOpen) return;
  await new Promise<void>((resolve) => port.close(() => resolve()));
}

export interface MemorySerialInit {
  /** Default `SERIAL_RECEIVE_BUFFER_BYTES`. */
  receiveBufferBytes?: number;
  /** Default `SERIAL_TRANSMIT_BUFFER_BYTES`. */
  transmitBufferBytes?: number;
}

/**
 * A serial line in memory, for the board simulator and tests: the far end pushes bytes with
 * `receive()` and takes what was written with `transmitted()`, which frees transmit space.
 */
export class MemorySerial implements Serial {
  readonly path: string;
  readonly counters: SerialCounters = { receiveDroppedBytes: 0, transmitDroppedBytes: 0, reconnects: 0 };
  private readonly options: SerialOptions;
  private readonly receiveBound: number;
  private readonly transmitBound: number;
  private rx: number[] = [];
  private tx: number[] = [];
  private closed = false;

  constructor(options: SerialOptions, init: MemorySerialInit = {}) {
    this.path = options.path;
    this.options = options;
    this.receiveBound = init.receiveBufferBytes ?? SERIAL_RECEIVE_BUFFER_BYTES;
    this.transmitBound = init.transmitBufferBytes ?? SERIAL_TRANSMIT_BUFFER_BYTES;
  }

  get writable(): number {
    return this.closed ? 0 : this.transmitBound - this.tx.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  read(): Uint8Array | undefined {
    if (this.rx.length === 0) return undefined;
    const bytes = Uint8Array.from(this.rx);
    this.rx = [];
    return bytes;
  }

  write(bytes: Uint8Array): void {
    if (this.closed) throw new Error(`serial ${this.path} is closed`);
    const n = Math.min(this.writable, bytes.length);
    this.counters.transmitDroppedBytes += bytes.length - n;
    for (let i = 0; i < n; i++) this.tx.push(bytes[i]!);
  }

  close(): void {
    this.closed = true;
  }

  /** The far end sends `bytes`; over the receive bound the rest is dropped and counted. */
  receive(bytes: Uint8Array | string): void {
    if (this.closed) return;
    const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
    const n = Math.min(data.length, this.receiveBound - this.rx.length);
    this.counters.receiveDroppedBytes += data.length - n;
    for (let i = 0; i < n; i++) this.rx.push(data[i]!);
    if (n > 0) this.options.onReadable?.(this.rx.length);
  }

  /** The far end takes everything written so far, freeing transmit space. */
  transmitted(): Uint8Array {
    const bytes = Uint8Array.from(this.tx);
    this.tx = [];
    if (!this.closed && bytes.length > 0) this.options.onWritable?.(this.writable);
    return bytes;
  }
}
