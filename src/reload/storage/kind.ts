// Kinds as storage sees them (RFC 6940 §7.2, §7.3, §11.1.1): data model, access control
// policy and limits. The overlay configuration defines them; the base Kinds (§8, §9, §14.6;
// RFC 7904 §7) are known before any configuration arrives.
import type { DataModel, DataModels, ResourceId, StoredDataValue } from '../../codec/index.ts';
import { type OverlayConfiguration, embeddedDefaultConfiguration } from '../config/index.ts';
import type { DataSigner } from '../types.ts';

export type AccessControlPolicy = 'USER-MATCH' | 'NODE-MATCH' | 'USER-NODE-MATCH' | 'NODE-MULTIPLE';

export interface KindDefinition {
  id: number;
  name: string;
  model: DataModel;
  accessControl: AccessControlPolicy;
  /** max-count: values of this Kind at one Resource-ID (§11.1.1). */
  maxCount: number;
  /** max-size: bytes of one value (§11.1.1). */
  maxSize: number;
  /** max-node-multiple: highest i of NODE-MULTIPLE (§7.3.4). */
  maxNodeMultiple?: number;
}

const POLICIES: readonly string[] = ['USER-MATCH', 'NODE-MATCH', 'USER-NODE-MATCH', 'NODE-MULTIPLE'] satisfies AccessControlPolicy[];
const isPolicy = (p: string): p is AccessControlPolicy => POLICIES.includes(p);

/**
 * The Kinds of a configuration as storage enforces them. A Kind whose policy this node does
 * not implement is left out, so Stores of it are refused as an unknown Kind, never unchecked;
 * `skipped` hears of each.
 */
export function kindsOf(cfg: OverlayConfiguration, skipped: (kind: number, policy: string) => void = () => {}): KindDefinition[] {
  const out: KindDefinition[] = [];
  for (const k of cfg.kinds) {
    if (!isPolicy(k.accessControl)) {
      skipped(k.id, k.accessControl);
      continue;
    }
    out.push({
      id: k.id, name: k.name ?? `kind-${k.id}`, model: k.dataModel, accessControl: k.accessControl, maxCount: k.maxCount, maxSize: k.maxSize,
      maxNodeMultiple: k.maxNodeMultiple,
    });
  }
  return out;
}

/** The base Kinds with the limits of the embedded building overlay's configuration. */
export const BASE_KINDS: readonly KindDefinition[] = kindsOf(embeddedDefaultConfiguration(''));

/** One value of a Store, after its signature verified and the access control policy passed. */
export interface StoreCheckInput {
  resource: ResourceId;
  kind: KindDefinition;
  value: StoredDataValue;
  signer: DataSigner;
  /** A replica Store (§7.4.1.1 replica_number > 0) rather than an original one. */
  replica: boolean;
}

/**
 * A usage's own rules for the values of its Kind, beyond the access control policy (e.g.
 * RFC 7904 §3.3 for SIP-REGISTRATION). Throws a ReloadError to refuse the whole Store.
 */
export type StoreCheck = (input: StoreCheckInput) => void;

/** The Kinds a node knows, by Kind-ID, and the usages' checks of their values. */
export class KindRegistry {
  private readonly kinds = new Map<number, KindDefinition>();
  /** Kept apart from the definitions: a new configuration replaces those, not the usages. */
  private readonly checks = new Map<number, StoreCheck>();
  private modelsCache: DataModels | undefined;

  constructor(kinds: readonly KindDefinition[] = BASE_KINDS) {
    this.replace(kinds);
  }

  get(id: number): KindDefinition | undefined {
    return this.kinds.get(id);
  }

  byName(name: string): KindDefinition | undefined {
    const upper = name.toUpperCase();
    for (const k of this.kinds.values()) if (k.name.toUpperCase() === upper) return k;
    return undefined;
  }

  all(): KindDefinition[] {
    return [...this.kinds.values()];
  }

  /** A new configuration's Kinds replace the old ones (§6.5.4). */
  replace(kinds: readonly KindDefinition[]): void {
    this.kinds.clear();
    for (const k of kinds) this.kinds.set(k.id, k);
    this.modelsCache = undefined;
  }

  /** Installs (or, with undefined, removes) the usage check for Kind `id`. */
  setStoreCheck(id: number, check: StoreCheck | undefined): void {
    if (check) this.checks.set(id, check);
    else this.checks.delete(id);
  }

  storeCheck(id: number): StoreCheck | undefined {
    return this.checks.get(id);
  }

  /** Data models for the codec, which needs them to read values (§7.2). */
  models(): DataModels {
    return (this.modelsCache ??= new Map([...this.kinds.values()].map((k) => [k.id, k.model])));
  }
}
