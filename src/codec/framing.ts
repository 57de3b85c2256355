// The link-layer framing header of TLS/TCP links (RFC 6940 §6.6.2, §6.6.5) and a stream
// reader that cuts arbitrary TCP chunks into whole frames.
import { DEFAULT_MAX_MESSAGE_SIZE_BYTES } from './constants.ts';
import { Cursor, InvalidEncoding, readOpaque, readU8, readU32, writeOpaque, writeU8, writeU32, type Codec } from './cursor.ts';

export type FramedMessage =
  | { type: 'data'; sequence: number; message: Uint8Array }
  /** `received`: bit (N - M) set if frame M was among the 32 received before N (§6.6.3.2). */
  | { type: 'ack'; ackSequence: number; received: number };

const DATA = 0x80;
const ACK = 0x81;
/** type + sequence + 24-bit length */
const DATA_HEADER_BYTES = 8;
const ACK_BYTES = 9;

export const FramedMessage: Codec<FramedMessage> = {
  encodingLength: (f) => (f.type === 'data' ? DATA_HEADER_BYTES + f.message.length : ACK_BYTES),
  encode(f, c) {
    if (f.type === 'data') {
      writeU8(c, DATA);
      writeU32(c, f.sequence);
      writeOpaque(c, 3, f.message, 'message');
    } else {
      writeU8(c, ACK);
      writeU32(c, f.ackSequence);
      writeU32(c, f.received);
    }
  },
  decode(c) {
    const type = readU8(c, 'type');
    if (type === DATA) return { type: 'data', sequence: readU32(c, 'sequence'), message: readOpaque(c, 3, 'message') };
    if (type === ACK) return { type: 'ack', ackSequence: readU32(c, 'ack_sequence'), received: readU32(c, 'received') };
    return c.invalid('type', 'unknown_type', `FramedMessageType 0x${type.toString(16)}`);
  },
};

export interface FrameReaderInit {
  /** Largest message accepted in a data frame; max-message-size, default 5000 (§11.1). */
  maxMessageSize?: number;
}

/**
 * Turns a byte stream into frames. Each frame's length is checked against the limit as soon
 * as its 8-byte header is in, before a byte of its body is buffered; at most one frame is
 * ever buffered. A frame wholly inside one chunk is returned as a view of that chunk.
 * After an error the stream has lost its framing and the reader refuses further input.
 */
export class FrameReader {
  private readonly maxMessageSize: number;
  private header = new Uint8Array(ACK_BYTES);
  private headerLength = 0;
  private body: Uint8Array | null = null;
  private bodyLength = 0;
  private failed: InvalidEncoding | null = null;

  constructor(init: FrameReaderInit = {}) {
    this.maxMessageSize = init.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE_BYTES;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.headerLength + this.bodyLength;
  }

  push(chunk: Uint8Array): FramedMessage[] {
    if (this.failed) throw this.failed;
    const frames: FramedMessage[] = [];
    let off = 0;
    try {
      while (off < chunk.length) {
        if (this.headerLength === 0 && this.body === null) {
          // Fast path: a whole frame inside this chunk needs no copy.
          const size = this.frameSize(chunk, off, chunk.length - off);
          if (size > 0 && size <= chunk.length - off) {
            frames.push(this.parse(chunk.subarray(off, off + size)));
            off += size;
            continue;
          }
        }
        off = this.accumulate(chunk, off, frames);
      }
    } catch (e) {
      if (e instanceof InvalidEncoding) this.failed = e;
      throw e;
    }
    return frames;
  }

  /** Copies from `chunk` into the partial frame; returns the new offset. */
  private accumulate(chunk: Uint8Array, off: number, frames: FramedMessage[]): number {
    if (this.body === null) {
      const need = this.headerBytes(this.headerLength > 0 ? this.header[0] : chunk[off]);
      const n = Math.min(need - this.headerLength, chunk.length - off);
      this.header.set(chunk.subarray(off, off + n), this.headerLength);
      this.headerLength += n;
      off += n;
      if (this.headerLength < need) return off;
      const size = this.frameSize(this.header, 0, this.headerLength);
      if (size === this.headerLength) {
        frames.push(this.parse(this.header.slice(0, size)));
        this.headerLength = 0;
        return off;
      }
      this.body = new Uint8Array(size);
      this.body.set(this.header.subarray(0, this.headerLength));
      this.bodyLength = this.headerLength;
      this.headerLength = 0;
    }
    const n = Math.min(this.body.length - this.bodyLength, chunk.length - off);
    this.body.set(chunk.subarray(off, off + n), this.bodyLength);
    this.bodyLength += n;
    off += n;
    if (this.bodyLength === this.body.length) {
      frames.push(this.parse(this.body));
      this.body = null;
      this.bodyLength = 0;
    }
    return off;
  }

  private headerBytes(type: number): number {
    if (type === DATA) return DATA_HEADER_BYTES;
    if (type === ACK) return ACK_BYTES;
    throw new InvalidEncoding('framed_message.type', 'unknown_type', `FramedMessageType 0x${type.toString(16)}`);
  }

  /** Whole frame size from its header, or 0 when the header is not all there yet. */
  private frameSize(b: Uint8Array, off: number, available: number): number {
    const need = this.headerBytes(b[off]);
    if (available < need) return 0;
    if (b[off] === ACK) return ACK_BYTES;
    const length = (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7];
    if (length > this.maxMessageSize) {
      throw new InvalidEncoding('framed_message.message', 'too_large', `${length} bytes exceeds max-message-size ${this.maxMessageSize}`);
    }
    return DATA_HEADER_BYTES + length;
  }

  private parse(frame: Uint8Array): FramedMessage {
    const c = new Cursor(frame);
    c.path.push('framed_message');
    return FramedMessage.decode(c);
  }
}
