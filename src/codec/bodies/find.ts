// FindReq and FindAns (RFC 6940 §7.4.4).
import { type Codec, readOpaque, readU32, u32, vector, writeOpaque, writeU32 } from '../cursor.ts';
import type { ResourceId } from '../ids.ts';

export interface FindReq {
  resource: ResourceId;
  kinds: number[];
}

export interface FindKindData {
  kind: number;
  /** Closest Resource-ID with data of this kind; empty when there is none. */
  closest: ResourceId;
}

export interface FindAns {
  results: FindKindData[];
}

const Kinds = vector(u32, 1, 'kinds');

export const FindReq: Codec<FindReq> = {
  encodingLength: (f) => 1 + f.resource.length + Kinds.encodingLength(f.kinds),
  encode(f, c) {
    writeOpaque(c, 1, f.resource, 'resource');
    Kinds.encode(f.kinds, c);
  },
  decode: (c) => ({ resource: readOpaque(c, 1, 'resource'), kinds: Kinds.decode(c) }),
};

export const FindKindData: Codec<FindKindData> = {
  encodingLength: (k) => 4 + 1 + k.closest.length,
  encode(k, c) {
    writeU32(c, k.kind);
    writeOpaque(c, 1, k.closest, 'closest');
  },
  decode: (c) => ({ kind: readU32(c, 'kind'), closest: readOpaque(c, 1, 'closest') }),
};

const Results = vector(FindKindData, 2, 'results');

export const FindAns: Codec<FindAns> = {
  encodingLength: (f) => Results.encodingLength(f.results),
  encode: (f, c) => Results.encode(f.results, c),
  decode: (c) => ({ results: Results.decode(c) }),
};
