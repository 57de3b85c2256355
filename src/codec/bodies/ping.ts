// PingReq and PingAns (RFC 6940 §6.5.3).
import { type Codec, readOpaque, readU64, writeOpaque, writeU64 } from '../cursor.ts';

export interface PingReq {
  /** Padding for path-MTU discovery. */
  padding: Uint8Array;
}

export interface PingAns {
  /** Random, chosen by the responder. */
  responseId: bigint;
  /** Milliseconds since 1970-01-01 UTC at the responder. */
  time: bigint;
}

export const PingReq: Codec<PingReq> = {
  encodingLength: (p) => 2 + p.padding.length,
  encode: (p, c) => writeOpaque(c, 2, p.padding, 'padding'),
  decode: (c) => ({ padding: readOpaque(c, 2, 'padding') }),
};

export const PingAns: Codec<PingAns> = {
  encodingLength: () => 16,
  encode(p, c) {
    writeU64(c, p.responseId);
    writeU64(c, p.time);
  },
  decode: (c) => ({ responseId: readU64(c, 'response_id'), time: readU64(c, 'time') }),
};
