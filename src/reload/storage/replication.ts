// Replicas and handover for CHORD-RELOAD (RFC 6940 §10.4, §10.5 step 6, §10.7.3, §10.9):
// the responsible peer keeps copies at its REPLICAS successors; data whose range moves to a
// new predecessor is handed to it; a leaving peer hands its data to its successor. Each
// resource remembers which version it pushed to whom, so a push happens once per change.
import { type KindStoredData, type NodeId, ErrorCode, inRange, nodeDestination, toHex } from '../../codec/index.ts';
import type { TimerHandle } from '../../util/clock.ts';
import { ReloadError } from '../errors.ts';
import type { ReloadNode } from '../node.ts';
import * as D from './constants.ts';
import { type ResourceState, certificatesOf, withRemainingLifetime } from './data-store.ts';
import type { StorageEnv } from './storage-env.ts';

export interface ReplicationInit {
  /** Quiet time after a neighbour change before pushing, ms; default REPLICATION_SETTLE_MS (300). */
  settleMs?: number;
  /** Periodic check of every replica, ms; default REPLICATION_INTERVAL_MS (5000). */
  intervalMs?: number;
  /** Time out of the replica set before a resource is dropped, ms; default 30000 (§10.7.1's hold-down). */
  dropAfterMs?: number;
}

export interface ReplicationCounters {
  pushes: number;
  pushFailures: number;
  handovers: number;
  dropped: number;
}

export class Replication {
  readonly counters: ReplicationCounters = { pushes: 0, pushFailures: 0, handovers: 0, dropped: 0 };
  /** Resource (hex) → peer (hex) → version it holds from us. */
  private readonly pushed = new Map<string, Map<string, number>>();
  /** Resources we were responsible for at the last sync: the ones to hand over if that changes. */
  private readonly primary = new Set<string>();
  /** Peers that joined as our predecessor since the last pass. */
  private readonly admittedPeers = new Set<string>();
  /** Resources outside our replica set, since when (local ms). */
  private readonly outside = new Map<string, number>();
  private readonly settleMs: number;
  private readonly intervalMs: number;
  private readonly dropAfterMs: number;
  private settleTimer: TimerHandle | undefined;
  private intervalTimer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(private readonly env: StorageEnv & { node: ReloadNode }, init: ReplicationInit = {}) {
    this.settleMs = init.settleMs ?? D.REPLICATION_SETTLE_MS;
    this.intervalMs = init.intervalMs ?? D.REPLICATION_INTERVAL_MS;
    this.dropAfterMs = init.dropAfterMs ?? 30_000;
  }

  start(): void {
    const tick = (): void => {
      this.schedule(0);
      this.intervalTimer = this.env.clock.setTimeout(tick, this.intervalMs);
    };
    this.intervalTimer = this.env.clock.setTimeout(tick, this.intervalMs);
  }

  /** The neighbour table changed: the replica sets may have too (§10.7.3). */
  neighboursChanged(): void {
    this.schedule(this.settleMs);
  }

  /**
   * §10.5 step 4: `peer` joined as our predecessor: it gets every resource of its range we
   * hold, also those held here only as its replicas. It may have left and come back before a
   * pass made us responsible for them, and then nobody else would give them back.
   */
  admitted(peer: NodeId): void {
    this.forget(peer);
    this.admittedPeers.add(toHex(peer));
    this.schedule(0);
  }

  /**
   * `peer` left (§10.9) or joined afresh: what we pushed to it is gone, so it gets our
   * replicas again, even if it is back before a pass saw it go.
   */
  forget(peer: NodeId): void {
    const hex = toHex(peer);
    for (const peers of this.pushed.values()) peers.delete(hex);
  }

  /** A Store changed a resource we are responsible for: copy it now. */
  changed(): void {
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.env.clock.clearTimeout(this.settleTimer);
    this.settleTimer = this.env.clock.setTimeout(() => void this.sync(), delayMs);
  }

  /** One pass over every resource; a pass asked for while one runs follows it. */
  sync(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.pass().finally(() => {
      this.running = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        void this.sync();
      }
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    const self = this.env.security.nodeId;
    const preds = this.env.topology.predecessors();
    const succs = this.env.topology.successors().slice(0, D.REPLICAS);
    const now = this.env.clock.now();
    const admitted = preds[0] !== undefined && this.admittedPeers.has(toHex(preds[0]));
    this.admittedPeers.clear();
    const jobs: (() => Promise<void>)[] = [];
    for (const r of [...this.env.store.all()]) {
      const key = toHex(r.id);
      if (this.env.topology.isResponsible(r.id)) {
        this.primary.add(key);
        this.outside.delete(key);
        succs.forEach((s, i) => {
          if (this.pushed.get(key)?.get(toHex(s)) !== r.version) jobs.push(async () => void await this.push(r, s, i + 1));
        });
        continue;
      }
      // §10.5 steps 4 and 6: a joining predecessor took this range: hand the data to it.
      const p0 = preds[0];
      if ((this.primary.has(key) || admitted) && p0 && inRange(preds[1] ?? self, r.id, p0)) {
        jobs.push(async () => {
          if (await this.push(r, p0, 1)) {
            this.counters.handovers++;
            this.primary.delete(key);
          }
        });
        continue;
      }
      this.primary.delete(key);
      // §10.7.3: "there are three predecessors between x and R": no longer a replica.
      const farthest = preds[D.REPLICAS];
      if (farthest && !inRange(farthest, r.id, self)) {
        const since = this.outside.get(key) ?? now;
        this.outside.set(key, since);
        if (now - since >= this.dropAfterMs) {
          this.env.store.delete(key);
          this.pushed.delete(key);
          this.outside.delete(key);
          this.counters.dropped++;
        }
      } else {
        this.outside.delete(key);
      }
    }
    // Forget pushes to resources that are gone.
    for (const key of this.pushed.keys()) if (!this.env.store.get(key)) this.pushed.delete(key);
    for (const key of this.primary) if (!this.env.store.get(key)) this.primary.delete(key);
    await runBounded(jobs, D.REPLICATION_CONCURRENCY);
  }

  /** §10.9: before leaving, the successor gets everything we are responsible for. */
  async handoverAll(): Promise<void> {
    const s = this.env.topology.successors()[0];
    if (!s) return;
    const mine = [...this.env.store.all()].filter((r) => this.env.topology.isResponsible(r.id));
    await runBounded(mine.map((r) => async () => { if (await this.push(r, s, 1)) this.counters.handovers++; }), D.REPLICATION_CONCURRENCY);
  }

  /**
   * A replica Store of every value of `r` to `peer` (§10.4), in pieces of at most
   * REPLICATION_VALUES_PER_STORE values. True when the peer holds the current version.
   */
  private async push(r: ResourceState, peer: NodeId, replicaNumber: number): Promise<boolean> {
    const version = r.version;
    const now = this.env.clock.now();
    const pieces: { kindData: KindStoredData[]; certificates: Uint8Array[] }[] = [];
    for (const [kind, k] of r.kinds) {
      const live = this.env.store.live(k);
      for (let i = 0; i < live.length; i += D.REPLICATION_VALUES_PER_STORE) {
        const chunk = live.slice(i, i + D.REPLICATION_VALUES_PER_STORE);
        pieces.push({ kindData: [{ kind, generation: k.generation, values: chunk.map((v) => withRemainingLifetime(v, now)) }], certificates: certificatesOf(chunk) });
      }
    }
    const node = this.env.node;
    try {
      for (const piece of pieces) {
        this.counters.pushes++;
        try {
          await node.transport.request([nodeDestination(peer)], 'store_req', { resource: r.id, replicaNumber, kindData: piece.kindData }, {
            via: node.links.get(peer), certificates: piece.certificates,
          });
        } catch (e) {
          // §7.4.1.1: the peer holds newer data than ours; it needs nothing from us.
          const code = e instanceof ReloadError ? e.code : 0;
          if (code !== ErrorCode.Error_Data_Too_Old && code !== ErrorCode.Error_Generation_Counter_Too_Low) throw e;
        }
      }
    } catch (e) {
      this.counters.pushFailures++;
      this.env.log.debug('replica store failed', { peer: toHex(peer), resource: toHex(r.id), error: (e as Error).message });
      return false;
    }
    const key = toHex(r.id);
    let peers = this.pushed.get(key);
    if (!peers) this.pushed.set(key, (peers = new Map()));
    peers.set(toHex(peer), version);
    // Only the current replica set is worth remembering.
    if (peers.size > D.REPLICAS + 1) peers.delete(peers.keys().next().value as string);
    return true;
  }

  close(): void {
    this.closed = true;
    this.env.clock.clearTimeout(this.settleTimer);
    this.env.clock.clearTimeout(this.intervalTimer);
  }
}

async function runBounded(jobs: (() => Promise<unknown>)[], concurrency: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
}
