// The values a peer holds (RFC 6940 §7.2, §7.4.1): per Resource-ID and Kind, a generation
// counter and the values in the Kind's data model. A Store is checked whole before anything
// changes (§7.4.1.1 "These operations MUST be atomic"). Bounded by a byte budget, a
// resource count and each Kind's max-count and max-size.
import {
  type ResourceId, type StoredData, ARRAY_APPEND_INDEX, ErrorCode, StoreAns, encode, storedData, toHex,
} from '../../codec/index.ts';
import type { Clock } from '../../util/clock.ts';
import { ReloadError } from '../errors.ts';
import type { DataSigner } from '../types.ts';
import { STORAGE_BUDGET_BYTES, STORAGE_MAX_RESOURCES } from './constants.ts';
import type { KindDefinition } from './kind.ts';

export interface StoredValue {
  data: StoredData;
  /** The signer's certificate, sent along when the value is fetched or replicated (§6.3.4). */
  certificate: Uint8Array;
  /** Local clock time the lifetime runs out (§7.4.1: lifetime counts from receipt). */
  expiresAtMs: number;
  bytes: number;
}

export interface KindState {
  generation: bigint;
  /** By slot: '' for a single value, the index for arrays, the key in hex for dictionaries. */
  values: Map<string, StoredValue>;
}

export interface ResourceState {
  readonly id: ResourceId;
  readonly kinds: Map<number, KindState>;
  /** Bumped on every change, so replication knows what it has pushed. */
  version: number;
  bytes: number;
}

export interface KindWrite {
  kind: KindDefinition;
  /** The requester's expected generation; 0 ignores it (original), the copied one (replica). */
  generation: bigint;
  values: { data: StoredData; signer: DataSigner }[];
}

export interface DataStoreInit {
  /** Bytes of stored data in all; default STORAGE_BUDGET_BYTES (16 MiB). */
  budgetBytes?: number;
  /** Resources held at most; default STORAGE_MAX_RESOURCES. */
  maxResources?: number;
}

export interface DataStoreCounters {
  stores: number;
  replicaStores: number;
  refusedTooLarge: number;
  refusedBudget: number;
  refusedTooOld: number;
  refusedGeneration: number;
  expired: number;
}

/** Slot key of a value in its data model. */
export function slotOf(data: StoredData): string {
  const v = data.value;
  switch (v.model) {
    case 'single': return '';
    case 'array': return String(v.index);
    case 'dictionary': return toHex(v.key);
    case 'unknown': throw new TypeError('a value of an unknown data model has no slot');
  }
}

export class DataStore {
  readonly counters: DataStoreCounters = { stores: 0, replicaStores: 0, refusedTooLarge: 0, refusedBudget: 0, refusedTooOld: 0, refusedGeneration: 0, expired: 0 };
  private readonly resources = new Map<string, ResourceState>();
  private readonly budgetBytes: number;
  private readonly maxResources: number;
  private totalBytes = 0;

  constructor(private readonly components: { clock: Clock }, init: DataStoreInit = {}) {
    this.budgetBytes = init.budgetBytes ?? STORAGE_BUDGET_BYTES;
    this.maxResources = init.maxResources ?? STORAGE_MAX_RESOURCES;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get size(): number {
    return this.resources.size;
  }

  get(resource: ResourceId | string): ResourceState | undefined {
    return this.resources.get(typeof resource === 'string' ? resource : toHex(resource));
  }

  all(): IterableIterator<ResourceState> {
    return this.resources.values();
  }

  /** Values of one Kind that have not expired. */
  live(state: KindState): StoredValue[] {
    const now = this.components.clock.now();
    return [...state.values.values()].filter((v) => v.expiresAtMs > now);
  }

  /**
   * Applies a Store (§7.4.1.1) or throws a ReloadError with nothing changed. Signatures and
   * access control are the caller's; here: storage times, generations, limits, budget.
   * Returns each Kind's generation afterwards.
   */
  store(resource: ResourceId, writes: KindWrite[], replica: boolean): { kind: number; generation: bigint }[] {
    const key = toHex(resource);
    const existing = this.resources.get(key);
    const now = this.components.clock.now();
    if (!existing && this.resources.size >= this.maxResources) {
      this.counters.refusedBudget++;
      throw new ReloadError(ErrorCode.Error_Data_Too_Large, 'this peer holds as many resources as it may');
    }
    // §7.4.1.2: a generation counter behind ours fails the whole request, and the error
    // carries the current counters in a StoreAns with no replicas.
    if (!replica) {
      const stale = writes.some((w) => w.generation !== 0n && w.generation !== (existing?.kinds.get(w.kind.id)?.generation ?? 0n));
      if (stale) {
        this.counters.refusedGeneration++;
        const info = encode(StoreAns, {
          kindResponses: writes.map((w) => ({ kind: w.kind.id, generationCounter: existing?.kinds.get(w.kind.id)?.generation ?? 0n, replicas: [] })),
        });
        throw new ReloadError(ErrorCode.Error_Generation_Counter_Too_Low, info);
      }
    }
    // Build each Kind's next state on copies; swap them in only when every check passed.
    const next = new Map<number, KindState>();
    let delta = 0;
    let anyChanged = false;
    for (const w of writes) {
      const current = existing?.kinds.get(w.kind.id);
      const values = new Map(current?.values ?? []);
      for (const [slot, v] of values) if (v.expiresAtMs <= now) { values.delete(slot); delta -= v.bytes; }
      let changed = false;
      let append = arrayEnd(values.values());
      for (const { data, signer } of w.values) {
        const value = data.value;
        if (value.model === 'unknown') throw new ReloadError(ErrorCode.Error_Unknown_Kind, 'value of an unknown data model');
        if (value.value.value.length > w.kind.maxSize) {
          this.counters.refusedTooLarge++;
          throw new ReloadError(ErrorCode.Error_Data_Too_Large, `${w.kind.name} value of ${value.value.value.length} bytes, max-size ${w.kind.maxSize}`);
        }
        // §7.4.1.1: append at 0xffffffff; the stored value carries the index it got.
        let stored = data;
        if (value.model === 'array') {
          const index = value.index === ARRAY_APPEND_INDEX ? append : value.index;
          // Arrays are sparse, but an index past max-count would make range fetches huge.
          if (index >= w.kind.maxCount) {
            this.counters.refusedTooLarge++;
            throw new ReloadError(ErrorCode.Error_Data_Too_Large, `${w.kind.name} index ${index}, max-count ${w.kind.maxCount}`);
          }
          if (index !== value.index) stored = { ...data, value: { ...value, index } };
          append = Math.max(append, index + 1);
        }
        const slot = slotOf(stored);
        const old = values.get(slot);
        // §7.4.1.1: "The storage time values are greater than that of any values which would
        // be replaced". A replica of what we hold already is no change.
        if (old && old.data.storageTime >= stored.storageTime) {
          if (replica && old.data.storageTime === stored.storageTime) continue;
          this.counters.refusedTooOld++;
          throw new ReloadError(ErrorCode.Error_Data_Too_Old, `storage_time ${stored.storageTime} is not after ${old.data.storageTime}`);
        }
        const bytes = storedData(w.kind.model).encodingLength(stored);
        values.set(slot, { data: detached(stored), certificate: signer.certificate, expiresAtMs: now + stored.lifetime * 1000, bytes });
        delta += bytes - (old?.bytes ?? 0);
        changed = true;
      }
      if (values.size > w.kind.maxCount) {
        this.counters.refusedTooLarge++;
        throw new ReloadError(ErrorCode.Error_Data_Too_Large, `${values.size} ${w.kind.name} values, max-count ${w.kind.maxCount}`);
      }
      // §7.4.1.1: an original store that changed data increases the counter; a replica
      // takes the responsible peer's.
      const generation = replica ? w.generation : (current?.generation ?? 0n) + (changed ? 1n : 0n);
      anyChanged ||= changed || generation !== current?.generation;
      next.set(w.kind.id, { generation, values });
    }
    if (delta > 0 && this.totalBytes + delta > this.budgetBytes) {
      this.counters.refusedBudget++;
      throw new ReloadError(ErrorCode.Error_Data_Too_Large, `storage budget of ${this.budgetBytes} bytes reached`);
    }
    const state = existing ?? { id: resource.slice(), kinds: new Map(), version: 0, bytes: 0 };
    for (const [kind, k] of next) state.kinds.set(kind, k);
    state.bytes += delta;
    // A replica of what we hold already changes nothing that replication would push again.
    if (anyChanged || delta !== 0) state.version++;
    this.totalBytes += delta;
    if (!existing) this.resources.set(key, state);
    if (replica) this.counters.replicaStores++;
    else this.counters.stores++;
    return writes.map((w) => ({ kind: w.kind.id, generation: state.kinds.get(w.kind.id)!.generation }));
  }

  /** Drops a resource we are no longer in the replica set of (§10.7.3). */
  delete(resource: ResourceId | string): void {
    const key = typeof resource === 'string' ? resource : toHex(resource);
    const state = this.resources.get(key);
    if (!state) return;
    this.totalBytes -= state.bytes;
    this.resources.delete(key);
  }

  /** Removes expired values (§7.4.1.3: they are "simply removed"); returns how many. */
  sweep(): number {
    const now = this.components.clock.now();
    let removed = 0;
    for (const [key, state] of this.resources) {
      const before = removed;
      for (const [kind, k] of state.kinds) {
        for (const [slot, v] of k.values) {
          if (v.expiresAtMs > now) continue;
          k.values.delete(slot);
          state.bytes -= v.bytes;
          this.totalBytes -= v.bytes;
          removed++;
        }
        if (k.values.size === 0) state.kinds.delete(kind);
      }
      if (state.kinds.size === 0) this.resources.delete(key);
      else if (removed > before) state.version++;
    }
    this.counters.expired += removed;
    return removed;
  }
}

/**
 * The value with its signature copied out of the frame it arrived in: decoding is zero-copy,
 * and a kept subarray would hold the whole message in memory for the value's lifetime.
 */
function detached(data: StoredData): StoredData {
  const s = data.signature;
  if (!s) return data;
  const identity = s.identity.type === 'cert_hash' || s.identity.type === 'cert_hash_node_id' ? { ...s.identity, hash: s.identity.hash.slice() } : s.identity;
  return { ...data, signature: { ...s, identity, value: s.value.slice() } };
}

/** One past the highest array index held: where an append goes (§7.4.1.1). */
export function arrayEnd(values: Iterable<StoredValue>): number {
  let end = 0;
  for (const v of values) if (v.data.value.model === 'array') end = Math.max(end, v.data.value.index + 1);
  return end;
}

/** §7.4.1.1: data passed on carries the lifetime it has left, not the one it arrived with. */
export function withRemainingLifetime(v: StoredValue, now: number): StoredData {
  const lifetime = Math.max(0, Math.ceil((v.expiresAtMs - now) / 1000));
  return lifetime === v.data.lifetime ? v.data : { ...v.data, lifetime };
}

/** The distinct signer certificates of some values, for a security block (§6.3.4). */
export function certificatesOf(values: Iterable<StoredValue>): Uint8Array[] {
  const seen = new Map<string, Uint8Array>();
  for (const v of values) seen.set(Buffer.from(v.certificate).toString('base64'), v.certificate);
  return [...seen.values()];
}
