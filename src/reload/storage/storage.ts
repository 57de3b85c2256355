// A peer's storage (RFC 6940 §7, §10.4): answers Store, Fetch, Stat and Find from its data
// store, sweeps expired values, and keeps replicas in place as the ring changes.
import type { NodeId } from '../../codec/index.ts';
import type { Clock, TimerHandle } from '../../util/clock.ts';
import type { Logger } from '../../util/log.ts';
import type { ReloadNode } from '../node.ts';
import type { MessageSecurity } from '../types.ts';
import { EXPIRY_SWEEP_INTERVAL_MS } from './constants.ts';
import { DataStore, type DataStoreInit } from './data-store.ts';
import { answerFetch } from './handlers/fetch.ts';
import { answerFind } from './handlers/find.ts';
import { answerStat } from './handlers/stat.ts';
import { answerStore } from './handlers/store.ts';
import type { KindRegistry } from './kind.ts';
import { Replication, type ReplicationInit } from './replication.ts';
import type { StorageEnv, StorageTopology } from './storage-env.ts';

export interface StorageComponents {
  clock: Clock;
  log: Logger;
  node: ReloadNode;
  security: MessageSecurity;
  topology: StorageTopology;
  kinds: KindRegistry;
}

export interface StorageInit extends DataStoreInit, ReplicationInit {
  /** Expired values are swept this often, ms; default EXPIRY_SWEEP_INTERVAL_MS (10 s). */
  sweepIntervalMs?: number;
}

export class Storage {
  readonly store: DataStore;
  readonly replication: Replication;
  private readonly env: StorageEnv & { node: ReloadNode };
  private readonly sweepIntervalMs: number;
  private sweepTimer: TimerHandle | undefined;
  private started = false;

  constructor(private readonly components: StorageComponents, init: StorageInit = {}) {
    this.store = new DataStore({ clock: components.clock }, init);
    this.sweepIntervalMs = init.sweepIntervalMs ?? EXPIRY_SWEEP_INTERVAL_MS;
    let replication: Replication | undefined;
    this.env = { ...components, store: this.store, changed: () => replication?.changed() };
    this.replication = replication = new Replication(this.env, init);
    const t = components.node.transport;
    t.handle('store_req', (req, ctx) => answerStore(this.env, req, ctx));
    t.handle('fetch_req', (req) => answerFetch(this.env, req));
    t.handle('stat_req', (req) => answerStat(this.env, req));
    t.handle('find_req', (req) => answerFind(this.env, req));
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const sweep = (): void => {
      this.store.sweep();
      this.sweepTimer = this.components.clock.setTimeout(sweep, this.sweepIntervalMs);
    };
    this.sweepTimer = this.components.clock.setTimeout(sweep, this.sweepIntervalMs);
    this.replication.start();
  }

  /** The neighbour table changed (the topology calls this). */
  neighboursChanged(): void {
    this.replication.neighboursChanged();
  }

  /** §10.5 step 4: a peer joined as our predecessor (the topology calls this). */
  admitted(peer: NodeId): void {
    this.replication.admitted(peer);
  }

  /** §10.9: a peer left (the topology calls this). */
  departed(peer: NodeId): void {
    this.replication.forget(peer);
  }

  /** §10.9: hand what we are responsible for to our successor before leaving. */
  handover(): Promise<void> {
    return this.replication.handoverAll();
  }

  status(): object {
    return {
      resources: this.store.size,
      bytes: this.store.bytes,
      ...this.store.counters,
      replication: this.replication.counters,
    };
  }

  close(): void {
    this.components.clock.clearTimeout(this.sweepTimer);
    this.replication.close();
    // Data requests are no longer ours to answer (the device may go on as a client, §4.2).
    const t = this.components.node.transport;
    for (const name of ['store_req', 'fetch_req', 'stat_req', 'find_req'] as const) t.unhandle(name);
  }
}
