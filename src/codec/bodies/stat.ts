// StatAns (RFC 6940 §7.4.3): metadata of stored values instead of the values. StatReq is
// the FetchReq structure (see fetch.ts).
import { type Codec, Cursor, readBoolean, readOpaque, readU8, readU32, readU64, readSequence, vector, within, writeBytes, writeOpaque, writeU8, writeU32, writeU64, writeLength } from '../cursor.ts';
import type { DataModel, DataModels } from '../stored-data.ts';

export interface MetaData {
  exists: boolean;
  valueLength: number;
  hashAlgorithm: number;
  /** Hash over the value including its 4-byte length (§7.4.3.1). */
  hashValue: Uint8Array;
}

export type MetaDataValue =
  | { model: 'single'; value: MetaData }
  | { model: 'array'; index: number; value: MetaData }
  | { model: 'dictionary'; key: Uint8Array; value: MetaData };

export interface StoredMetaData {
  storageTime: bigint;
  lifetime: number;
  metadata: MetaDataValue;
}

export type StatKindResponse = { kind: number; generation: bigint } & (
  | { values: StoredMetaData[] }
  /** StoredMetaData has no length of its own: a kind we do not know stays one raw vector. */
  | { rawValues: Uint8Array }
);

export interface StatAns {
  kindResponses: StatKindResponse[];
}

export const MetaData: Codec<MetaData> = {
  encodingLength: (m) => 1 + 4 + 1 + 1 + m.hashValue.length,
  encode(m, c) {
    writeU8(c, m.exists ? 1 : 0);
    writeU32(c, m.valueLength);
    writeU8(c, m.hashAlgorithm);
    writeOpaque(c, 1, m.hashValue, 'hash_value');
  },
  decode: (c) => ({
    exists: readBoolean(c, 'exists'),
    valueLength: readU32(c, 'value_length'),
    hashAlgorithm: readU8(c, 'hash_algorithm'),
    hashValue: readOpaque(c, 1, 'hash_value'),
  }),
};

function metaDataValueLength(v: MetaDataValue): number {
  const inner = MetaData.encodingLength(v.value);
  return v.model === 'single' ? inner : v.model === 'array' ? 4 + inner : 2 + v.key.length + inner;
}

function storedMetaDataInnerLength(s: StoredMetaData): number {
  return 12 + metaDataValueLength(s.metadata);
}

/**
 * [AMBIG] §7.4.3.2 names the first field value_length, yet says the fields "are the same as
 * the corresponding fields in StoredData", whose first field is the length of the rest of the
 * structure. We write that length, as Wireshark's dissector reads it, so a reader can step
 * over an entry.
 */
function storedMetaData(model: DataModel): Codec<StoredMetaData> {
  return {
    encodingLength: (s) => 4 + storedMetaDataInnerLength(s),
    encode(s, c) {
      writeLength(c, 4, storedMetaDataInnerLength(s), 'stored_meta_data');
      writeU64(c, s.storageTime);
      writeU32(c, s.lifetime);
      const m = s.metadata;
      if (m.model === 'array') writeU32(c, m.index);
      else if (m.model === 'dictionary') writeOpaque(c, 2, m.key, 'key');
      MetaData.encode(m.value, c);
    },
    decode: (c) => within(c, readU32(c, 'length'), 'stored_meta_data', (): StoredMetaData => {
      const storageTime = readU64(c, 'storage_time');
      const lifetime = readU32(c, 'lifetime');
      c.path.push('metadata');
      let metadata: MetaDataValue;
      if (model === 'array') {
        const index = readU32(c, 'index');
        metadata = { model, index, value: MetaData.decode(c) };
      } else if (model === 'dictionary') {
        const key = readOpaque(c, 2, 'key');
        metadata = { model, key, value: MetaData.decode(c) };
      } else {
        metadata = { model, value: MetaData.decode(c) };
      }
      c.path.pop();
      return { storageTime, lifetime, metadata };
    }),
  };
}

function valuesLength(k: StatKindResponse, models: DataModels): number {
  if ('rawValues' in k) return k.rawValues.length;
  const item = storedMetaData(models.get(k.kind) ?? 'single');
  return k.values.reduce((n, v) => n + item.encodingLength(v), 0);
}

export function statAns(models: DataModels): Codec<StatAns> {
  const item: Codec<StatKindResponse> = {
    encodingLength: (k) => 12 + 4 + valuesLength(k, models),
    encode(k, c) {
      writeU32(c, k.kind);
      writeU64(c, k.generation);
      writeLength(c, 4, valuesLength(k, models), 'values');
      if ('rawValues' in k) writeBytes(c, k.rawValues);
      else for (const v of k.values) storedMetaData(models.get(k.kind) ?? 'single').encode(v, c);
    },
    decode(c: Cursor) {
      const kind = readU32(c, 'kind');
      const generation = readU64(c, 'generation');
      const length = readU32(c, 'values');
      const model = models.get(kind);
      if (model === undefined) return { kind, generation, rawValues: readRaw(c, length) };
      return { kind, generation, values: readSequence(c, length, 'values', storedMetaData(model)) };
    },
  };
  const responses = vector(item, 4, 'kind_responses');
  return {
    encodingLength: (a) => responses.encodingLength(a.kindResponses),
    encode: (a, c) => responses.encode(a.kindResponses, c),
    decode: (c) => ({ kindResponses: responses.decode(c) }),
  };
}

function readRaw(c: Cursor, length: number): Uint8Array {
  const at = c.take(length, 'values');
  return c.bytes.subarray(at, at + length);
}
