// Real p2psip processes on loopback for integration tests and benchmarks: started from the
// bundle, observed through their control sockets, stopped or killed by PID.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sendCommand } from '../../src/control/control-client.ts';

export interface DeviceProcess {
  child: ChildProcess;
  pid: number;
  nodeId: string;
  listen: string;
  /** host:port of its SIP transport (UDP and TCP). */
  sip: string;
  control: string;
  dataDir: string;
  role: 'peer' | 'client';
  exited: Promise<number | null>;
}

export interface Status {
  nodeId: string;
  state: string;
  routingTable: { predecessors: string[]; successors: string[]; fingers: (string | null)[]; peer?: string | null };
  connections: { nodeId: string }[];
  counters: Record<string, Record<string, number>>;
  memory: { rssBytes: number };
}

export const BUNDLE = 'dist/p2psip.mjs';

export function ensureBundle(): void {
  if (!existsSync(BUNDLE)) execFileSync(process.execPath, ['build.mjs']);
}

/** The V8 flags the bundle's shebang gives a device (see build.mjs), so tests run it as deployed. */
export function deviceNodeFlags(): string[] {
  const shebang = readFileSync(BUNDLE, 'utf8').slice(0, 200).split('\n')[0];
  const m = /^#!\/usr\/bin\/env -S node(.*)$/.exec(shebang);
  return m ? m[1].trim().split(/\s+/).filter(Boolean) : [];
}

/** A set of device processes sharing one temporary directory; `close()` kills them all. */
export class Cluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'p2psip-cluster-'));
  readonly devices: DeviceProcess[] = [];
  private seq = 0;

  constructor(private readonly extraArgs: string[] = []) {
    ensureBundle();
    // A test file stopped by the runner's timeout never reaches its `after` hooks: its devices
    // would live on as orphans and load every later test. They die with this process instead.
    const orphans = (): void => {
      for (const d of this.devices) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    };
    process.once('exit', orphans);
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        orphans();
        process.exit(1);
      });
    }
  }

  /** How long `start` waits for a device's "started" line; benchmarks on a loaded machine wait longer. */
  startTimeoutMs = 20_000;

  /**
   * Starts one device and resolves when it has joined (its "started" line). `dataDir` reuses
   * a directory (a device restarted on its own flash, e.g. after SIGKILL); default a new one
   * under the cluster's directory.
   */
  async start(opts: { bootstrap?: string[]; client?: boolean; node?: string; args?: string[]; env?: Record<string, string>; dataDir?: string } = {}): Promise<DeviceProcess> {
    const dataDir = opts.dataDir ?? join(this.dir, `d${++this.seq}`);
    const args = [...deviceNodeFlags(), BUNDLE, 'run', '--listen', '127.0.0.1:0', '--sip-listen', '127.0.0.1:0', '--no-lan-discovery', '--data', dataDir, ...this.extraArgs, ...(opts.args ?? [])];
    if (opts.bootstrap?.length) args.push('--bootstrap', opts.bootstrap.join(','));
    if (opts.client) args.push('--client');
    const child = spawn(opts.node ?? process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    const lines = createInterface({ input: child.stdout! });
    const started = await new Promise<Record<string, string>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`device did not start in ${this.startTimeoutMs} ms: ${stderr}`)), this.startTimeoutMs);
      lines.on('line', (line) => {
        try {
          const e = JSON.parse(line) as Record<string, string>;
          if (e.event === 'started') { clearTimeout(timer); resolve(e); }
        } catch { /* not ours */ }
      });
      void exited.then((code) => { clearTimeout(timer); reject(new Error(`device exited (${code}) before starting: ${stderr}`)); });
    });
    const device: DeviceProcess = {
      child, pid: child.pid!, nodeId: started.nodeId, listen: started.listen, sip: started.sip, control: started.control, dataDir,
      // The role it reports: a device short of resources at start is a client without --client.
      role: started.role === 'client' || started.role === 'peer' ? started.role : opts.client ? 'client' : 'peer', exited,
    };
    this.devices.push(device);
    return device;
  }

  alive(): DeviceProcess[] {
    return this.devices.filter((d) => d.child.exitCode === null && d.child.signalCode === null);
  }

  peers(): DeviceProcess[] {
    return this.alive().filter((d) => d.role === 'peer');
  }

  async status(d: DeviceProcess): Promise<Status> {
    const answer = (await sendCommand(d.control, 'status')) as { ok: boolean; result: Status; error?: string };
    if (!answer.ok) throw new Error(answer.error);
    return answer.result;
  }

  async command(d: DeviceProcess, line: string): Promise<{ ok: boolean; result?: any; error?: string }> {
    return (await sendCommand(d.control, line, 20_000)) as { ok: boolean; result?: any; error?: string };
  }

  /** SIGTERM: the device leaves the overlay gracefully (§10.9) and exits. */
  async stop(d: DeviceProcess): Promise<void> {
    d.child.kill('SIGTERM');
    await d.exited;
  }

  async kill(d: DeviceProcess): Promise<void> {
    d.child.kill('SIGKILL');
    await d.exited;
  }

  async close(): Promise<void> {
    for (const d of this.devices) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL');
    await Promise.all(this.devices.map((d) => d.exited));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Expected neighbours of each peer from the sorted ring. */
export function expectedNeighbours(ids: string[], n: number): Map<string, { predecessors: string[]; successors: string[] }> {
  const ring = [...ids].sort();
  const out = new Map<string, { predecessors: string[]; successors: string[] }>();
  ring.forEach((id, i) => {
    const k = Math.min(n, ring.length - 1);
    const successors = Array.from({ length: k }, (_, j) => ring[(i + 1 + j) % ring.length]);
    const predecessors = Array.from({ length: k }, (_, j) => ring[(i - 1 - j + ring.length * 2) % ring.length]);
    out.set(id, { predecessors, successors });
  });
  return out;
}

/** The peer responsible for a Resource-ID: the first Node-ID at or after it on the ring. */
export function responsibleFor(ids: string[], resourceHex: string): string {
  const ring = [...ids].sort();
  return ring.find((id) => id >= resourceHex) ?? ring[0];
}

/** Polls until every peer's neighbour table matches the ring; returns the time it took. */
export async function waitConverged(cluster: Cluster, neighbours: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  let last = '';
  for (;;) {
    const peers = cluster.peers();
    const expected = expectedNeighbours(peers.map((p) => p.nodeId), neighbours);
    const statuses = await Promise.all(peers.map((p) => cluster.status(p).catch(() => undefined)));
    const wrong = statuses.filter((s, i) => {
      const e = expected.get(peers[i].nodeId)!;
      return !s || s.state !== 'joined' || JSON.stringify(s.routingTable.predecessors) !== JSON.stringify(e.predecessors)
        || JSON.stringify(s.routingTable.successors) !== JSON.stringify(e.successors);
    });
    if (wrong.length === 0) return Date.now() - started;
    const short = (l: string[] | undefined): string => (l ?? []).map((x) => x.slice(0, 6)).join(',');
    last = `${wrong.length} of ${peers.length} peers not converged: ` + wrong.map((s) => {
      const e = s && expected.get(s.nodeId);
      return s && e ? `${s.nodeId.slice(0, 6)} ${s.state} has P[${short(s.routingTable.predecessors)}] S[${short(s.routingTable.successors)}] wants P[${short(e.predecessors)}] S[${short(e.successors)}]` : 'no status';
    }).join('; ');
    if (Date.now() - started > timeoutMs) throw new Error(`not converged after ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Up to `n` distinct devices picked at random: bootstraps to try in turn (§11.4). */
export function someOf<T>(devices: readonly T[], n: number): T[] {
  return [...devices].sort(() => Math.random() - 0.5).slice(0, n);
}
