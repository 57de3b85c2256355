// Stat (RFC 6940 §7.4.3): what Fetch would return, as metadata: lengths and SHA-256 digests
// of the values (over the value with its 4-byte length, §7.4.3.2).
import { createHash } from 'node:crypto';
import { type FetchReq, type MetaDataValue, type StatAns, type StoredData, HashAlgorithm } from '../../../codec/index.ts';
import type { StorageEnv } from '../storage-env.ts';
import { withRemainingLifetime } from '../data-store.ts';
import { select } from './fetch.ts';

export function answerStat(env: StorageEnv, req: FetchReq): { name: 'stat_ans'; body: StatAns } {
  const now = env.clock.now();
  const kindResponses = req.specifiers.map((spec) => {
    const selected = select(env, req.resource, spec);
    const values = selected.values.map((v) => {
      const data = 'certificate' in v ? withRemainingLifetime(v, now) : v;
      return { storageTime: data.storageTime, lifetime: data.lifetime, metadata: metadataOf(data) };
    });
    return { kind: spec.kind, generation: selected.generation, values };
  });
  return { name: 'stat_ans', body: { kindResponses } };
}

function metadataOf(data: StoredData): MetaDataValue {
  const v = data.value;
  if (v.model === 'unknown') throw new TypeError('stat of an unknown data model');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(v.value.value.length);
  const hashValue = new Uint8Array(createHash('sha256').update(length).update(v.value.value).digest());
  const meta = { exists: v.value.exists, valueLength: v.value.value.length, hashAlgorithm: HashAlgorithm.sha256, hashValue };
  if (v.model === 'array') return { model: 'array', index: v.index, value: meta };
  if (v.model === 'dictionary') return { model: 'dictionary', key: v.key, value: meta };
  return { model: 'single', value: meta };
}
