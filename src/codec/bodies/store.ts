// StoreReq and StoreAns (RFC 6940 §7.4.1).
import { type Codec, fixedBytes, readOpaque, readU8, readU32, readU64, vector, writeOpaque, writeU8, writeU32, writeU64 } from '../cursor.ts';
import { NODE_ID_BYTES } from '../constants.ts';
import type { NodeId, ResourceId } from '../ids.ts';
import { type DataModels, type KindStoredData, kindStoredData } from '../stored-data.ts';

/** `generation` is the RFC's generation_counter: 0 stores unconditionally (§7.4.1.1). */
export type StoreKindData = KindStoredData;

export interface StoreReq {
  resource: ResourceId;
  /** 0 for the original store, 1 and 2 for CHORD-RELOAD's replicas (§10.4). */
  replicaNumber: number;
  kindData: StoreKindData[];
}

export interface StoreKindResponse {
  kind: number;
  generationCounter: bigint;
  replicas: NodeId[];
}

export interface StoreAns {
  kindResponses: StoreKindResponse[];
}

/** StoreReq; values of kinds missing from `models` stay raw (see StoredDataValue). */
export function storeReq(models: DataModels): Codec<StoreReq> {
  const kindData = vector(kindStoredData(models), 4, 'kind_data');
  return {
    encodingLength: (r) => 1 + r.resource.length + 1 + kindData.encodingLength(r.kindData),
    encode(r, c) {
      writeOpaque(c, 1, r.resource, 'resource');
      writeU8(c, r.replicaNumber);
      kindData.encode(r.kindData, c);
    },
    decode: (c) => ({ resource: readOpaque(c, 1, 'resource').slice(), replicaNumber: readU8(c, 'replica_number'), kindData: kindData.decode(c) }),
  };
}

const Replicas = vector(fixedBytes(NODE_ID_BYTES, 'node_id'), 2, 'replicas');

export const StoreKindResponse: Codec<StoreKindResponse> = {
  encodingLength: (k) => 12 + Replicas.encodingLength(k.replicas),
  encode(k, c) {
    writeU32(c, k.kind);
    writeU64(c, k.generationCounter);
    Replicas.encode(k.replicas, c);
  },
  decode: (c) => ({ kind: readU32(c, 'kind'), generationCounter: readU64(c, 'generation_counter'), replicas: Replicas.decode(c) }),
};

const KindResponses = vector(StoreKindResponse, 2, 'kind_responses');

export const StoreAns: Codec<StoreAns> = {
  encodingLength: (a) => KindResponses.encodingLength(a.kindResponses),
  encode: (a, c) => KindResponses.encode(a.kindResponses, c),
  decode: (c) => ({ kindResponses: KindResponses.decode(c) }),
};
