// Audio sources and sinks: tones, WAV files, ALSA child processes (real processes standing
// in for arecord/aplay, and a PATH without them), spec strings, and the tone detector on
// audio that went through G.711.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AlsaSink, AlsaSource, audioFromSpec, AudioSpecError, g711Decode, g711Encode, NullSink, parseAudioSinkSpec, parseAudioSourceSpec,
  parseWav, readWavFile, SilenceSource, ToneDetector, ToneSource, WavFileSink, WavFileSource, WavFormatError, wavHeader,
} from '../src/sip/media/index.ts';
import { silentLogger, type Logger } from '../src/util/log.ts';

const dir = mkdtempSync(join(tmpdir(), 'p2psip-media-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function capturingLogger(): Logger & { lines: { level: string; message: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => { lines.push({ level, message, fields }); };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const frame = (): Int16Array => new Int16Array(160);

test('tone source: phase runs on across frames; silence is zero', () => {
  const a = new ToneSource({ frequencyHz: 440, amplitude: 10000 });
  const b = new ToneSource({ frequencyHz: 440, amplitude: 10000 });
  const whole = new Int16Array(320);
  a.read(whole);
  const f1 = frame();
  const f2 = frame();
  b.read(f1);
  b.read(f2);
  assert.deepEqual([...f1, ...f2], [...whole]);
  assert.equal(Math.max(...whole), 10000);
  a.close();
  a.read(f1);
  assert.ok(f1.every((s) => s === 0));
  const s = new SilenceSource();
  f2.fill(5);
  s.read(f2);
  assert.ok(f2.every((x) => x === 0));
  new NullSink().write(f2);
  assert.throws(() => new ToneSource({ frequencyHz: 4000 }), RangeError);
  assert.throws(() => new ToneSource({ frequencyHz: 440, amplitude: 40000 }), RangeError);
});

test('WAV: a recording reads back sample for sample, header sizes right, looped on playback', () => {
  const path = join(dir, 'round.wav');
  const sink = new WavFileSink({ log: silentLogger }, { path });
  const tone = new ToneSource({ frequencyHz: 1000, amplitude: 20000 });
  const written: number[] = [];
  for (let i = 0; i < 120; i++) { // 2.4 s: crosses the 1 s write chunks
    const f = frame();
    tone.read(f);
    if (i === 7) f[3] = -32768;
    sink.write(f);
    written.push(...f);
  }
  // Before close the header already covers every whole second written.
  const partial = parseWav(readFileSync(path));
  assert.equal(partial.data.length, 32_000);
  sink.close();
  sink.close();
  const bytes = readFileSync(path);
  assert.equal(bytes.length, 44 + written.length * 2);
  assert.equal(bytes.readUInt32LE(4), 36 + written.length * 2);
  assert.equal(bytes.readUInt32LE(40), written.length * 2);
  assert.deepEqual(parseWav(bytes).format, { audioFormat: 1, channels: 1, sampleRateHz: 8000, bitsPerSample: 16 });
  assert.deepEqual([...readWavFile(path)], written);
  const source = new WavFileSource({ path });
  assert.equal(source.length, written.length);
  const back: number[] = [];
  for (let i = 0; i < 121; i++) {
    const f = frame();
    source.read(f);
    back.push(...f);
  }
  assert.deepEqual(back.slice(0, written.length), written);
  // Looped: frame 121 is frame 1 again.
  assert.deepEqual(back.slice(written.length), written.slice(0, 160));
});

test('WAV: short files loop inside a frame; loop off gives silence after the end', () => {
  const path = join(dir, 'short.wav');
  const samples = Int16Array.from({ length: 100 }, (_, i) => i + 1);
  writeFileSync(path, Buffer.concat([wavHeader(200), Buffer.from(samples.buffer)]));
  const looped = new WavFileSource({ path });
  const f = frame();
  looped.read(f);
  assert.deepEqual([...f.subarray(95, 105)], [96, 97, 98, 99, 100, 1, 2, 3, 4, 5]);
  const once = new WavFileSource({ path, loop: false });
  once.read(f);
  assert.equal(f[99], 100);
  assert.ok(f.subarray(100).every((s) => s === 0));
});

test('WAV: extra chunks are skipped, a truncated recorder header is tolerated', () => {
  const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc'), Buffer.from([0])]); // odd size, padded
  const header = Buffer.from(wavHeader(0));
  const fmt = header.subarray(12, 36);
  const data = Buffer.from(Int16Array.from([1, -2, 3]).buffer);
  const riff = Buffer.concat([header.subarray(0, 12), list, fmt, Buffer.from('data'), Buffer.from([0, 0, 0, 0]), data]);
  const path = join(dir, 'chunks.wav');
  writeFileSync(path, riff);
  assert.deepEqual([...readWavFile(path)], [1, -2, 3]);
});

test('WAV: other formats are refused with a message that says how to convert', () => {
  const variant = (patch: (h: Buffer) => void): string => {
    const h = Buffer.from(wavHeader(4));
    patch(h);
    const path = join(dir, `v${Math.random().toString(36).slice(2)}.wav`);
    writeFileSync(path, Buffer.concat([h, Buffer.alloc(4)]));
    return path;
  };
  const cases: [string, string, RegExp][] = [
    ['stereo', variant((h) => h.writeUInt16LE(2, 22)), /2 channels.*only 8000 Hz mono 16-bit PCM.*sox/],
    ['16 kHz', variant((h) => h.writeUInt32LE(16000, 24)), /16000 Hz/],
    ['8-bit', variant((h) => h.writeUInt16LE(8, 34)), /8-bit PCM/],
    ['μ-law', variant((h) => h.writeUInt16LE(7, 20)), /μ-law/],
    ['not RIFF', variant((h) => h.write('RIFX', 0)), /not a RIFF WAVE file/],
  ];
  for (const [name, path, message] of cases) {
    assert.throws(() => new WavFileSource({ path }), (e: unknown) => e instanceof WavFormatError && message.test(e.message), name);
  }
  assert.throws(() => new WavFileSource({ path: join(dir, 'missing.wav') }), (e: unknown) => e instanceof WavFormatError && /cannot open/.test(e.message));
  assert.throws(() => readWavFile(cases[0][1], 10), /at most 10/);
});

test('WAV sink: stops at its size limit and counts what it dropped', () => {
  const path = join(dir, 'limit.wav');
  const sink = new WavFileSink({ log: silentLogger }, { path, maxDataBytes: 1000 });
  for (let i = 0; i < 10; i++) sink.write(frame());
  sink.close();
  assert.equal(sink.dropped, 7);
  assert.equal(readWavFile(path).length, 480);
});

test('audio specs: every form, and errors that list the valid ones', () => {
  assert.deepEqual(parseAudioSourceSpec('silence'), { kind: 'silence' });
  assert.deepEqual(parseAudioSourceSpec('tone:440'), { kind: 'tone', frequencyHz: 440, amplitude: 8000 });
  assert.deepEqual(parseAudioSourceSpec('TONE:1000:1200'), { kind: 'tone', frequencyHz: 1000, amplitude: 1200 });
  assert.deepEqual(parseAudioSourceSpec('wav:/tmp/a b.wav'), { kind: 'wav', path: '/tmp/a b.wav' });
  assert.deepEqual(parseAudioSourceSpec('alsa'), { kind: 'alsa' });
  assert.deepEqual(parseAudioSourceSpec('alsa:hw:1,0'), { kind: 'alsa', device: 'hw:1,0' });
  assert.deepEqual(parseAudioSinkSpec('null'), { kind: 'null' });
  assert.deepEqual(parseAudioSinkSpec('wav:/tmp/out.wav'), { kind: 'wav', path: '/tmp/out.wav' });
  assert.deepEqual(parseAudioSinkSpec('alsa:plughw:0,0'), { kind: 'alsa', device: 'plughw:0,0' });
  for (const bad of ['', 'tone', 'tone:abc', 'wav:', 'mic', 'silence:1', 'null']) {
    assert.throws(() => parseAudioSourceSpec(bad), (e: unknown) => e instanceof AudioSpecError && /silence, tone:<Hz>/.test(e.message), bad);
  }
  assert.throws(() => parseAudioSourceSpec('tone:5000'), AudioSpecError);
  for (const bad of ['silence', 'tone:440', 'wav', 'speaker']) assert.throws(() => parseAudioSinkSpec(bad), (e: unknown) => e instanceof AudioSpecError && /null, wav:<path>/.test(e.message), bad);
  assert.ok(audioFromSpec({ log: silentLogger }, 'tone:440', 'source') instanceof ToneSource);
  assert.ok(audioFromSpec({ log: silentLogger }, 'silence', 'source') instanceof SilenceSource);
  assert.ok(audioFromSpec({ log: silentLogger }, 'null', 'sink') instanceof NullSink);
  assert.ok(audioFromSpec({ log: silentLogger }, 'alsa', 'source') instanceof AlsaSource);
  assert.ok(audioFromSpec({ log: silentLogger }, 'alsa:hw:1,0', 'sink') instanceof AlsaSink);
  const out = audioFromSpec({ log: silentLogger }, `wav:${join(dir, 'spec.wav')}`, 'sink');
  assert.ok(out instanceof WavFileSink);
  out.close();
  assert.throws(() => audioFromSpec({ log: silentLogger }, `wav:${join(dir, 'nope.wav')}`, 'source'), WavFormatError);
});

/** A `spawn` that runs a Node script in place of arecord/aplay, recording the arguments asked for. */
function nodeScript(script: string, calls: { command: string; args: readonly string[] }[] = []) {
  return (command: string, args: readonly string[], options: SpawnOptions) => {
    calls.push({ command, args });
    return spawn(process.execPath, ['-e', script], options);
  };
}

test('ALSA source: arecord missing from PATH gives silence and one warning, no crash', async () => {
  const log = capturingLogger();
  const source = new AlsaSource({ log }, { env: { PATH: join(dir, 'empty-path') } });
  const f = frame();
  f.fill(1);
  source.read(f);
  assert.ok(f.every((s) => s === 0));
  await sleep(100);
  for (let i = 0; i < 5; i++) source.read(f);
  assert.ok(f.every((s) => s === 0));
  assert.equal(source.healthy, false);
  const warnings = log.lines.filter((l) => l.level === 'warn');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0].message, /arecord could not run; using silence/);
  assert.match(String(warnings[0].fields?.err), /ENOENT/);
  source.close();
  source.close();
});

test('ALSA source: captured S16_LE arrives frame-aligned across odd pipe reads; the ring stays bounded', async () => {
  const calls: { command: string; args: readonly string[] }[] = [];
  // 20 frames of a counting ramp, written in 333-byte pieces so samples straddle reads.
  const script = `
    const b = Buffer.alloc(20 * 320);
    for (let i = 0; i < 20 * 160; i++) b.writeInt16LE((i % 30000) - 15000, i * 2);
    let at = 0;
    const t = setInterval(() => {
      if (at >= b.length) { clearInterval(t); setTimeout(() => {}, 5000); return; }
      process.stdout.write(b.subarray(at, at + 333)); at += 333;
    }, 1);`;
  const source = new AlsaSource({ log: silentLogger, spawn: nodeScript(script, calls) }, { device: 'hw:1,0' });
  const f = frame();
  source.read(f);
  assert.deepEqual(calls[0], { command: 'arecord', args: ['-q', '-t', 'raw', '-f', 'S16_LE', '-r', '8000', '-c', '1', '-D', 'hw:1,0'] });
  await sleep(800);
  // Only the newest 5 frames are kept: frames 15..19.
  const got: number[] = [];
  for (let i = 0; i < 5; i++) {
    source.read(f);
    got.push(f[0], f[159]);
  }
  assert.deepEqual(got, [15, 16, 17, 18, 19].flatMap((n) => [n * 160 - 15000, n * 160 + 159 - 15000]));
  assert.equal(source.stats.dropped, 15);
  assert.equal(source.stats.frames, 5);
  source.read(f);
  assert.ok(f.every((s) => s === 0));
  assert.ok(source.stats.underruns >= 1);
  assert.equal(source.healthy, true);
  source.close();
});

test('ALSA source: a child that dies is logged with its stderr and leaves silence', async () => {
  const log = capturingLogger();
  const source = new AlsaSource({ log, spawn: nodeScript('process.stderr.write("arecord: audio open error: No such device"); process.exit(1)') });
  const f = frame();
  source.read(f);
  await sleep(500);
  source.read(f);
  assert.ok(f.every((s) => s === 0));
  assert.equal(source.healthy, false);
  const warn = log.lines.find((l) => l.level === 'warn');
  assert.match(warn!.message, /arecord exited/);
  assert.equal(warn!.fields?.code, 1);
  assert.match(String(warn!.fields?.stderr), /No such device/);
  source.close();
});

test('ALSA sink: frames are dropped and counted while aplay does not read', async () => {
  const calls: { command: string; args: readonly string[] }[] = [];
  const sink = new AlsaSink({ log: silentLogger, spawn: nodeScript('setTimeout(() => {}, 10000)', calls) });
  const f = frame();
  for (let i = 0; i < 600; i++) sink.write(f);
  assert.equal(calls[0].command, 'aplay');
  assert.ok(sink.stats.dropped > 0, 'nothing dropped');
  // The pipe holds 64 KiB (≈205 frames) plus the sink's own 8-frame allowance.
  assert.ok(sink.stats.frames < 260, `${sink.stats.frames} frames queued`);
  assert.equal(sink.stats.frames + sink.stats.dropped, 600);
  sink.close();
  sink.close();
  sink.write(f);
});

test('ALSA sink: aplay missing from PATH is one warning; writes are discarded', async () => {
  const log = capturingLogger();
  const sink = new AlsaSink({ log }, { env: { PATH: join(dir, 'empty-path') } });
  sink.write(frame());
  await sleep(100);
  for (let i = 0; i < 10; i++) sink.write(frame());
  assert.equal(sink.healthy, false);
  assert.equal(log.lines.filter((l) => l.level === 'warn').length, 1);
  sink.close();
});

// ---- tone detector ----

function detectAfterG711(codec: 'PCMU' | 'PCMA', frequencyHz: number, amplitude: number) {
  const src = new ToneSource({ frequencyHz, amplitude });
  const det = new ToneDetector();
  const f = frame();
  for (let i = 0; i < 15; i++) {
    src.read(f);
    det.write(g711Decode(codec, g711Encode(codec, f)));
  }
  return det.detect();
}

test('tone detector: 300-3400 Hz within ±10 Hz after G.711, at loud and quiet levels', () => {
  for (const codec of ['PCMU', 'PCMA'] as const) {
    for (let hz = 300; hz <= 3400; hz += 50) {
      for (const amplitude of [500, 8000, 32000]) {
        const r = detectAfterG711(codec, hz, amplitude);
        assert.ok(r, `${codec} ${hz} Hz at ${amplitude}: no tone`);
        assert.ok(Math.abs(r.frequencyHz - hz) <= 10, `${codec} ${hz} Hz detected as ${r.frequencyHz}`);
      }
    }
  }
  const r = detectAfterG711('PCMU', 440, Math.round(32767 / 10));
  assert.ok(r && Math.abs(r.levelDb + 20) < 0.5, `level ${r?.levelDb}`);
  assert.ok(r.purity > 0.99);
});

test('tone detector: silence, noise, two tones (DTMF) and a short window are no tone', () => {
  const det = new ToneDetector();
  const f = frame();
  det.write(f);
  assert.equal(det.detect(), null); // window not yet full
  for (let i = 0; i < 15; i++) det.write(f);
  assert.equal(det.detect(), null); // digital silence
  let seed = 1;
  const noise = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed / 0x7fffffff - 0.5) * 16000;
  };
  for (let i = 0; i < 15; i++) {
    for (let j = 0; j < 160; j++) f[j] = noise();
    det.write(f);
  }
  assert.equal(det.detect(), null);
  const low = new ToneSource({ frequencyHz: 770, amplitude: 6000 });
  const high = new ToneSource({ frequencyHz: 1336, amplitude: 6000 });
  const a = frame();
  const b = frame();
  for (let i = 0; i < 15; i++) {
    low.read(a);
    high.read(b);
    for (let j = 0; j < 160; j++) f[j] = a[j] + b[j];
    det.write(f);
  }
  assert.equal(det.detect(), null);
  // A tone that changes inside the window is not steady.
  const first = new ToneSource({ frequencyHz: 600, amplitude: 8000 });
  const second = new ToneSource({ frequencyHz: 900, amplitude: 8000 });
  for (let i = 0; i < 10; i++) {
    (i < 5 ? first : second).read(f);
    det.write(f);
  }
  assert.equal(det.detect(), null);
  for (let i = 0; i < 10; i++) {
    second.read(f);
    det.write(f);
  }
  assert.ok(Math.abs(det.detect()!.frequencyHz - 900) < 1);
  det.reset();
  assert.equal(det.detect(), null);
});
