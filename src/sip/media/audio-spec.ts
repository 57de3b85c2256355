// Audio sources and sinks named by short strings, as a configuration file or a command line
// gives them: `silence`, `tone:440`, `wav:/path/file.wav`, `alsa`, `alsa:hw:1,0` for
// sources; `null`, `wav:/path/file.wav`, `alsa`, `alsa:plughw:1,0` for sinks.
import type { Logger } from '../../util/log.ts';
import { AlsaSink, AlsaSource, type Spawn } from './alsa.ts';
import { NullSink, SilenceSource, ToneSource, type AudioSink, type AudioSource } from './audio.ts';
import { SAMPLE_RATE_HZ, TONE_DEFAULT_AMPLITUDE } from './constants.ts';
import { WavFileSink, WavFileSource } from './wav.ts';

export type AudioSourceSpec =
  | { kind: 'silence' }
  | { kind: 'tone'; frequencyHz: number; amplitude: number }
  | { kind: 'wav'; path: string }
  | { kind: 'alsa'; device?: string };

export type AudioSinkSpec =
  | { kind: 'null' }
  | { kind: 'wav'; path: string }
  | { kind: 'alsa'; device?: string };

/** A spec string that names no source or sink. */
export class AudioSpecError extends Error {
  override readonly name = 'AudioSpecError';
}

const SOURCE_FORMS = 'silence, tone:<Hz>[:<amplitude 0-32767>], wav:<path>, alsa, alsa:<device>';
const SINK_FORMS = 'null, wav:<path>, alsa, alsa:<device>';

function split(spec: string): [string, string | undefined] {
  const s = spec.trim();
  const colon = s.indexOf(':');
  return colon < 0 ? [s.toLowerCase(), undefined] : [s.slice(0, colon).toLowerCase(), s.slice(colon + 1)];
}

export function parseAudioSourceSpec(spec: string): AudioSourceSpec {
  const [kind, rest] = split(spec);
  switch (kind) {
    case 'silence':
      if (rest === undefined) return { kind };
      break;
    case 'tone': {
      const m = rest === undefined ? null : /^(\d+(?:\.\d+)?)(?::(\d+))?$/.exec(rest.trim());
      if (!m) break;
      const frequencyHz = Number(m[1]);
      const amplitude = m[2] === undefined ? TONE_DEFAULT_AMPLITUDE : Number(m[2]);
      if (!(frequencyHz > 0 && frequencyHz < SAMPLE_RATE_HZ / 2)) throw new AudioSpecError(`audio source "${spec}": frequency must be between 0 and ${SAMPLE_RATE_HZ / 2} Hz`);
      if (amplitude > 32767) throw new AudioSpecError(`audio source "${spec}": amplitude must be at most 32767`);
      return { kind, frequencyHz, amplitude };
    }
    case 'wav':
      if (rest) return { kind, path: rest };
      break;
    case 'alsa':
      return rest ? { kind, device: rest } : { kind };
  }
  throw new AudioSpecError(`audio source "${spec}" is not one of: ${SOURCE_FORMS}`);
}

export function parseAudioSinkSpec(spec: string): AudioSinkSpec {
  const [kind, rest] = split(spec);
  switch (kind) {
    case 'null':
      if (rest === undefined) return { kind };
      break;
    case 'wav':
      if (rest) return { kind, path: rest };
      break;
    case 'alsa':
      return rest ? { kind, device: rest } : { kind };
  }
  throw new AudioSpecError(`audio sink "${spec}" is not one of: ${SINK_FORMS}`);
}

export interface AudioSpecComponents {
  log: Logger;
  /** Passed to the ALSA source or sink. */
  spawn?: Spawn;
}

/**
 * Opens the source or sink a spec names. Throws AudioSpecError for a bad spec and
 * WavFormatError for a WAV file that cannot be played; ALSA problems surface later, as
 * silence and a log line, because the sound card is only opened when audio first flows.
 */
export function audioFromSpec(components: AudioSpecComponents, spec: string, role: 'source'): AudioSource;
export function audioFromSpec(components: AudioSpecComponents, spec: string, role: 'sink'): AudioSink;
export function audioFromSpec(components: AudioSpecComponents, spec: string, role: 'source' | 'sink'): AudioSource | AudioSink {
  const alsa = { log: components.log, spawn: components.spawn };
  if (role === 'source') {
    const s = parseAudioSourceSpec(spec);
    switch (s.kind) {
      case 'silence': return new SilenceSource();
      case 'tone': return new ToneSource({ frequencyHz: s.frequencyHz, amplitude: s.amplitude });
      case 'wav': return new WavFileSource({ path: s.path });
      case 'alsa': return new AlsaSource(alsa, { device: s.device });
    }
  }
  const s = parseAudioSinkSpec(spec);
  switch (s.kind) {
    case 'null': return new NullSink();
    case 'wav': return new WavFileSink({ log: components.log }, { path: s.path });
    case 'alsa': return new AlsaSink(alsa, { device: s.device });
  }
}
