// Call setup through the overlay with real processes on loopback: a 50-peer overlay, every
// peer registered under its own AOR. Each call goes from a random peer to the AOR of another
// it has never called, so every setup includes the AOR Fetch (RFC 7904 §4.2), the AppAttach
// and the TCP connection (§5) and the INVITE; timed inside the caller from the `call`
// command to the first 180 Ringing. One JSON object per line: {"bench", "metric", "value", "unit", "n"}.
import { Cluster, type DeviceProcess, someOf, waitConverged } from '../test/harness/processes.ts';

const N = Number(process.env.P2PSIP_BENCH_CALL_N ?? 50);
const CALLS = Number(process.env.P2PSIP_BENCH_CALLS ?? 100);
const DOMAIN = 'building.example';

function report(metric: string, value: number, unit: string, n: number): void {
  process.stdout.write(`${JSON.stringify({ bench: 'call_setup', metric, value: Math.round(value * 1000) / 1000, unit, n })}\n`);
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function main(): Promise<void> {
  const cluster = new Cluster(['--reliability-timer', '1000']);
  cluster.startTimeoutMs = 60_000;
  const aor = new Map<DeviceProcess, string>();
  try {
    for (let i = 0; i < N; i++) {
      const peers = cluster.peers();
      const d = await cluster.start({ bootstrap: someOf(peers, 3).map((p) => p.listen), args: ['--user', `flat${i}@${DOMAIN}`] });
      aor.set(d, `flat${i}@${DOMAIN}`);
    }
    await waitConverged(cluster, 3, 60_000);
    const peers = cluster.peers();
    // Every device has stored its registration before the first call.
    for (const p of peers) {
      for (let t = 0; ; t++) {
        const s = (await cluster.status(p)) as unknown as { sip: { registrations: { state: string }[] } };
        if (s.sip.registrations.some((r) => r.state === 'registered')) break;
        if (t > 300) throw new Error(`${aor.get(p)} never registered`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const setups: number[] = [];
    const phases = { fetch: [] as number[], appattach: [] as number[], invite_to_180: [] as number[] };
    const used = new Set<string>();
    let failed = 0;
    while (setups.length + failed < CALLS) {
      const [from, to] = someOf(peers, 2);
      const pair = `${from.nodeId}>${to.nodeId}`;
      if (used.has(pair)) continue;
      used.add(pair);
      const placed = await cluster.command(from, `call ${aor.get(to)}`);
      if (!placed.ok) { failed++; continue; }
      const id = placed.result.id as string;
      let ringingAfterMs: number | null = null;
      let timeline: { atMs: number; event: string }[] = [];
      // The caller times the setup itself; polling it sparingly keeps `status` off its core.
      await new Promise((r) => setTimeout(r, 300));
      for (let t = 0; t < 40 && ringingAfterMs === null; t++) {
        if (t > 0) await new Promise((r) => setTimeout(r, 250));
        const calls = ((await cluster.status(from)) as unknown as { sip: { calls: { id: string; ringingAfterMs: number | null; state: string; timeline: { atMs: number; event: string }[] }[] } }).sip.calls;
        const c = calls.find((x) => x.id === id);
        timeline = c?.timeline ?? [];
        if (c?.state === 'ended') break;
        ringingAfterMs = c?.ringingAfterMs ?? null;
      }
      if (ringingAfterMs === null) failed++;
      else {
        setups.push(ringingAfterMs);
        // Where the time went: the AOR Fetch, the AppAttach and connection, the INVITE to its 180.
        const at = (re: RegExp): number | undefined => timeline.find((t) => re.test(t.event))?.atMs;
        const fetched = at(/^fetched /);
        const connected = at(/connection to /);
        const sent = at(/^INVITE sent/);
        if (fetched !== undefined && connected !== undefined && sent !== undefined) {
          phases.fetch.push(fetched);
          phases.appattach.push(connected - fetched);
          phases.invite_to_180.push(ringingAfterMs - sent);
        }
      }
      await cluster.command(from, `hangup ${id}`);
      // Let the CANCEL and its 487 finish before the next call.
      await new Promise((r) => setTimeout(r, 50));
    }
    setups.sort((a, b) => a - b);
    report('setup_p50_ms', quantile(setups, 0.5), 'ms', setups.length);
    report('setup_p95_ms', quantile(setups, 0.95), 'ms', setups.length);
    report('setup_max_ms', setups[setups.length - 1], 'ms', setups.length);
    report('calls_failed', failed, 'calls', CALLS);
    for (const [name, xs] of Object.entries(phases)) {
      xs.sort((a, b) => a - b);
      report(`${name}_p50_ms`, quantile(xs, 0.5), 'ms', xs.length);
      report(`${name}_p95_ms`, quantile(xs, 0.95), 'ms', xs.length);
    }
    report('overlay_peers', N, 'peers', N);
  } finally {
    await cluster.close();
  }
}

await main();
