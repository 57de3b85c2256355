// Kinds as storage sees them (RFC 6940 §7.2, §7.3, §11.1.1): data model, access control
// policy and limits. The overlay configuration defines them; the base Kinds (§8, §9, §14.6;
// RFC 7904 §7) are known before any configuration arrives.
import { type DataModel, type DataModels, KindId } from '../../codec/index.ts';

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

/**
 * The base Kinds with limits for a building: a flat's AOR is shared by a handful of devices,
 * a device publishes one certificate at a time.
 */
export const BASE_KINDS: readonly KindDefinition[] = [
  { id: KindId.SIP_REGISTRATION, name: 'SIP-REGISTRATION', model: 'dictionary', accessControl: 'USER-NODE-MATCH', maxCount: 32, maxSize: 1024 },
  { id: KindId.TURN_SERVICE, name: 'TURN-SERVICE', model: 'single', accessControl: 'NODE-MULTIPLE', maxCount: 1, maxSize: 64, maxNodeMultiple: 20 },
  { id: KindId.CERTIFICATE_BY_NODE, name: 'CERTIFICATE_BY_NODE', model: 'array', accessControl: 'NODE-MATCH', maxCount: 16, maxSize: 4096 },
  { id: KindId.CERTIFICATE_BY_USER, name: 'CERTIFICATE_BY_USER', model: 'array', accessControl: 'USER-MATCH', maxCount: 16, maxSize: 4096 },
];

/** The Kinds a node knows, by Kind-ID. */
export class KindRegistry {
  private readonly kinds = new Map<number, KindDefinition>();
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

  /** Data models for the codec, which needs them to read values (§7.2). */
  models(): DataModels {
    return (this.modelsCache ??= new Map([...this.kinds.values()].map((k) => [k.id, k.model])));
  }
}
