// Audio in and out of a call: 8 kHz mono 16-bit linear PCM in frames of 20 ms (160 samples),
// the unit G.711 RTP packets carry (RFC 3551 §4.5.14, §4.2). The media session pulls one
// frame from its source per packet and pushes every received frame to its sink; both are
// plain interfaces so tests and devices plug in alike.
import { SAMPLE_RATE_HZ, TONE_DEFAULT_AMPLITUDE } from './constants.ts';

export interface AudioSource {
  /** Fills `frame` with the next samples; never blocks, fills silence when it has nothing. */
  read(frame: Int16Array): void;
  /** Releases files and processes. Idempotent; `read` afterwards yields silence. */
  close(): void;
}

export interface AudioSink {
  /** Takes the next samples; the array is reused by the caller, so copy what must be kept. */
  write(frame: Int16Array): void;
  /** Flushes and releases. Idempotent; `write` afterwards is ignored. */
  close(): void;
}

/** Digital silence. */
export class SilenceSource implements AudioSource {
  read(frame: Int16Array): void {
    frame.fill(0);
  }
  close(): void {}
}

/** Discards everything. */
export class NullSink implements AudioSink {
  write(_frame: Int16Array): void {}
  close(): void {}
}

export interface ToneSourceInit {
  frequencyHz: number;
  /** Peak amplitude, 0..32767. Default 8000 (about -12 dB below full scale). */
  amplitude?: number;
  /** Default 8000. */
  sampleRateHz?: number;
}

/** A sine tone whose phase runs on from frame to frame, so frames join without clicks. */
export class ToneSource implements AudioSource {
  private readonly step: number;
  private readonly amplitude: number;
  private phase = 0;
  private closed = false;

  constructor(init: ToneSourceInit) {
    const rate = init.sampleRateHz ?? SAMPLE_RATE_HZ;
    if (!(init.frequencyHz > 0 && init.frequencyHz < rate / 2)) throw new RangeError(`tone of ${init.frequencyHz} Hz is not below the Nyquist frequency ${rate / 2} Hz`);
    this.amplitude = init.amplitude ?? TONE_DEFAULT_AMPLITUDE;
    if (!(this.amplitude >= 0 && this.amplitude <= 32767)) throw new RangeError(`tone amplitude ${this.amplitude} outside 0..32767`);
    this.step = (2 * Math.PI * init.frequencyHz) / rate;
  }

  read(frame: Int16Array): void {
    if (this.closed) {
      frame.fill(0);
      return;
    }
    for (let i = 0; i < frame.length; i++) {
      frame[i] = Math.round(this.amplitude * Math.sin(this.phase));
      this.phase += this.step;
    }
    // Keep the phase small so precision does not decay over a long call.
    this.phase %= 2 * Math.PI;
  }

  close(): void {
    this.closed = true;
  }
}
