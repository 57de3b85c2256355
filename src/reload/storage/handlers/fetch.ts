// Fetch (RFC 6940 §7.4.2): the values a StoredDataSpecifier selects, with nonexistent ones
// synthesized (§7.4.2.2), and the signers' certificates in the answer's security block.
import {
  type FetchAns, type FetchKindResponse, type FetchReq, type StoredData, type StoredDataSpecifier, ErrorCode, HashAlgorithm, SignatureAlgorithm, toHex,
} from '../../../codec/index.ts';
import { ReloadError } from '../../errors.ts';
import { type StoredValue, arrayEnd, certificatesOf, slotOf, withRemainingLifetime } from '../data-store.ts';
import { unknownKindsInfo } from './store.ts';
import type { StorageEnv } from '../storage-env.ts';

export function answerFetch(env: StorageEnv, req: FetchReq): { name: 'fetch_ans'; body: FetchAns; certificates: Uint8Array[] } {
  const now = env.clock.now();
  const stored: StoredValue[] = [];
  const kindResponses: FetchKindResponse[] = req.specifiers.map((spec) => {
    const selected = select(env, req.resource, spec);
    const values = selected.values.map((v) => {
      if (!('certificate' in v)) return v;
      stored.push(v);
      return withRemainingLifetime(v, now);
    });
    return { kind: spec.kind, generation: selected.generation, values };
  });
  return { name: 'fetch_ans', body: { kindResponses }, certificates: certificatesOf(stored) };
}

/**
 * The values a specifier selects: stored ones, or synthesized nonexistent ones where the
 * specifier names a slot we hold nothing for. Shared with Stat (§7.4.3: "identical").
 */
export function select(env: StorageEnv, resource: Uint8Array, spec: StoredDataSpecifier): { generation: bigint; values: (StoredValue | StoredData)[] } {
  const kind = env.kinds.get(spec.kind);
  // §7.4.2.1: "Implementations SHOULD reject requests corresponding to unknown Kinds".
  if (!kind || spec.model === 'unknown') throw new ReloadError(ErrorCode.Error_Unknown_Kind, unknownKindsInfo([spec.kind]));
  const state = env.store.get(resource)?.kinds.get(spec.kind);
  const generation = state?.generation ?? 0n;
  // §7.4.2.1: a matching generation counter: "no StoredData values are returned".
  if (spec.generation !== 0n && spec.generation === generation) return { generation, values: [] };
  const live = new Map<string, StoredValue>();
  if (state) for (const v of env.store.live(state)) live.set(slotOf(v.data), v);
  switch (spec.model) {
    case 'single':
      return { generation, values: [live.get('') ?? nonexistent({ model: 'single' })] };
    case 'dictionary': {
      if (spec.keys.length === 0) return { generation, values: [...live.values()] };
      return { generation, values: spec.keys.map((key) => live.get(toHex(key)) ?? nonexistent({ model: 'dictionary', key })) };
    }
    case 'array': {
      const end = arrayEnd(live.values());
      const values: (StoredValue | StoredData)[] = [];
      for (const r of spec.indices) {
        // ArrayRange is int32 on the wire; 0xffffffff (-1) names the last element.
        // §7.4.2.1: "The first integer MUST be less than or equal to the second."
        if (r.first >= 0 && r.last >= 0 && r.first > r.last) throw new ReloadError(ErrorCode.Error_Invalid_Message, `array range ${r.first}..${r.last}`);
        const first = r.first < 0 ? end - 1 : r.first;
        const last = Math.min(r.last < 0 ? end - 1 : r.last, end - 1);
        for (let i = first; i <= last; i++) values.push(live.get(String(i)) ?? nonexistent({ model: 'array', index: i }));
      }
      return { generation, values };
    }
  }
}

type Slot = { model: 'single' } | { model: 'array'; index: number } | { model: 'dictionary'; key: Uint8Array };

/**
 * §7.4.2.2: "A nonexistent value ... is represented by a synthetic value with 'exists' set
 * to False and has an empty signature": identity none, algorithm {0, 0}, no signature bytes.
 */
export function nonexistent(slot: Slot): StoredData {
  const value = { exists: false, value: new Uint8Array(0) };
  return {
    storageTime: 0n,
    lifetime: 0,
    value: slot.model === 'single' ? { model: 'single', value } : slot.model === 'array' ? { model: 'array', index: slot.index, value } : { model: 'dictionary', key: slot.key, value },
    signature: { hashAlgorithm: HashAlgorithm.none, signatureAlgorithm: SignatureAlgorithm.anonymous, identity: { type: 'none' }, value: new Uint8Array(0) },
  };
}
