// FetchReq and FetchAns (RFC 6940 §7.4.2); StatReq has FetchReq's shape (§7.4.3).
import { type Codec, readOpaque, readU32, readU64, readSequence, vector, writeOpaque, writeU32, writeU64 } from '../cursor.ts';
import type { ResourceId } from '../ids.ts';
import { type DataModels, type StoredData, type StoredDataSpecifier, storedDataSpecifier, storedDataVector } from '../stored-data.ts';

export interface FetchReq {
  resource: ResourceId;
  specifiers: StoredDataSpecifier[];
}

export interface FetchKindResponse {
  kind: number;
  generation: bigint;
  values: StoredData[];
}

export interface FetchAns {
  kindResponses: FetchKindResponse[];
}

/** FetchReq, and StatReq which is the same structure. */
export function fetchReq(models: DataModels): Codec<FetchReq> {
  const specifiers = vector(storedDataSpecifier(models), 2, 'specifiers');
  return {
    encodingLength: (f) => 1 + f.resource.length + specifiers.encodingLength(f.specifiers),
    encode(f, c) {
      writeOpaque(c, 1, f.resource, 'resource');
      specifiers.encode(f.specifiers, c);
    },
    decode: (c) => ({ resource: readOpaque(c, 1, 'resource'), specifiers: specifiers.decode(c) }),
  };
}

function kindResponseLength(k: FetchKindResponse, models: DataModels): number {
  return 12 + storedDataVector(models.get(k.kind)).encodingLength(k.values);
}

export function fetchAns(models: DataModels): Codec<FetchAns> {
  const item: Codec<FetchKindResponse> = {
    encodingLength: (k) => kindResponseLength(k, models),
    encode(k, c) {
      writeU32(c, k.kind);
      writeU64(c, k.generation);
      storedDataVector(models.get(k.kind)).encode(k.values, c);
    },
    decode(c) {
      const kind = readU32(c, 'kind');
      const generation = readU64(c, 'generation');
      return { kind, generation, values: storedDataVector(models.get(kind)).decode(c) };
    },
  };
  const total = (a: FetchAns): number => a.kindResponses.reduce((n, k) => n + kindResponseLength(k, models), 0);
  return {
    encodingLength: (a) => 4 + total(a),
    encode(a, c) {
      writeU32(c, total(a));
      for (const k of a.kindResponses) item.encode(k, c);
    },
    decode: (c) => ({ kindResponses: readSequence(c, readU32(c, 'kind_responses'), 'kind_responses', item) }),
  };
}
