// Recognises a steady single tone in received audio and measures it: the frequency from
// interpolated zero crossings, refined by maximising a Goertzel filter's output around it,
// and the level. "Steady" means two halves of the window agree; "clean" means nearly all
// the energy sits at that one frequency, which rules out silence, noise, speech and DTMF
// (two tones). Work is done only when a result is asked for.
import type { AudioSink } from './audio.ts';
import { SAMPLE_RATE_HZ, TONE_MIN_LEVEL_DB, TONE_MIN_PURITY, TONE_WINDOW_SAMPLES } from './constants.ts';

export interface ToneDetection {
  frequencyHz: number;
  /** RMS level in dB relative to a full-scale sine (0 dB = amplitude 32767). */
  levelDb: number;
  /** Share of the energy at `frequencyHz`, 0..1. */
  purity: number;
}

export interface ToneDetectorInit {
  /** Samples analysed, most recent last; split in two halves that must agree. Default 1600 (200 ms). */
  windowSamples?: number;
  /** Quieter than this is no tone. Default -50 dB. */
  minLevelDb?: number;
  /** Least share of energy at the detected frequency. Default 0.8. */
  minPurity?: number;
  /** Default 8000. */
  sampleRateHz?: number;
}

/** Lowest frequency reported: a half window must hold several cycles. */
const MIN_FREQUENCY_HZ = 50;
/** The two halves may differ by this much (Hz) or this fraction, whichever is larger. */
const AGREEMENT_HZ = 5;
const AGREEMENT_FRACTION = 0.01;

/** |X(f)|² of the block at frequency `f` (Goertzel's recurrence works for any frequency). */
function goertzelPower(x: Float64Array, f: number, rate: number): number {
  const coeff = 2 * Math.cos((2 * Math.PI * f) / rate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < x.length; i++) {
    const s = x[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

/** Mean of upward zero crossing spacing, crossings placed by linear interpolation. */
function zeroCrossingFrequency(x: Float64Array, rate: number): number | undefined {
  let first = -1;
  let last = -1;
  let crossings = 0;
  for (let i = 1; i < x.length; i++) {
    if (x[i - 1] < 0 && x[i] >= 0) {
      const t = i - 1 + x[i - 1] / (x[i - 1] - x[i]);
      if (first < 0) first = t;
      last = t;
      crossings++;
    }
  }
  if (crossings < 3 || last <= first) return undefined;
  return ((crossings - 1) / (last - first)) * rate;
}

export class ToneDetector implements AudioSink {
  private readonly ring: Int16Array;
  private readonly rate: number;
  private readonly minLevelDb: number;
  private readonly minPurity: number;
  private pos = 0;
  private filled = 0;

  constructor(init: ToneDetectorInit = {}) {
    const n = init.windowSamples ?? TONE_WINDOW_SAMPLES;
    if (!(n >= 64 && n % 2 === 0)) throw new RangeError(`tone detector window of ${n} samples: needs an even number, at least 64`);
    this.ring = new Int16Array(n);
    this.rate = init.sampleRateHz ?? SAMPLE_RATE_HZ;
    this.minLevelDb = init.minLevelDb ?? TONE_MIN_LEVEL_DB;
    this.minPurity = init.minPurity ?? TONE_MIN_PURITY;
  }

  write(frame: Int16Array): void {
    const cap = this.ring.length;
    for (let i = 0; i < frame.length; i++) {
      this.ring[this.pos] = frame[i];
      this.pos = (this.pos + 1) % cap;
    }
    this.filled = Math.min(cap, this.filled + frame.length);
  }

  /** Forgets the audio seen so far. */
  reset(): void {
    this.filled = 0;
    this.pos = 0;
  }

  close(): void {}

  /** The tone in the most recent window, or null when it holds no clean, steady tone. */
  detect(): ToneDetection | null {
    const cap = this.ring.length;
    if (this.filled < cap) return null;
    const x = new Float64Array(cap);
    for (let i = 0; i < cap; i++) x[i] = this.ring[(this.pos + i) % cap];
    const half = cap / 2;
    const a = this.analyse(x.subarray(0, half));
    const b = this.analyse(x.subarray(half));
    if (!a || !b) return null;
    if (Math.abs(a.frequencyHz - b.frequencyHz) > Math.max(AGREEMENT_HZ, AGREEMENT_FRACTION * a.frequencyHz)) return null;
    return {
      frequencyHz: (a.frequencyHz + b.frequencyHz) / 2,
      levelDb: 10 * Math.log10((10 ** (a.levelDb / 10) + 10 ** (b.levelDb / 10)) / 2),
      purity: Math.min(a.purity, b.purity),
    };
  }

  private analyse(block: Float64Array): ToneDetection | undefined {
    const n = block.length;
    let mean = 0;
    for (let i = 0; i < n; i++) mean += block[i];
    mean /= n;
    const x = new Float64Array(n);
    let energy = 0;
    for (let i = 0; i < n; i++) {
      x[i] = block[i] - mean;
      energy += x[i] * x[i];
    }
    if (energy === 0) return undefined;
    // A sine of peak A has RMS A/√2: dB relative to the full-scale sine.
    const levelDb = 20 * Math.log10(Math.sqrt((2 * energy) / n) / 32767);
    if (levelDb < this.minLevelDb) return undefined;
    const estimate = zeroCrossingFrequency(x, this.rate);
    if (estimate === undefined || estimate < MIN_FREQUENCY_HZ || estimate > this.rate / 2 - MIN_FREQUENCY_HZ) return undefined;
    // Refine: the Goertzel output peaks at the tone's frequency; search ±4 Hz in 0.5 Hz
    // steps, then place the peak between grid points by a parabola through three of them.
    const step = 0.5;
    let best = estimate;
    let bestPower = -1;
    const powers: number[] = [];
    for (let k = -8; k <= 8; k++) {
      const p = goertzelPower(x, estimate + k * step, this.rate);
      powers.push(p);
      if (p > bestPower) {
        bestPower = p;
        best = estimate + k * step;
      }
    }
    const i = Math.round((best - estimate) / step) + 8;
    if (i > 0 && i < powers.length - 1) {
      const [l, c, r] = [powers[i - 1], powers[i], powers[i + 1]];
      const denom = l - 2 * c + r;
      if (denom < 0) best += (0.5 * (l - r) / denom) * step;
    }
    // For a pure tone of N samples, |X(f)|² = (A·N/2)² and the energy is A²·N/2.
    const purity = Math.min(1, (2 * goertzelPower(x, best, this.rate)) / (n * energy));
    if (purity < this.minPurity) return undefined;
    return { frequencyHz: best, levelDb, purity };
  }
}
