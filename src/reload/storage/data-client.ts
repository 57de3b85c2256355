// The requesting side of storage (RFC 6940 §7.4): signs values and sends Store to the
// responsible peer; sends Fetch, Stat and Find, and verifies every fetched value (§7.4.2.2:
// "Any values with invalid signatures ... MUST be discarded").
import {
  type FetchKindResponse, type FindAns, type ResourceId, type StatAns, type StoreAns, type StoredData, type StoredDataSpecifier,
  type StoredDataValue, resourceDestination,
} from '../../codec/index.ts';
import type { Clock } from '../../util/clock.ts';
import type { MessageTransport } from '../message-transport.ts';
import { isSyntheticNonexistent } from '../security/verifier.ts';
import type { DataSigner, MessageSecurity } from '../types.ts';

/** One fetched value and who signed it; `signer` is absent for synthesized nonexistent values. */
export interface FetchedValue {
  data: StoredData;
  signer?: DataSigner;
}

export interface FetchedKind {
  kind: number;
  generation: bigint;
  values: FetchedValue[];
  /** Values dropped because their signature did not verify. */
  discarded: number;
}

export class DataClient {
  private lastStorageTime = 0n;

  constructor(private readonly components: { clock: Clock; security: MessageSecurity; transport: MessageTransport }) {}

  /**
   * Stores values of one Kind at `resource` (§7.4.1), each signed by us. `generation` 0 stores
   * unconditionally; `lifetimeS` counts from receipt.
   */
  async store(resource: ResourceId, kind: number, values: StoredDataValue[], opts: { lifetimeS?: number; generation?: bigint } = {}): Promise<StoreAns> {
    const storageTime = this.nextStorageTime();
    const lifetime = opts.lifetimeS ?? 3600;
    const data: StoredData[] = values.map((value) => ({
      storageTime, lifetime, value, signature: this.components.security.signData(resource, kind, storageTime, value),
    }));
    const answer = await this.components.transport.request([resourceDestination(resource)], 'store_req', {
      resource, replicaNumber: 0, kindData: [{ kind, generation: opts.generation ?? 0n, values: data }],
    });
    return answer.body as StoreAns;
  }

  /** Fetches and verifies (§7.4.2); values whose signature fails are counted, not returned. */
  async fetch(resource: ResourceId, specifiers: StoredDataSpecifier[]): Promise<FetchedKind[]> {
    const answer = await this.components.transport.request([resourceDestination(resource)], 'fetch_req', { resource, specifiers });
    const bucket = answer.message.security.certificates;
    return (answer.body as { kindResponses: FetchKindResponse[] }).kindResponses.map((k) => {
      const values: FetchedValue[] = [];
      let discarded = 0;
      for (const data of k.values) {
        if (isSyntheticNonexistent(data)) {
          values.push({ data });
          continue;
        }
        try {
          values.push({ data, signer: this.components.security.verifyData(resource, k.kind, data, bucket) });
        } catch {
          discarded++;
        }
      }
      return { kind: k.kind, generation: k.generation, values, discarded };
    });
  }

  async stat(resource: ResourceId, specifiers: StoredDataSpecifier[]): Promise<StatAns> {
    return (await this.components.transport.request([resourceDestination(resource)], 'stat_req', { resource, specifiers })).body as StatAns;
  }

  async find(resource: ResourceId, kinds: number[]): Promise<FindAns> {
    return (await this.components.transport.request([resourceDestination(resource)], 'find_req', { resource, kinds })).body as FindAns;
  }

  /** Storage times only grow, even when two stores fall in one millisecond (§7.4.1.1). */
  private nextStorageTime(): bigint {
    const now = BigInt(this.components.clock.wallTime());
    this.lastStorageTime = now > this.lastStorageTime ? now : this.lastStorageTime + 1n;
    return this.lastStorageTime;
  }
}
