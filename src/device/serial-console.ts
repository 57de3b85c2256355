// The technician console on a serial line: the same commands as the control socket and MQTT,
// typed at a terminal. Input is a byte stream from whoever is on the cable, so every line,
// queue and buffer is bounded and nothing typed can stop the console or the peer.
import { jsonReplacer, type CommandInterpreter } from '../control/control-server.ts';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.ts';
import { createLogger, type Logger } from '../util/log.ts';
import type { Serial, SerialFactory } from './serial.ts';

/** What the console shows when it waits for a line. */
export const CONSOLE_PROMPT = 'p2psip> ';
/** Longest command line; a longer one is discarded whole when its terminator arrives. */
export const CONSOLE_MAX_LINE_BYTES = 256;
/** Output waiting for transmit space; a result past this is cut short with a marker. */
export const CONSOLE_MAX_OUTPUT_BYTES = 16 * 1024;
/** Lines typed ahead while a command runs; more are refused with a message. */
export const CONSOLE_MAX_PENDING_LINES = 8;
/** A command still running after this is reported as timed out and the console moves on. */
export const CONSOLE_COMMAND_TIMEOUT_MS = 30_000;
/** `log tail` without N. */
export const CONSOLE_LOG_TAIL_DEFAULT_LINES = 20;
/** Lines a `LogRing` keeps by default. */
export const LOG_RING_CAPACITY = 200;
/** Characters a `LogRing` keeps of one line by default. */
export const LOG_RING_MAX_LINE_CHARS = 512;

const CR = 0x0d;
const LF = 0x0a;
const BS = 0x08;
const DEL = 0x7f;
const ESC = 0x1b;
const TAB = 0x09;
const CTRL_C = 0x03;
/** Longest escape sequence skipped before the bytes count as text again. */
const MAX_ESCAPE_BYTES = 16;
const TRUNCATED = ' [output truncated]';

export interface LogRingInit {
  /** Default `LOG_RING_CAPACITY`. */
  capacity?: number;
  /** Default `LOG_RING_MAX_LINE_CHARS`; longer lines are cut and end in `…`. */
  maxLineChars?: number;
}

/**
 * The most recent log lines in memory, for `log tail` on a device without a disk log.
 * `push` is a `LogSink`, so the composition root can tee the logger into it.
 */
export class LogRing {
  readonly capacity: number;
  private readonly maxLineChars: number;
  private readonly lines: string[] = [];
  private next = 0;

  constructor(init: LogRingInit = {}) {
    this.capacity = Math.max(1, init.capacity ?? LOG_RING_CAPACITY);
    this.maxLineChars = Math.max(1, init.maxLineChars ?? LOG_RING_MAX_LINE_CHARS);
  }

  get size(): number {
    return this.lines.length;
  }

  readonly push = (line: string): void => {
    const kept = line.length > this.maxLineChars ? `${line.slice(0, this.maxLineChars - 1)}…` : line;
    if (this.lines.length < this.capacity) this.lines.push(kept);
    else this.lines[this.next] = kept;
    this.next = (this.next + 1) % this.capacity;
  };

  /** The last `n` lines, oldest first. */
  tail(n: number = this.capacity): string[] {
    const count = Math.max(0, Math.min(Math.floor(n), this.lines.length));
    const out: string[] = [];
    const start = this.lines.length < this.capacity ? this.lines.length - count : this.next - count + this.capacity;
    for (let i = 0; i < count; i++) out.push(this.lines[(start + i) % this.lines.length]!);
    return out;
  }
}

export interface SerialConsoleComponents {
  /** Opens the console's line: a `NodeSerial` on a board, a `MemorySerial` in tests. */
  serial: SerialFactory;
  /** The device's one command interpreter, shared with the control socket and MQTT. */
  interpreter: Pick<CommandInterpreter, 'run' | 'names'>;
  /** Recent log lines; without it there is no `log tail`. */
  logRing?: LogRing;
  /** Default `systemClock`. */
  clock?: Clock;
  /** Default the `device:console` logger. */
  log?: Logger;
}

export interface SerialConsoleInit {
  /** Device path of the console line. */
  path: string;
  /** Default the line's own default (115200). */
  baudRate?: number;
  /** Default `CONSOLE_PROMPT`. */
  prompt?: string;
  /** Echo typed characters back, for terminals without local echo; default false. */
  echo?: boolean;
  /** Default `CONSOLE_MAX_LINE_BYTES`. */
  maxLineBytes?: number;
  /** Default `CONSOLE_MAX_OUTPUT_BYTES`. */
  maxOutputBytes?: number;
  /** Default `CONSOLE_MAX_PENDING_LINES`. */
  maxPendingLines?: number;
  /** Default `CONSOLE_COMMAND_TIMEOUT_MS`. */
  commandTimeoutMs?: number;
}

export interface SerialConsoleCounters {
  /** Lines run, empty ones included. */
  linesRun: number;
  /** Lines over `maxLineBytes` or not UTF-8. */
  linesDiscarded: number;
  /** Lines refused because `maxPendingLines` were already waiting. */
  linesDropped: number;
  /** Output bytes refused because the output queue was full. */
  outputDroppedBytes: number;
}

type EscapeState = 'none' | 'escape' | 'csi' | 'ss3';
/** A typed line, or the refusal that stands in for one. */
type PendingLine = string | { error: string };

/**
 * A line-oriented console: CR, LF or CRLF ends a line, backspace and DEL erase, Ctrl-C drops
 * the line, terminal escape sequences (arrow keys) and other control bytes are ignored. Each
 * line runs through the interpreter, one at a time, and its result is printed as one line of
 * JSON followed by the prompt.
 */
export class SerialConsole {
  readonly counters: SerialConsoleCounters = { linesRun: 0, linesDiscarded: 0, linesDropped: 0, outputDroppedBytes: 0 };
  private readonly serial: Serial;
  private readonly interpreter: Pick<CommandInterpreter, 'run' | 'names'>;
  private readonly logRing: LogRing | undefined;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly prompt: string;
  private readonly echo: boolean;
  private readonly maxLineBytes: number;
  private readonly maxOutputBytes: number;
  private readonly maxPendingLines: number;
  private readonly commandTimeoutMs: number;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  private readonly line: Uint8Array;
  private lineBytes = 0;
  private discarding = false;
  private afterCR = false;
  private escape: EscapeState = 'none';
  private escapeBytes = 0;

  private readonly pending: PendingLine[] = [];
  private running = false;
  private commandTimer: TimerHandle | undefined;

  private readonly output: Uint8Array[] = [];
  private outputBytes = 0;
  private pumping = false;
  private warnedOutputFull = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(components: SerialConsoleComponents, init: SerialConsoleInit) {
    this.interpreter = components.interpreter;
    this.logRing = components.logRing;
    this.clock = components.clock ?? systemClock;
    this.log = components.log ?? createLogger('device:console');
    this.prompt = init.prompt ?? CONSOLE_PROMPT;
    this.echo = init.echo ?? false;
    this.maxLineBytes = Math.max(1, init.maxLineBytes ?? CONSOLE_MAX_LINE_BYTES);
    this.maxOutputBytes = Math.max(256, init.maxOutputBytes ?? CONSOLE_MAX_OUTPUT_BYTES);
    this.maxPendingLines = Math.max(1, init.maxPendingLines ?? CONSOLE_MAX_PENDING_LINES);
    this.commandTimeoutMs = init.commandTimeoutMs ?? CONSOLE_COMMAND_TIMEOUT_MS;
    this.line = new Uint8Array(this.maxLineBytes);
    this.serial = components.serial({
      path: init.path,
      ...(init.baudRate !== undefined ? { baudRate: init.baudRate } : {}),
      onReadable: () => this.readable(),
      onWritable: () => this.pump(),
      // The line logs its own failures and reconnects; the console has nothing to add.
      onError: () => {},
    });
    this.emit('', this.prompt);
  }

  /** The commands `help` lists: the interpreter's and the console's own. */
  commands(): string[] {
    const own = ['help', ...(this.logRing ? ['log tail [N]'] : [])];
    return [...new Set([...own, ...this.interpreter.names()])].sort();
  }

  /**
   * Stops reading at once, forgets typed-ahead lines and queued output, and releases the
   * line. A command still running finishes, but its result is not printed. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.pending.length = 0;
    this.output.length = 0;
    this.outputBytes = 0;
    this.clock.clearTimeout(this.commandTimer);
    this.commandTimer = undefined;
    this.closing = Promise.resolve()
      .then(() => this.serial.close())
      .catch((e: unknown) => this.log.warn('serial console close failed', { error: e }));
    return this.closing;
  }

  private readable(): void {
    if (this.closed) return;
    const bytes = this.serial.read();
    if (!bytes) return;
    for (const b of bytes) {
      this.byte(b);
      if (this.closed) return;
    }
  }

  private byte(b: number): void {
    // An LF right after CR is the second half of a CRLF, not an empty line.
    const wasCR = this.afterCR;
    this.afterCR = b === CR;
    if (this.escape !== 'none' && this.escapeByte(b)) return;
    if (b === CR) return this.endLine();
    if (b === LF) return wasCR ? undefined : this.endLine();
    if (b === BS || b === DEL) return this.erase();
    if (b === ESC) {
      this.escape = 'escape';
      this.escapeBytes = 0;
      return;
    }
    if (b === CTRL_C) return this.cancelLine();
    if (b === TAB) return this.append(0x20);
    if (b < 0x20) return;
    this.append(b);
  }

  /** Skips one byte of an escape sequence; false when `b` ends it early and is ordinary input. */
  private escapeByte(b: number): boolean {
    // ECMA-48 §5.4: a control sequence is CSI, parameter and intermediate bytes (0x20–0x3F),
    // then one final byte (0x40–0x7E). Anything else means the sequence was junk.
    if (b < 0x20 || b > 0x7e || ++this.escapeBytes > MAX_ESCAPE_BYTES) {
      this.escape = 'none';
      return false;
    }
    if (this.escape === 'escape') this.escape = b === 0x5b ? 'csi' : b === 0x4f ? 'ss3' : 'none';
    else if (this.escape === 'ss3' || b >= 0x40) this.escape = 'none';
    return true;
  }

  private append(b: number): void {
    if (this.discarding) return;
    if (this.lineBytes >= this.maxLineBytes) {
      // Refuse rather than grow; the message waits for the line's end so it does not land
      // in the middle of what is still being typed.
      this.discarding = true;
      this.lineBytes = 0;
      return;
    }
    this.line[this.lineBytes++] = b;
    if (this.echo) this.emitBytes(Uint8Array.of(b));
  }

  private erase(): void {
    if (this.discarding || this.lineBytes === 0) return;
    // One character, not one byte: UTF-8 continuation bytes go with their lead byte.
    do this.lineBytes--;
    while (this.lineBytes > 0 && (this.line[this.lineBytes]! & 0xc0) === 0x80);
    if (this.echo) this.emit('\b \b');
  }

  private cancelLine(): void {
    this.lineBytes = 0;
    this.discarding = false;
    this.emit('^C', this.prompt);
  }

  private endLine(): void {
    if (this.echo) this.emit('\r\n');
    if (this.discarding) {
      this.discarding = false;
      this.counters.linesDiscarded++;
      this.log.debug('console line too long', { limit: this.maxLineBytes });
      return this.enqueue({ error: `line longer than ${this.maxLineBytes} bytes, discarded` });
    }
    const bytes = this.line.subarray(0, this.lineBytes);
    this.lineBytes = 0;
    try {
      this.enqueue(this.decoder.decode(bytes));
    } catch {
      this.counters.linesDiscarded++;
      this.enqueue({ error: 'line is not UTF-8, discarded' });
    }
  }

  /** Refusals queue behind the lines typed before them, so replies keep the input order. */
  private enqueue(item: PendingLine): void {
    if (this.pending.length >= this.maxPendingLines) {
      this.counters.linesDropped++;
      this.emit(`${this.json({ ok: false, error: 'console busy, line dropped' })}\r\n`);
      return;
    }
    this.pending.push(item);
    if (!this.running) void this.runPending();
  }

  /** Runs typed lines one at a time, so results come out in the order the lines went in. */
  private async runPending(): Promise<void> {
    this.running = true;
    try {
      for (let item = this.pending.shift(); item !== undefined && !this.closed; item = this.pending.shift()) {
        if (typeof item !== 'string') {
          this.emit(this.json({ ok: false, error: item.error }), this.prompt);
          continue;
        }
        const body = await this.execute(item);
        if (this.closed) return;
        this.counters.linesRun++;
        this.emit(body, this.prompt);
      }
    } finally {
      this.running = false;
    }
  }

  /** The text a line prints (without the prompt); empty for an empty line. */
  private async execute(line: string): Promise<string> {
    const words = line.trim().split(/\s+/).filter((w) => w !== '');
    if (words.length === 0) return '';
    if (words[0] === 'help') return this.json({ ok: true, result: { commands: this.commands() } });
    if (words[0] === 'log' && words[1] === 'tail' && this.logRing) return this.logTail(this.logRing, words.slice(2));
    let result: unknown;
    try {
      result = await this.withTimeout(this.interpreter.run(words.join(' ')));
    } catch (e) {
      result = { ok: false, error: (e as Error).message };
    }
    return this.json(result);
  }

  private withTimeout<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.commandTimer = this.clock.setTimeout(() => {
        this.commandTimer = undefined;
        reject(new Error(`command timed out after ${this.commandTimeoutMs} ms`));
      }, this.commandTimeoutMs);
      work.then(resolve, reject).finally(() => {
        this.clock.clearTimeout(this.commandTimer);
        this.commandTimer = undefined;
      });
    });
  }

  private logTail(ring: LogRing, args: string[]): string {
    const n = args[0] === undefined ? CONSOLE_LOG_TAIL_DEFAULT_LINES : Number(args[0]);
    if (args.length > 1 || !Number.isInteger(n) || n < 1) return this.json({ ok: false, error: 'usage: log tail [N], N ≥ 1' });
    // Log lines can quote what the network sent; control bytes must not reach the terminal.
    return ring.tail(n).map((l) => l.replace(/[\x00-\x1f\x7f-\x9f]/g, '\ufffd')).join('\r\n');
  }

  private json(value: unknown): string {
    try {
      return JSON.stringify(value, jsonReplacer) ?? 'null';
    } catch (e) {
      return JSON.stringify({ ok: false, error: `result not printable: ${(e as Error).message}` });
    }
  }

  /**
   * Queues `body` then `tail` (the prompt). When the queue is full the body is cut short
   * with a marker so the prompt still arrives; with no room even for that, the output is
   * refused and counted.
   */
  private emit(body: string, tail?: string): void {
    if (this.closed) return;
    const end = tail === undefined ? '' : `${body === '' ? '' : '\r\n'}${tail}`;
    const bytes = this.encoder.encode(body + end);
    const room = this.maxOutputBytes - this.outputBytes;
    if (bytes.length <= room) return this.emitBytes(bytes);
    const suffix = this.encoder.encode(TRUNCATED + end);
    const head = this.encoder.encode(body);
    let keep = room - suffix.length;
    if (keep <= 0) return this.emitBytes(bytes);
    // Cut on a character boundary, not inside a UTF-8 sequence.
    while (keep > 0 && (head[keep]! & 0xc0) === 0x80) keep--;
    this.counters.outputDroppedBytes += head.length - keep;
    const cut = new Uint8Array(keep + suffix.length);
    cut.set(head.subarray(0, keep));
    cut.set(suffix, keep);
    this.emitBytes(cut);
  }

  /** Queues bytes as they are, or refuses and counts them when they do not fit. */
  private emitBytes(bytes: Uint8Array): void {
    if (this.closed) return;
    if (bytes.length > this.maxOutputBytes - this.outputBytes) {
      this.counters.outputDroppedBytes += bytes.length;
      if (!this.warnedOutputFull) this.log.warn('console output queue full', { limit: this.maxOutputBytes });
      this.warnedOutputFull = true;
      return;
    }
    this.output.push(bytes);
    this.outputBytes += bytes.length;
    this.pump();
  }

  /** Hands queued output to the line as fast as its transmit space allows. */
  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      while (this.output.length > 0) {
        const room = this.serial.writable;
        if (room <= 0) break;
        const head = this.output[0]!;
        const n = Math.min(room, head.length);
        this.serial.write(head.subarray(0, n));
        if (n === head.length) this.output.shift();
        else this.output[0] = head.subarray(n);
        this.outputBytes -= n;
      }
      if (this.outputBytes === 0) this.warnedOutputFull = false;
    } finally {
      this.pumping = false;
    }
  }
}
