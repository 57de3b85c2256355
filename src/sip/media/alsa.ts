// Sound card capture and playback through ALSA's own command-line tools, `arecord` and
// `aplay`, as child processes speaking raw S16_LE at 8 kHz mono over pipes: no native module
// to build on the Pi. The process starts on first use. Buffering is bounded both ways, and a
// missing binary or a process that dies is logged once and leaves silence, never a crash.
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { Logger } from '../../util/log.ts';
import type { AudioSink, AudioSource } from './audio.ts';
import { ALSA_CAPTURE_QUEUE_FRAMES, ALSA_PLAYBACK_BUFFER_BYTES, FRAME_SAMPLES, SAMPLE_RATE_HZ } from './constants.ts';

export type Spawn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface AlsaComponents {
  log: Logger;
  /** Starts the child process; `child_process.spawn` unless a test substitutes it. */
  spawn?: Spawn;
}

export interface AlsaInit {
  /** ALSA PCM device (`-D`), e.g. `hw:1,0` or `plughw:1,0`. Default: the tool's default device. */
  device?: string;
  /** The tool to run. Default `arecord` for capture, `aplay` for playback. */
  command?: string;
  /** Environment of the child (PATH decides which binary runs). Default: this process's. */
  env?: NodeJS.ProcessEnv;
}

/** Counters of one capture or playback process. */
export interface AlsaStats {
  /** Frames passed through. */
  frames: number;
  /** Frames dropped: capture not read in time, or playback pipe backed up. */
  dropped: number;
  /** Capture only: frames read while nothing was captured (silence given instead). */
  underruns: number;
}

type ProcessState = 'idle' | 'running' | 'failed' | 'closed';

/** `-q -t raw -f S16_LE -r 8000 -c 1 [-D device]`: the format RTP's G.711 frames decode to. */
function rawArgs(device: string | undefined): string[] {
  const args = ['-q', '-t', 'raw', '-f', 'S16_LE', '-r', String(SAMPLE_RATE_HZ), '-c', '1'];
  if (device !== undefined && device !== '') args.push('-D', device);
  return args;
}

/** The child process behind one source or sink, and its failure handling. */
class AlsaProcess {
  state: ProcessState = 'idle';
  child: ChildProcess | undefined;
  private stderrTail = '';

  constructor(
    private readonly log: Logger,
    private readonly spawn: Spawn,
    private readonly command: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv | undefined,
    private readonly stdio: SpawnOptions['stdio'],
  ) {}

  start(): ChildProcess | undefined {
    if (this.state !== 'idle') return this.child;
    this.state = 'running';
    let child: ChildProcess;
    try {
      child = this.spawn(this.command, this.args, { stdio: this.stdio, env: this.env ?? process.env });
    } catch (err) {
      this.fail('could not start', { err });
      return undefined;
    }
    this.child = child;
    // A missing binary arrives here as ENOENT, after spawn() has returned.
    child.on('error', (err) => this.fail('could not run', { err }));
    child.on('exit', (code, signal) => {
      if (this.state === 'running') this.fail('exited', { code, signal, stderr: this.stderrTail.trim() });
    });
    child.stderr?.on('data', (d: Buffer) => {
      // Only the tail is kept, for the log line when the process dies.
      this.stderrTail = (this.stderrTail + d.toString('utf8')).slice(-300);
    });
    return child;
  }

  fail(what: string, fields: Record<string, unknown>): void {
    if (this.state !== 'running') return;
    this.state = 'failed';
    this.log.warn(`${this.command} ${what}; using silence instead`, { command: this.command, ...fields });
    this.child?.kill('SIGKILL');
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
}

/**
 * Captures from a sound card with `arecord`. Captured audio waits in a ring of a few frames;
 * when the reader falls behind the oldest samples are dropped (latency stays bounded), and
 * when it runs ahead it gets silence.
 */
export class AlsaSource implements AudioSource {
  readonly stats: AlsaStats = { frames: 0, dropped: 0, underruns: 0 };
  private readonly proc: AlsaProcess;
  private readonly ring = new Int16Array(ALSA_CAPTURE_QUEUE_FRAMES * FRAME_SAMPLES);
  private head = 0;
  private count = 0;
  /** A sample split across two pipe reads. */
  private oddByte: number | undefined;

  constructor(components: AlsaComponents, init: AlsaInit = {}) {
    const command = init.command ?? 'arecord';
    this.proc = new AlsaProcess(components.log, components.spawn ?? nodeSpawn, command, rawArgs(init.device), init.env, ['ignore', 'pipe', 'pipe']);
  }

  /** False once the capture process could not start or died. */
  get healthy(): boolean {
    return this.proc.state === 'idle' || this.proc.state === 'running';
  }

  read(frame: Int16Array): void {
    if (this.proc.state === 'idle') {
      const child = this.proc.start();
      child?.stdout?.on('data', (d: Buffer) => this.onCaptured(d));
    }
    if (this.count >= frame.length) {
      const cap = this.ring.length;
      for (let i = 0; i < frame.length; i++) frame[i] = this.ring[(this.head + i) % cap];
      this.head = (this.head + frame.length) % cap;
      this.count -= frame.length;
      this.stats.frames++;
      return;
    }
    frame.fill(0);
    if (this.proc.state === 'running') this.stats.underruns++;
  }

  close(): void {
    this.proc.close();
    this.count = 0;
  }

  private onCaptured(d: Buffer): void {
    if (this.proc.state !== 'running') return;
    let i = 0;
    if (this.oddByte !== undefined && d.length > 0) {
      this.push((d[0] << 8) | this.oddByte);
      this.oddByte = undefined;
      i = 1;
    }
    for (; i + 1 < d.length; i += 2) this.push(d.readInt16LE(i));
    if (i < d.length) this.oddByte = d[i];
  }

  private push(sample: number): void {
    const cap = this.ring.length;
    if (this.count === cap) {
      // Full: drop the oldest frame's worth at once so what is read stays frame-aligned.
      this.head = (this.head + FRAME_SAMPLES) % cap;
      this.count -= FRAME_SAMPLES;
      this.stats.dropped++;
    }
    this.ring[(this.head + this.count) % cap] = (sample << 16) >> 16;
    this.count++;
  }
}

/**
 * Plays to a sound card with `aplay`. Frames go straight into its stdin; while more than a
 * few frames sit unwritten in the pipe, new ones are dropped and counted.
 */
export class AlsaSink implements AudioSink {
  readonly stats: AlsaStats = { frames: 0, dropped: 0, underruns: 0 };
  private readonly proc: AlsaProcess;
  private readonly limitBytes: number;

  constructor(components: AlsaComponents, init: AlsaInit & { bufferBytes?: number } = {}) {
    const command = init.command ?? 'aplay';
    this.proc = new AlsaProcess(components.log, components.spawn ?? nodeSpawn, command, rawArgs(init.device), init.env, ['pipe', 'ignore', 'pipe']);
    this.limitBytes = init.bufferBytes ?? ALSA_PLAYBACK_BUFFER_BYTES;
  }

  get healthy(): boolean {
    return this.proc.state === 'idle' || this.proc.state === 'running';
  }

  write(frame: Int16Array): void {
    if (this.proc.state === 'idle') {
      const child = this.proc.start();
      // EPIPE when aplay has died: handled here so it is not an uncaught 'error'.
      child?.stdin?.on('error', (err) => this.proc.fail('stopped reading', { err }));
    }
    const stdin = this.proc.child?.stdin;
    if (this.proc.state !== 'running' || !stdin || !stdin.writable) {
      this.stats.dropped++;
      return;
    }
    if (stdin.writableLength > this.limitBytes) {
      this.stats.dropped++;
      return;
    }
    const bytes = Buffer.allocUnsafe(frame.length * 2);
    for (let i = 0; i < frame.length; i++) bytes.writeInt16LE(frame[i], i * 2);
    stdin.write(bytes);
    this.stats.frames++;
  }

  close(): void {
    const stdin = this.proc.child?.stdin;
    if (stdin && !stdin.destroyed) stdin.end();
    this.proc.close();
  }
}
