// WAV files (RIFF WAVE, PCM) as an audio source and sink. Only what the media path uses is
// accepted: 16-bit linear PCM, mono, 8000 Hz; anything else is refused with a message that
// says how to convert it, rather than played at the wrong speed.
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import type { Logger } from '../../util/log.ts';
import type { AudioSink, AudioSource } from './audio.ts';
import { SAMPLE_RATE_HZ, WAV_MAX_DATA_BYTES, WAV_MAX_FILE_BYTES, WAV_WRITE_CHUNK_BYTES } from './constants.ts';

/** The file is not a WAV file this layer can play. */
export class WavFormatError extends Error {
  override readonly name = 'WavFormatError';
}

export interface WavFormat {
  /** 1 PCM, 3 IEEE float, 6 A-law, 7 μ-law, 0xFFFE extensible (its sub-format here). */
  audioFormat: number;
  channels: number;
  sampleRateHz: number;
  bitsPerSample: number;
}

export const WAV_HEADER_BYTES = 44;
const CONVERT_HINT = 'only 8000 Hz mono 16-bit PCM is supported; convert with: sox in.wav -r 8000 -c 1 -b 16 -e signed-integer out.wav';

function ascii(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
}

/**
 * Finds the format and the sample data of a RIFF WAVE file. Chunks other than `fmt ` and
 * `data` (LIST, fact, …) are skipped; a data size of 0 or past the end (a recorder that
 * died before fixing its header) is taken to mean "to the end of the file".
 */
export function parseWav(bytes: Uint8Array, name = 'wav'): { format: WavFormat; data: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12 || ascii(bytes, 0) !== 'RIFF' || ascii(bytes, 8) !== 'WAVE') throw new WavFormatError(`${name}: not a RIFF WAVE file`);
  let format: WavFormat | undefined;
  let pos = 12;
  while (pos + 8 <= bytes.length) {
    const id = ascii(bytes, pos);
    const size = view.getUint32(pos + 4, true);
    const body = pos + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.length) throw new WavFormatError(`${name}: fmt chunk too short`);
      let audioFormat = view.getUint16(body, true);
      // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID.
      if (audioFormat === 0xfffe && size >= 40 && body + 26 <= bytes.length) audioFormat = view.getUint16(body + 24, true);
      format = { audioFormat, channels: view.getUint16(body + 2, true), sampleRateHz: view.getUint32(body + 4, true), bitsPerSample: view.getUint16(body + 14, true) };
    } else if (id === 'data') {
      if (!format) throw new WavFormatError(`${name}: data chunk before fmt chunk`);
      const end = size === 0 || body + size > bytes.length ? bytes.length : body + size;
      return { format, data: bytes.subarray(body, end) };
    }
    // RIFF chunks are padded to an even length.
    pos = body + size + (size & 1);
  }
  throw new WavFormatError(`${name}: no data chunk`);
}

function describe(f: WavFormat): string {
  const kind = f.audioFormat === 1 ? 'PCM' : f.audioFormat === 3 ? 'float' : f.audioFormat === 6 ? 'A-law' : f.audioFormat === 7 ? 'μ-law' : `format ${f.audioFormat}`;
  return `${f.sampleRateHz} Hz, ${f.channels === 1 ? 'mono' : `${f.channels} channels`}, ${f.bitsPerSample}-bit ${kind}`;
}

/** Reads a whole WAV file as 16-bit samples; throws WavFormatError for any other format. */
export function readWavFile(path: string, maxBytes = WAV_MAX_FILE_BYTES): Int16Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new WavFormatError(`${path}: cannot open: ${(err as Error).message}`);
  }
  let bytes: Uint8Array;
  try {
    const size = fstatSync(fd).size;
    // Checked before reading: a configuration naming a huge file must not fill the heap.
    if (size > maxBytes) throw new WavFormatError(`${path}: ${size} bytes, at most ${maxBytes}`);
    bytes = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const n = readSync(fd, bytes, at, size - at, at);
      if (n === 0) break;
      at += n;
    }
    bytes = bytes.subarray(0, at);
  } finally {
    closeSync(fd);
  }
  const { format, data } = parseWav(bytes, path);
  if (format.audioFormat !== 1 || format.bitsPerSample !== 16 || format.channels !== 1 || format.sampleRateHz !== SAMPLE_RATE_HZ) {
    throw new WavFormatError(`${path}: ${describe(format)}; ${CONVERT_HINT}`);
  }
  const samples = new Int16Array(data.length >> 1);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true);
  return samples;
}

export interface WavFileSourceInit {
  path: string;
  /** Start again at the end. Default true. */
  loop?: boolean;
}

/** Plays a WAV file, looped by default; the file is read once, when the source is made. */
export class WavFileSource implements AudioSource {
  private readonly samples: Int16Array;
  private readonly loop: boolean;
  private pos = 0;
  private closed = false;

  constructor(init: WavFileSourceInit) {
    this.samples = readWavFile(init.path);
    this.loop = init.loop ?? true;
  }

  /** Samples in the file. */
  get length(): number {
    return this.samples.length;
  }

  read(frame: Int16Array): void {
    let i = 0;
    if (!this.closed && this.samples.length > 0) {
      while (i < frame.length) {
        if (this.pos >= this.samples.length) {
          if (!this.loop) break;
          this.pos = 0;
        }
        const n = Math.min(frame.length - i, this.samples.length - this.pos);
        frame.set(this.samples.subarray(this.pos, this.pos + n), i);
        i += n;
        this.pos += n;
      }
    }
    frame.fill(0, i);
  }

  close(): void {
    this.closed = true;
  }
}

/** The 44-byte header of a PCM WAV file holding `dataBytes` of samples. */
export function wavHeader(dataBytes: number, sampleRateHz = SAMPLE_RATE_HZ): Uint8Array {
  const h = new Uint8Array(WAV_HEADER_BYTES);
  const v = new DataView(h.buffer);
  const tag = (at: number, s: string): void => {
    for (let i = 0; i < 4; i++) h[at + i] = s.charCodeAt(i);
  };
  tag(0, 'RIFF');
  v.setUint32(4, 36 + dataBytes, true);
  tag(8, 'WAVE');
  tag(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, sampleRateHz, true);
  v.setUint32(28, sampleRateHz * 2, true); // byte rate
  v.setUint16(32, 2, true); // block align
  v.setUint16(34, 16, true); // bits per sample
  tag(36, 'data');
  v.setUint32(40, dataBytes, true);
  return h;
}

export interface WavFileSinkComponents {
  log: Logger;
}

export interface WavFileSinkInit {
  path: string;
  /** The recording stops growing at this many sample bytes. Default 64 MiB (≈70 min). */
  maxDataBytes?: number;
}

/**
 * Records to a WAV file. Samples are buffered and written a second at a time, and the header's
 * sizes are brought up to date with every write, so a file cut off by a crash is still
 * playable. A write error is logged once and recording stops; the call goes on.
 */
export class WavFileSink implements AudioSink {
  private readonly log: Logger;
  private readonly path: string;
  private readonly maxDataBytes: number;
  private fd: number | undefined;
  private readonly chunk = new Uint8Array(WAV_WRITE_CHUNK_BYTES);
  private chunkBytes = 0;
  private dataBytes = 0;
  /** Frames not recorded: past the size limit or after a write error. */
  dropped = 0;

  constructor(components: WavFileSinkComponents, init: WavFileSinkInit) {
    this.log = components.log;
    this.path = init.path;
    this.maxDataBytes = Math.min(init.maxDataBytes ?? WAV_MAX_DATA_BYTES, 0xffffffff - 36);
    this.fd = openSync(init.path, 'w');
    writeSync(this.fd, wavHeader(0), 0, WAV_HEADER_BYTES, 0);
  }

  /** Sample bytes recorded so far, including those still buffered. */
  get bytesWritten(): number {
    return this.dataBytes + this.chunkBytes;
  }

  write(frame: Int16Array): void {
    if (this.fd === undefined || this.bytesWritten + frame.length * 2 > this.maxDataBytes) {
      this.dropped++;
      return;
    }
    for (let i = 0; i < frame.length; i++) {
      if (this.chunkBytes + 2 > this.chunk.length) this.flush();
      if (this.fd === undefined) return;
      const s = frame[i];
      this.chunk[this.chunkBytes++] = s & 0xff;
      this.chunk[this.chunkBytes++] = (s >> 8) & 0xff;
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch (err) {
      this.log.warn('closing a WAV recording failed', { path: this.path, err });
    }
    this.fd = undefined;
  }

  private flush(): void {
    if (this.fd === undefined || this.chunkBytes === 0) return;
    try {
      writeSync(this.fd, this.chunk, 0, this.chunkBytes, WAV_HEADER_BYTES + this.dataBytes);
      this.dataBytes += this.chunkBytes;
      this.chunkBytes = 0;
      // RIFF size at 4 and data size at 40: keep the header true after every write.
      writeSync(this.fd, wavHeader(this.dataBytes), 0, WAV_HEADER_BYTES, 0);
    } catch (err) {
      this.log.warn('WAV recording stopped: write failed', { path: this.path, err });
      try {
        closeSync(this.fd);
      } catch {
        // already failing; nothing more to report
      }
      this.fd = undefined;
      this.chunkBytes = 0;
    }
  }
}
