// FetchReq and FetchAns (RFC 6940 §7.4.2); StatReq has FetchReq's shape (§7.4.3).
import { type Codec, readOpaque, vector, writeOpaque } from '../cursor.ts';
import type { ResourceId } from '../ids.ts';
import { type DataModels, type KindStoredData, type StoredDataSpecifier, kindStoredData, storedDataSpecifier } from '../stored-data.ts';

export interface FetchReq {
  resource: ResourceId;
  specifiers: StoredDataSpecifier[];
}

/** FetchKindResponse: the same fields as a StoreKindData. */
export type FetchKindResponse = KindStoredData;

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

export function fetchAns(models: DataModels): Codec<FetchAns> {
  const responses = vector(kindStoredData(models), 4, 'kind_responses');
  return {
    encodingLength: (a) => responses.encodingLength(a.kindResponses),
    encode: (a, c) => responses.encode(a.kindResponses, c),
    decode: (c) => ({ kindResponses: responses.decode(c) }),
  };
}
