// The device as deployed: bundle size, cold start of the bundle to ready (its "started" line,
// identity created on a fresh data directory) against `node -e 0` measured in the same run,
// and the RSS of an idle peer in a 50-peer overlay and of a client, each running the whole
// device (overlay, SIP agent, RTP warmed up) under the bundle's V8 flags.
// One JSON object per line: {"bench", "metric", "value", "unit", "n"}.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BUNDLE, Cluster, type DeviceProcess, deviceNodeFlags, ensureBundle, someOf, waitConverged } from '../test/harness/processes.ts';

const N = Number(process.env.P2PSIP_BENCH_DEVICE_N ?? 50);
const STARTS = 7;
/** Start-up garbage (identity, first links, RTP warm-up) is collected within about 15 s. */
const SETTLE_MS = 20_000;

function report(metric: string, value: number, unit: string, n: number): void {
  process.stdout.write(`${JSON.stringify({ bench: 'device', metric, value: Math.round(value * 1000) / 1000, unit, n })}\n`);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Spawn to the "started" line of a device on a fresh data directory, then SIGTERM it. */
async function coldStart(dir: string, i: number): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [...deviceNodeFlags(), BUNDLE, 'run', '--listen', '127.0.0.1:0', '--sip-listen', '127.0.0.1:0', '--no-lan-discovery', '--data', join(dir, `s${i}`)],
    { stdio: ['ignore', 'pipe', 'ignore'] });
  const ms = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => { if (line.includes('"started"')) resolve(performance.now() - started); });
    child.once('exit', (code) => reject(new Error(`device exited ${code} before starting`)));
  });
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  return ms;
}

function nodeBare(): number {
  const started = performance.now();
  spawnSync(process.execPath, ['-e', '0']);
  return performance.now() - started;
}

async function main(): Promise<void> {
  ensureBundle();
  report('bundle_bytes', statSync(BUNDLE).size, 'bytes', 1);
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-bench-device-'));
  try {
    const starts: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      bare.push(nodeBare());
      starts.push(await coldStart(dir, i));
    }
    report('node_e_0_ms', median(bare), 'ms', STARTS);
    report('cold_start_to_ready_ms', median(starts), 'ms', STARTS);
    report('cold_start_ratio_to_node_e_0', median(starts) / median(bare), 'x', STARTS);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const cluster = new Cluster(['--reliability-timer', '1000']);
  cluster.startTimeoutMs = 60_000;
  try {
    for (let i = 0; i < N; i++) {
      await cluster.start({ bootstrap: someOf(cluster.peers(), 3).map((p) => p.listen), args: ['--user', `flat${i}@building.example`] });
    }
    await waitConverged(cluster, 3, 60_000);
    const clients: DeviceProcess[] = [];
    for (let i = 0; i < 3; i++) clients.push(await cluster.start({ client: true, bootstrap: [cluster.peers()[i].listen], args: ['--user', `small${i}@building.example`] }));
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const peerRss = await Promise.all(cluster.peers().map(async (p) => (await cluster.status(p)).memory.rssBytes));
    const clientRss = await Promise.all(clients.map(async (c) => (await cluster.status(c)).memory.rssBytes));
    report(`rss_idle_peer_median_mb_n${N}`, median(peerRss) / 2 ** 20, 'MB', peerRss.length);
    report('rss_client_median_mb', median(clientRss) / 2 ** 20, 'MB', clientRss.length);
  } finally {
    await cluster.close();
  }
}

await main();
