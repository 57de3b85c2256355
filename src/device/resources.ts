// Whether this board can carry a peer's share of the overlay (RFC 6940 §4.2: a node short of
// resources is a client). Samples free memory, the process's RSS against its budget, load per
// core and free disk; decides peer or client with hysteresis, so a board near a threshold does
// not flap between roles: falling short takes a few bad samples in a row, coming back takes
// more good ones and a margin above every threshold.
import { statfsSync } from 'node:fs';
import { availableParallelism, cpus, freemem, loadavg, totalmem } from 'node:os';
import type { Clock, TimerHandle } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import {
  RESOURCE_FALL_SAMPLES, RESOURCE_HYSTERESIS, RESOURCE_MAX_LOAD_PER_CORE, RESOURCE_MIN_FREE_DISK_BYTES, RESOURCE_MIN_FREE_MEMORY_BYTES,
  RESOURCE_PEER_MEMORY_BYTES, RESOURCE_RISE_SAMPLES, RESOURCE_SAMPLE_INTERVAL_MS,
} from './constants.ts';

export interface ResourceSample {
  freeMemoryBytes: number;
  totalMemoryBytes: number;
  rssBytes: number;
  /** One-minute load average divided by the number of cores. */
  loadPerCore: number;
  /** Free bytes on the data directory's filesystem; undefined where it cannot be read. */
  diskFreeBytes: number | undefined;
}

export interface ResourceThresholds {
  /** RSS this process may use; undefined: no budget of its own, only the board's free memory counts. */
  memoryBudgetBytes?: number;
  /** What a peer needs within its budget. Default RESOURCE_PEER_MEMORY_BYTES. */
  peerMemoryBytes?: number;
  /** Free memory the board keeps. Default RESOURCE_MIN_FREE_MEMORY_BYTES. */
  minFreeMemoryBytes?: number;
  /** Load per core above which routing for others is too much. Default RESOURCE_MAX_LOAD_PER_CORE. */
  maxLoadPerCore?: number;
  /** Free disk the flash keeps. Default RESOURCE_MIN_FREE_DISK_BYTES. */
  minFreeDiskBytes?: number;
}

export type Role = 'peer' | 'client';

export interface RoleDecision {
  role: Role;
  /** Every threshold not met, in words; empty when the board can be a peer. */
  shortOf: string[];
  sample: ResourceSample;
}

/** Samples this process and board; `dir` is the data directory whose disk counts. */
export function sampleResources(dir: string): ResourceSample {
  let diskFreeBytes: number | undefined;
  try {
    const fs = statfsSync(dir);
    diskFreeBytes = Number(fs.bavail) * Number(fs.bsize);
  } catch {
    diskFreeBytes = undefined;
  }
  const cores = typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
  return { freeMemoryBytes: freemem(), totalMemoryBytes: totalmem(), rssBytes: process.memoryUsage.rss(), loadPerCore: loadavg()[0] / Math.max(1, cores), diskFreeBytes };
}

/**
 * What falls short for a peer. `margin` > 0 asks for that much more of everything, the bar a
 * client must clear to become a peer again.
 */
export function shortfalls(s: ResourceSample, t: ResourceThresholds, margin = 0): string[] {
  const out: string[] = [];
  const up = 1 + margin;
  const need = (t.peerMemoryBytes ?? RESOURCE_PEER_MEMORY_BYTES) * up;
  if (t.memoryBudgetBytes !== undefined) {
    if (t.memoryBudgetBytes < need) out.push(`memory budget ${mib(t.memoryBudgetBytes)} below the ${mib(need)} a peer needs`);
    else if (s.rssBytes > t.memoryBudgetBytes / up) out.push(`RSS ${mib(s.rssBytes)} over the budget ${mib(t.memoryBudgetBytes)}`);
  }
  const minFree = (t.minFreeMemoryBytes ?? RESOURCE_MIN_FREE_MEMORY_BYTES) * up;
  if (s.freeMemoryBytes < minFree) out.push(`free memory ${mib(s.freeMemoryBytes)} below ${mib(minFree)}`);
  const maxLoad = (t.maxLoadPerCore ?? RESOURCE_MAX_LOAD_PER_CORE) / up;
  if (s.loadPerCore > maxLoad) out.push(`load ${s.loadPerCore.toFixed(2)} per core above ${maxLoad.toFixed(2)}`);
  const minDisk = (t.minFreeDiskBytes ?? RESOURCE_MIN_FREE_DISK_BYTES) * up;
  if (s.diskFreeBytes !== undefined && s.diskFreeBytes < minDisk) out.push(`free disk ${mib(s.diskFreeBytes)} below ${mib(minDisk)}`);
  return out;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

export interface ResourceMonitorComponents {
  clock: Clock;
  log: Logger;
  /** Where samples come from; tests feed their own. */
  sample: () => ResourceSample;
}

export interface ResourceMonitorInit {
  thresholds: ResourceThresholds;
  /** The role the device starts in. */
  role: Role;
  /** Default RESOURCE_SAMPLE_INTERVAL_MS. */
  intervalMs?: number;
  /** Bad samples in a row before a peer becomes a client. Default RESOURCE_FALL_SAMPLES. */
  fallSamples?: number;
  /** Good samples (with the margin) in a row before a client becomes a peer again. Default RESOURCE_RISE_SAMPLES. */
  riseSamples?: number;
  /** Extra share of every threshold a client must clear to come back. Default RESOURCE_HYSTERESIS. */
  hysteresis?: number;
}

export class ResourceMonitor {
  /** A role change decided; the device carries it out. Never called after stop(). */
  onDecision: (decision: RoleDecision) => void = () => {};
  private role: Role;
  private thresholds: ResourceThresholds;
  private bad = 0;
  private good = 0;
  private last: RoleDecision | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;
  readonly history: { at: number; role: Role; why: string }[] = [];

  constructor(private readonly components: ResourceMonitorComponents, private readonly init: ResourceMonitorInit) {
    this.role = init.role;
    this.thresholds = { ...init.thresholds };
  }

  /** The role to start in: short of anything now, a client (no waiting for samples in a row). */
  static initialRole(sample: ResourceSample, thresholds: ResourceThresholds): RoleDecision {
    const shortOf = shortfalls(sample, thresholds);
    return { role: shortOf.length ? 'client' : 'peer', shortOf, sample };
  }

  start(): void {
    if (this.stopped || this.timer) return;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.components.clock.clearTimeout(this.timer);
  }

  /** Changes the memory budget (a technician's command, the board's settings) and re-checks at once. */
  setBudget(bytes: number | undefined): RoleDecision {
    this.thresholds.memoryBudgetBytes = bytes;
    this.components.log.info('memory budget changed', { budgetBytes: bytes ?? null });
    // A deliberate change is acted on now, not after several samples.
    return this.check(true);
  }

  /** The role the monitor believes in; the device reports back after switching. */
  roleChanged(role: Role): void {
    this.role = role;
    this.bad = 0;
    this.good = 0;
  }

  /** Takes a sample and decides; `now` skips the samples-in-a-row rule. */
  check(now = false): RoleDecision {
    const sample = this.components.sample();
    const falls = shortfalls(sample, this.thresholds);
    const rises = shortfalls(sample, this.thresholds, this.init.hysteresis ?? RESOURCE_HYSTERESIS);
    let decided: Role = this.role;
    if (this.role === 'peer') {
      this.bad = falls.length ? this.bad + 1 : 0;
      if (falls.length && (now || this.bad >= (this.init.fallSamples ?? RESOURCE_FALL_SAMPLES))) decided = 'client';
    } else {
      this.good = rises.length ? 0 : this.good + 1;
      if (!rises.length && (now || this.good >= (this.init.riseSamples ?? RESOURCE_RISE_SAMPLES))) decided = 'peer';
    }
    const decision: RoleDecision = { role: decided, shortOf: this.role === 'peer' ? falls : rises, sample };
    this.last = decision;
    if (decided !== this.role && !this.stopped) {
      const why = decided === 'client' ? decision.shortOf.join('; ') : 'resources back above every threshold';
      this.components.log.warn(decided === 'client' ? 'resources short: becoming a client' : 'resources back: rejoining as a peer', { why });
      this.history.push({ at: this.components.clock.wallTime(), role: decided, why });
      if (this.history.length > 16) this.history.shift();
      this.bad = 0;
      this.good = 0;
      this.onDecision(decision);
    }
    return decision;
  }

  status(): object {
    return {
      role: this.role, thresholds: this.thresholds, lastSample: this.last?.sample ?? null,
      shortOf: this.last?.shortOf ?? [], history: this.history,
    };
  }

  private schedule(): void {
    this.timer = this.components.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      try {
        this.check();
      } catch (e) {
        this.components.log.warn('resource sample failed', { error: (e as Error).message });
      }
      this.schedule();
    }, this.init.intervalMs ?? RESOURCE_SAMPLE_INTERVAL_MS);
  }
}
