// FrameReader: whole frames out of arbitrary TCP chunks, with the size limit checked early.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type FramedMessage as Frame, FramedMessage, FrameReader, InvalidEncoding, encode, encodeMessage } from '../src/codec/index.ts';
import { BODY_NAMES, messageFor } from './fixtures/samples.ts';

const frames: Frame[] = [
  ...BODY_NAMES.slice(0, 6).map((n, i): Frame => ({ type: 'data', sequence: i, message: encodeMessage(messageFor(n)) })),
  { type: 'ack', ackSequence: 3, received: 0b111 },
  { type: 'data', sequence: 6, message: new Uint8Array(0) },
];
const stream = new Uint8Array(Buffer.concat(frames.map((f) => encode(FramedMessage, f))));

function readAll(chunks: Uint8Array[], init = {}): Frame[] {
  const reader = new FrameReader(init);
  const out = chunks.flatMap((c) => reader.push(c));
  assert.equal(reader.buffered, 0);
  return out;
}

test('one chunk holding many frames', () => {
  assert.deepEqual(readAll([stream]), frames);
});

test('every split point of the stream into two chunks', () => {
  for (let i = 0; i <= stream.length; i++) {
    assert.deepEqual(readAll([stream.subarray(0, i), stream.subarray(i)]), frames, `split at ${i}`);
  }
});

test('one byte at a time', () => {
  assert.deepEqual(readAll([...stream].map((b) => Uint8Array.of(b))), frames);
});

test('a frame over the size limit is refused from its header, before the body is buffered', () => {
  const big = encode(FramedMessage, { type: 'data', sequence: 9, message: new Uint8Array(5001) });
  const reader = new FrameReader();
  assert.deepEqual(reader.push(big.subarray(0, 7)), []);
  assert.throws(() => reader.push(big.subarray(7, 8)), (e) => e instanceof InvalidEncoding && e.reason === 'too_large' && e.field === 'framed_message.message');
  assert.equal(reader.buffered, 8, 'only the header is held');
  assert.throws(() => reader.push(Uint8Array.of(0x81)), InvalidEncoding, 'refuses input after losing the framing');
  assert.deepEqual(readAll([big], { maxMessageSize: 5001 })[0], { type: 'data', sequence: 9, message: new Uint8Array(5001) });
});

test('an unknown frame type loses the stream', () => {
  const reader = new FrameReader();
  assert.throws(() => reader.push(Uint8Array.of(0x82, 0, 0)), (e) => e instanceof InvalidEncoding && e.reason === 'unknown_type');
});
