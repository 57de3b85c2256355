// StoreReq and StoreAns (RFC 6940 §7.4.1).
import { type Codec, fixedBytes, readOpaque, readU8, readU32, readU64, readSequence, vector, writeOpaque, writeU8, writeU32, writeU64 } from '../cursor.ts';
import { NODE_ID_BYTES } from '../constants.ts';
import type { NodeId, ResourceId } from '../ids.ts';
import { type DataModels, type StoredData, storedDataVector } from '../stored-data.ts';

export interface StoreKindData {
  kind: number;
  /** 0 stores unconditionally; otherwise it must equal the stored counter (§7.4.1.1). */
  generationCounter: bigint;
  values: StoredData[];
}

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

function kindDataLength(k: StoreKindData, models: DataModels): number {
  return 4 + 8 + storedDataVector(models.get(k.kind)).encodingLength(k.values);
}

function storeKindData(models: DataModels): Codec<StoreKindData> {
  return {
    encodingLength: (k) => kindDataLength(k, models),
    encode(k, c) {
      writeU32(c, k.kind);
      writeU64(c, k.generationCounter);
      storedDataVector(models.get(k.kind)).encode(k.values, c);
    },
    decode(c) {
      const kind = readU32(c, 'kind');
      const generationCounter = readU64(c, 'generation_counter');
      return { kind, generationCounter, values: storedDataVector(models.get(kind)).decode(c) };
    },
  };
}

/** StoreReq; values of kinds missing from `models` stay raw (see StoredDataValue). */
export function storeReq(models: DataModels): Codec<StoreReq> {
  const item = storeKindData(models);
  const total = (r: StoreReq): number => r.kindData.reduce((n, k) => n + kindDataLength(k, models), 0);
  return {
    encodingLength: (r) => 1 + r.resource.length + 1 + 4 + total(r),
    encode(r, c) {
      writeOpaque(c, 1, r.resource, 'resource');
      writeU8(c, r.replicaNumber);
      writeU32(c, total(r));
      for (const k of r.kindData) item.encode(k, c);
    },
    decode(c) {
      const resource = readOpaque(c, 1, 'resource').slice();
      const replicaNumber = readU8(c, 'replica_number');
      return { resource, replicaNumber, kindData: readSequence(c, readU32(c, 'kind_data'), 'kind_data', item) };
    },
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
