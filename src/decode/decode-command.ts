// `p2psip decode`: RELOAD bytes in (hex text, a raw file, a pcap or pcapng capture), one
// JSON object per message out.
import { readFileSync } from 'node:fs';
import {
  BASE_DATA_MODELS, CodecError, Cursor, FrameReader, decodeForwardingHeader, decodeMessage, fromHex, isFragment, RELO_TOKEN,
} from '../codec/index.ts';
import { describeFragment, describeMessage } from './describe.ts';
import { CaptureError, readCapture, tcpStreams } from './pcap-reader.ts';

type Json = ReturnType<typeof describeMessage>;

export interface DecodeIo {
  readInput(path: string): Uint8Array;
  print(line: string): void;
}

const USAGE = `usage: p2psip decode [--pretty] [--max-message-size N] [FILE | - | --hex HEX]
  FILE may hold hex text, raw RELOAD bytes (bare messages or framed, RFC 6940 §6.6.2),
  or a pcap/pcapng capture of framed RELOAD over TCP or UDP.`;

const PCAP_MAGICS = [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a];
const FRAME_DATA = 0x80;
const FRAME_ACK = 0x81;

/** Returns the process exit code: 0 when every message decoded, 1 otherwise, 2 on usage. */
export function runDecode(args: string[], io: DecodeIo): number {
  let pretty = false;
  let maxMessageSize = 1 << 24; // a debugging tool reads what it is given
  let input: Uint8Array | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--pretty') pretty = true;
    else if (a === '--max-message-size') maxMessageSize = Number(args[++i]);
    else if (a === '--hex') input = hexInput(args[++i] ?? '');
    else if (a === '-h' || a === '--help') { io.print(USAGE); return 0; }
    else if (input === undefined) input = io.readInput(a);
    else { io.print(USAGE); return 2; }
  }
  if (input === undefined) input = io.readInput('-');
  const out = (v: Json): void => io.print(JSON.stringify(v, null, pretty ? 2 : undefined));
  let failures = 0;
  const emit = (source: Json, frame: Json | undefined, bytes: Uint8Array): void => {
    const decoded = describeBytes(bytes, maxMessageSize);
    if ('error' in (decoded as object)) failures++;
    out({ source, ...(frame ? { frame } : {}), ...(decoded as object) });
  };
  try {
    if (input.length >= 4 && PCAP_MAGICS.includes(new DataView(input.buffer, input.byteOffset).getUint32(0))) {
      decodeCapture(input, maxMessageSize, emit, (e) => { failures++; out(e); });
    } else {
      decodeStream(hexOrRaw(input), { input: 'bytes' }, maxMessageSize, emit, (e) => { failures++; out(e); });
    }
  } catch (e) {
    if (!(e instanceof CaptureError)) throw e;
    out({ error: e.message });
    return 1;
  }
  return failures === 0 ? 0 : 1;
}

/** Hex text (whitespace, colons and 0x allowed) if the file is that; raw bytes otherwise. */
function hexOrRaw(bytes: Uint8Array): Uint8Array {
  const s = Buffer.from(bytes).toString('latin1');
  return /^(\s|0x|[0-9a-fA-F:])*$/.test(s) && /[0-9a-fA-F]/.test(s) ? hexInput(s) : bytes;
}

function hexInput(s: string): Uint8Array {
  return fromHex(s.replace(/0x/g, ''));
}

type Emit = (source: Json, frame: Json | undefined, message: Uint8Array) => void;
type Fail = (error: Json) => void;

function decodeCapture(capture: Uint8Array, max: number, emit: Emit, fail: Fail): void {
  const segments = readCapture(capture);
  for (const s of segments) {
    if (s.proto !== 'udp') continue;
    decodeStream(s.payload, { proto: 'udp', src: s.src, dst: s.dst, time: s.time }, max, emit, fail);
  }
  for (const [direction, stream] of tcpStreams(segments)) {
    decodeStream(stream, { proto: 'tcp', stream: direction }, max, emit, fail);
  }
}

/** A run of framed messages (first byte 0x80/0x81) or of bare messages ("RELO" token). */
function decodeStream(bytes: Uint8Array, source: Json, max: number, emit: Emit, fail: Fail): void {
  if (bytes.length === 0) return;
  if (bytes[0] === FRAME_DATA || bytes[0] === FRAME_ACK) {
    const reader = new FrameReader({ maxMessageSize: max });
    try {
      for (const f of reader.push(bytes)) {
        if (f.type === 'ack') emit(source, { type: 'ack', ack_sequence: f.ackSequence, received: `0x${f.received.toString(16)}` }, new Uint8Array(0));
        else emit(source, { type: 'data', sequence: f.sequence }, f.message);
      }
      if (reader.buffered > 0) fail({ source, error: `stream ends inside a frame (${reader.buffered} bytes)` });
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      fail({ source, error: e.message, field: e.field });
    }
    return;
  }
  let at = 0;
  while (at < bytes.length) {
    const rest = bytes.subarray(at);
    const length = rest.length >= 20 && new DataView(rest.buffer, rest.byteOffset).getUint32(0) === RELO_TOKEN
      ? new DataView(rest.buffer, rest.byteOffset).getUint32(16)
      : rest.length;
    emit(source, undefined, rest.subarray(0, Math.max(1, Math.min(length, rest.length))));
    at += Math.max(1, Math.min(length, rest.length));
  }
}

function describeBytes(bytes: Uint8Array, maxMessageSize: number): Json {
  if (bytes.length === 0) return {};
  try {
    const c = new Cursor(bytes);
    const header = decodeForwardingHeader(c, { maxMessageSize });
    if (isFragment(header)) return describeFragment(header, bytes.length - c.pos);
    return describeMessage(decodeMessage(bytes, { maxMessageSize }), BASE_DATA_MODELS);
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    return { error: e.message, field: e.field, reason: e.name, bytes: bytes.length };
  }
}

export function nodeDecodeIo(): DecodeIo {
  return {
    readInput: (path) => new Uint8Array(readFileSync(path === '-' ? 0 : path)),
    print: (line) => process.stdout.write(`${line}\n`),
  };
}
