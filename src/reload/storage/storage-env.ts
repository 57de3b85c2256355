// What the storage method handlers work with: the local store, the Kinds, message security
// and the topology's view of responsibility and neighbours.
import type { NodeId } from '../../codec/index.ts';
import type { Clock } from '../../util/clock.ts';
import type { Logger } from '../../util/log.ts';
import type { MessageSecurity } from '../types.ts';
import type { DataStore } from './data-store.ts';
import type { KindRegistry } from './kind.ts';

/** The topology as storage needs it (CHORD-RELOAD, §10.4). */
export interface StorageTopology {
  /** True when this peer is responsible for the Resource-ID; never for a client. */
  isResponsible(id: Uint8Array): boolean;
  /** Closest first. */
  predecessors(): readonly NodeId[];
  /** Closest first; the first REPLICAS of them hold our replicas. */
  successors(): readonly NodeId[];
}

export interface StorageEnv {
  clock: Clock;
  log: Logger;
  security: MessageSecurity;
  topology: StorageTopology;
  kinds: KindRegistry;
  store: DataStore;
  /** Called after a Store changed data this peer is responsible for. */
  changed(resource: Uint8Array): void;
}
