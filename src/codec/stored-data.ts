// StoredData and its values in the three data models (RFC 6940 §7.2), StoredDataSpecifier
// (§7.4.2) and the exact bytes a StoredData signature covers (§7.1).
import {
  type Codec, Cursor, i32, readBoolean, readOpaque, readU32, readU64, readU16, vector, opaque, within,
  writeBytes, writeOpaque, writeU8, writeU16, writeU32, writeU64, writeLength } from './cursor.ts';
import { Signature, SignerIdentity } from './security-block.ts';

/** Data model of a Kind (§7.2); not on the wire, it comes from the Kind definition. */
export type DataModel = 'single' | 'array' | 'dictionary';

/** Which data model each known Kind-ID uses; kinds absent from it are kept undecoded. */
export type DataModels = ReadonlyMap<number, DataModel>;

export interface DataValue {
  exists: boolean;
  value: Uint8Array;
}

export type StoredDataValue =
  | { model: 'single'; value: DataValue }
  | { model: 'array'; index: number; value: DataValue }
  | { model: 'dictionary'; key: Uint8Array; value: DataValue }
  /** Kind unknown to us: value and signature cannot be told apart, so both stay raw. */
  | { model: 'unknown'; raw: Uint8Array };

export interface StoredData {
  /** Milliseconds since 1970-01-01 UTC, set by the storing node. */
  storageTime: bigint;
  /** Seconds from receipt. */
  lifetime: number;
  value: StoredDataValue;
  /** Absent only when the value's model is unknown (it is inside `raw`). */
  signature?: Signature;
}

/** Array index that means "append" in a Store (§7.4.1.1). */
export const ARRAY_APPEND_INDEX = 0xffffffff;

export const DataValue: Codec<DataValue> = {
  encodingLength: (d) => 5 + d.value.length,
  encode(d, c) {
    writeU8(c, d.exists ? 1 : 0);
    writeOpaque(c, 4, d.value, 'value');
  },
  // Copied: stored values outlive the frame that carried them.
  decode: (c) => ({ exists: readBoolean(c, 'exists'), value: readOpaque(c, 4, 'value').slice() }),
};

export function storedDataValueLength(v: StoredDataValue): number {
  switch (v.model) {
    case 'single': return DataValue.encodingLength(v.value);
    case 'array': return 4 + DataValue.encodingLength(v.value);
    case 'dictionary': return 2 + v.key.length + DataValue.encodingLength(v.value);
    case 'unknown': return v.raw.length;
  }
}

export function encodeStoredDataValue(v: StoredDataValue, c: Cursor): void {
  switch (v.model) {
    case 'single': break;
    case 'array': writeU32(c, v.index); break;
    case 'dictionary': writeOpaque(c, 2, v.key, 'key'); break;
    case 'unknown': writeBytes(c, v.raw); return;
  }
  DataValue.encode(v.value, c);
}

/** StoredDataValue of one data model (the model is not on the wire, §7.2). */
export function storedDataValue(model: DataModel): Codec<StoredDataValue> {
  return { encodingLength: storedDataValueLength, encode: encodeStoredDataValue, decode: (c) => decodeStoredDataValue(c, model) };
}

function decodeStoredDataValue(c: Cursor, model: DataModel): StoredDataValue {
  switch (model) {
    case 'single':
      return { model, value: decodeNamed(c, 'value', DataValue) };
    case 'array': {
      const index = readU32(c, 'index');
      return { model, index, value: decodeNamed(c, 'value', DataValue) };
    }
    case 'dictionary': {
      const key = readOpaque(c, 2, 'key').slice();
      return { model, key, value: decodeNamed(c, 'value', DataValue) };
    }
  }
}

function decodeNamed<T>(c: Cursor, name: string, codec: Codec<T>): T {
  c.path.push(name);
  const v = codec.decode(c);
  c.path.pop();
  return v;
}

function storedDataInnerLength(s: StoredData): number {
  return 8 + 4 + storedDataValueLength(s.value) + (s.signature ? Signature.encodingLength(s.signature) : 0);
}

/** StoredData for one data model; `undefined` keeps the value and signature raw. */
export function storedData(model: DataModel | undefined): Codec<StoredData> {
  return {
    encodingLength: (s) => 4 + storedDataInnerLength(s),
    encode(s, c) {
      writeLength(c, 4, storedDataInnerLength(s), 'stored_data');
      writeU64(c, s.storageTime);
      writeU32(c, s.lifetime);
      encodeStoredDataValue(s.value, c);
      if (s.signature) Signature.encode(s.signature, c);
    },
    decode(c) {
      // The leading length lets a reader step over data of a kind it does not know.
      return within(c, readU32(c, 'length'), 'stored_data', (): StoredData => {
        const storageTime = readU64(c, 'storage_time');
        const lifetime = readU32(c, 'lifetime');
        if (model === undefined) {
          const at = c.take(c.end - c.pos, 'value');
          return { storageTime, lifetime, value: { model: 'unknown', raw: c.bytes.slice(at, c.end) } };
        }
        c.path.push('value');
        const value = decodeStoredDataValue(c, model);
        c.path.pop();
        return { storageTime, lifetime, value, signature: decodeNamed(c, 'signature', Signature) };
      });
    },
  };
}

/** `StoredData values<0..2^32-1>` for one kind, by that kind's data model. */
const storedDataVectors = new Map<DataModel | undefined, Codec<StoredData[]>>();
export function storedDataVector(model: DataModel | undefined): Codec<StoredData[]> {
  let v = storedDataVectors.get(model);
  if (!v) storedDataVectors.set(model, (v = vector(storedData(model), 4, 'values')));
  return v;
}

/**
 * The bytes a StoredData signature covers (§7.1):
 *   resource_id ‖ kind ‖ storage_time ‖ StoredDataValue ‖ SignerIdentity
 * [AMBIG] §7.1 does not give the widths of resource_id and kind. We sign the Resource-ID as
 * its raw bytes, without the length byte it has in a StoreReq, and the Kind-ID as a uint32,
 * the width of the KindId type (§5.2); storage_time is the uint64 of StoredData. An array
 * entry is signed with its index set to zero (§7.4.1.1), so that appended entries verify.
 */
export function storedDataSignatureInput(resourceId: Uint8Array, kind: number, storageTime: bigint, value: StoredDataValue, identity: SignerIdentity): Uint8Array {
  const signed = value.model === 'array' ? { ...value, index: 0 } : value;
  const c = Cursor.alloc(resourceId.length + 4 + 8 + storedDataValueLength(signed) + SignerIdentity.encodingLength(identity));
  writeBytes(c, resourceId);
  writeU32(c, kind);
  writeU64(c, storageTime);
  encodeStoredDataValue(signed, c);
  SignerIdentity.encode(identity, c);
  return c.bytes;
}

/**
 * A Kind-ID, a generation counter and StoredData values of that kind: StoreKindData
 * (§7.4.1.1) and FetchKindResponse (§7.4.2.2) are this same structure.
 */
export interface KindStoredData {
  kind: number;
  generation: bigint;
  values: StoredData[];
}

export function kindStoredData(models: DataModels): Codec<KindStoredData> {
  const values = (kind: number): Codec<StoredData[]> => storedDataVector(models.get(kind));
  return {
    encodingLength: (k) => 12 + values(k.kind).encodingLength(k.values),
    encode(k, c) {
      writeU32(c, k.kind);
      writeU64(c, k.generation);
      values(k.kind).encode(k.values, c);
    },
    decode(c) {
      const kind = readU32(c, 'kind');
      const generation = readU64(c, 'generation');
      return { kind, generation, values: values(kind).decode(c) };
    },
  };
}

// ---- StoredDataSpecifier (§7.4.2.1) ----

export interface ArrayRange {
  first: number;
  last: number;
}

export type StoredDataSpecifier = { kind: number; generation: bigint } & (
  | { model: 'single' }
  | { model: 'array'; indices: ArrayRange[] }
  /** An empty key list asks for every key. */
  | { model: 'dictionary'; keys: Uint8Array[] }
  | { model: 'unknown'; raw: Uint8Array }
);

export const ArrayRange: Codec<ArrayRange> = {
  encodingLength: () => 8,
  encode(r, c) { i32.encode(r.first, c); i32.encode(r.last, c); },
  decode: (c) => ({ first: i32.decode(c), last: i32.decode(c) }),
};
const ArrayRanges = vector(ArrayRange, 2, 'indices');
const DictionaryKeys = vector(opaque(2, 'key'), 2, 'keys');

function specifierBodyLength(s: StoredDataSpecifier): number {
  switch (s.model) {
    case 'single': return 0;
    case 'array': return ArrayRanges.encodingLength(s.indices);
    case 'dictionary': return DictionaryKeys.encodingLength(s.keys);
    case 'unknown': return s.raw.length;
  }
}

export function storedDataSpecifier(models: DataModels): Codec<StoredDataSpecifier> {
  return {
    encodingLength: (s) => 4 + 8 + 2 + specifierBodyLength(s),
    encode(s, c) {
      writeU32(c, s.kind);
      writeU64(c, s.generation);
      writeLength(c, 2, specifierBodyLength(s), 'model_specifier');
      switch (s.model) {
        case 'array': ArrayRanges.encode(s.indices, c); break;
        case 'dictionary': DictionaryKeys.encode(s.keys, c); break;
        case 'unknown': writeBytes(c, s.raw); break;
      }
    },
    decode(c) {
      const kind = readU32(c, 'kind');
      const generation = readU64(c, 'generation');
      const model = models.get(kind);
      return within(c, readU16(c, 'length'), 'model_specifier', (): StoredDataSpecifier => {
        switch (model) {
          case 'single': return { kind, generation, model };
          case 'array': return { kind, generation, model, indices: ArrayRanges.decode(c) };
          case 'dictionary': return { kind, generation, model, keys: DictionaryKeys.decode(c).map((k) => k.slice()) };
          case undefined: {
            const at = c.take(c.end - c.pos, 'model_specifier');
            return { kind, generation, model: 'unknown', raw: c.bytes.subarray(at, c.end) };
          }
        }
      });
    },
  };
}

