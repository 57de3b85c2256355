// Overlay benchmarks with real peer processes on loopback, N = 50 and N = 100: hop count,
// request latency, join time, repair time after a SIGKILL, and memory per process.
// One JSON object per line: {"bench", "metric", "value", "unit", "n"}.
import { randomBytes } from 'node:crypto';
import { Cluster, type DeviceProcess, expectedNeighbours, someOf, waitConverged } from '../test/harness/processes.ts';

const NEIGHBOURS = 3;
const REQUESTS = 300;
const CLIENTS = 5;
/** Start-up garbage (the identity, the first links) is collected within about 15 s. */
const CLIENT_SETTLE_MS = 20_000;

function report(bench: string, metric: string, value: number, unit: string, n: number): void {
  process.stdout.write(`${JSON.stringify({ bench, metric, value: Math.round(value * 1000) / 1000, unit, n })}\n`);
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);

async function overlay(n: number): Promise<void> {
  const bench = `overlay_n${n}`;
  const cluster = new Cluster(['--reliability-timer', '1000']);
  // N processes share two cores here: a start may wait its turn.
  cluster.startTimeoutMs = 60_000;
  try {
    await cluster.start();
    while (cluster.peers().length < n) {
      const peers = cluster.peers();
      await cluster.start({ bootstrap: someOf(peers, 3).map((p) => p.listen) });
    }
    await waitConverged(cluster, NEIGHBOURS, 60_000);

    // Requests to random Resource-IDs from random peers, timed inside the sending device.
    const hops: number[] = [];
    const rtts: number[] = [];
    const peers = cluster.peers();
    let lost = 0;
    for (let i = 0; i < REQUESTS; i++) {
      const from = peers[Math.floor(Math.random() * peers.length)];
      const answer = await cluster.command(from, `ping resource:${randomBytes(16).toString('hex')}`);
      // A request no retransmission brought through is a result too, not the end of the run.
      if (!answer.ok) {
        lost++;
        process.stderr.write(`ping from ${from.nodeId.slice(0, 8)} failed: ${answer.error}\n`);
        continue;
      }
      hops.push(answer.result.hops);
      rtts.push(answer.result.rttMs);
    }
    report(bench, 'requests_unanswered', lost, 'requests', REQUESTS);
    hops.sort((a, b) => a - b);
    rtts.sort((a, b) => a - b);
    report(bench, 'hops_mean', hops.reduce((a, b) => a + b, 0) / hops.length, 'hops', REQUESTS);
    report(bench, 'hops_p99', quantile(hops, 0.99), 'hops', REQUESTS);
    report(bench, 'hops_half_log2_n', Math.log2(n) / 2, 'hops', 1);
    report(bench, 'request_latency_p50_ms', quantile(rtts, 0.5), 'ms', REQUESTS);
    report(bench, 'request_latency_p99_ms', quantile(rtts, 0.99), 'ms', REQUESTS);

    // One more peer joins: from process start to "joined".
    const joinStarted = performance.now();
    await cluster.start({ bootstrap: [peers[0].listen] });
    report(bench, 'join_ms', performance.now() - joinStarted, 'ms', 1);
    await waitConverged(cluster, NEIGHBOURS, 30_000);

    // SIGKILL a successor: time until every neighbour table is right again.
    const victim = cluster.peers()[Math.floor(Math.random() * cluster.peers().length)];
    const before = expectedNeighbours(cluster.peers().map((p) => p.nodeId), NEIGHBOURS).get(victim.nodeId)!;
    const affected = new Set([...before.predecessors, ...before.successors]);
    const killed = performance.now();
    await cluster.kill(victim);
    await waitAffected(cluster, affected, 30_000);
    report(bench, 'repair_after_sigkill_ms', performance.now() - killed, 'ms', 1);
    await waitConverged(cluster, NEIGHBOURS, 30_000);

    // Memory: every peer, and a few clients.
    const peerRss = await Promise.all(cluster.peers().map(async (p) => (await cluster.status(p)).memory.rssBytes));
    report(bench, 'rss_peer_median_mb', median(peerRss) / 2 ** 20, 'MB', peerRss.length);
    const clients: DeviceProcess[] = [];
    for (let i = 0; i < CLIENTS; i++) clients.push(await cluster.start({ client: true, bootstrap: [cluster.peers()[i].listen] }));
    for (const c of clients) await cluster.command(c, `ping ${cluster.peers()[0].nodeId}`);
    // A client runs for days: measured once it has settled, as the peers have long since.
    await new Promise((r) => setTimeout(r, CLIENT_SETTLE_MS));
    const clientRss = await Promise.all(clients.map(async (c) => (await cluster.status(c)).memory.rssBytes));
    report(bench, 'rss_client_median_mb', median(clientRss) / 2 ** 20, 'MB', clientRss.length);
  } finally {
    await cluster.close();
  }
}

/** Waits until the given peers' neighbour tables match the ring of the live peers. */
async function waitAffected(cluster: Cluster, affected: Set<string>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const live = cluster.peers();
    const expected = expectedNeighbours(live.map((p) => p.nodeId), NEIGHBOURS);
    const watch = live.filter((p) => affected.has(p.nodeId));
    const statuses = await Promise.all(watch.map((p) => cluster.status(p)));
    const ok = statuses.every((s) => {
      const e = expected.get(s.nodeId)!;
      return JSON.stringify(s.routingTable.predecessors) === JSON.stringify(e.predecessors)
        && JSON.stringify(s.routingTable.successors) === JSON.stringify(e.successors);
    });
    if (ok) return;
    if (performance.now() > deadline) throw new Error('neighbour tables not repaired');
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const n of (process.env.P2PSIP_BENCH_N ?? '50,100').split(',').map(Number)) await overlay(n);
