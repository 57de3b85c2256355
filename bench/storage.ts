// Storage benchmarks with real peer processes on loopback (RFC 6940 §7.4): Store and Fetch
// latency in a 50-peer overlay; how many verified Stores one peer accepts per second over a
// TLS link; the RSS of that peer once it holds 10,000 records.
// One JSON object per line: {"bench", "metric", "value", "unit", "n"}.
import { createSelfSignedIdentity } from '../src/reload/security/identity.ts';
import { nodeSecurity } from '../src/reload/security/node-security.ts';
import {
  type StoredDataValue, ARRAY_APPEND_INDEX, KindId, MessageCode, SipRegistration, decodeMessage, encode, fromHex, nodeDestination, resourceDestination, resourceId,
} from '../src/codec/index.ts';
import { TlsTransport } from '../src/link/tls-transport.ts';
import { nodeMultipleName } from '../src/reload/storage/index.ts';
import type { MessageSecurity } from '../src/reload/types.ts';
import { systemClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import { Cluster, someOf, waitConverged } from '../test/harness/processes.ts';
import { signedRequest } from '../test/harness/memory-overlay.ts';

const OVERLAY = 'building.example';

function report(bench: string, metric: string, value: number, unit: string, n: number): void {
  process.stdout.write(`${JSON.stringify({ bench, metric, value: Math.round(value * 1000) / 1000, unit, n })}\n`);
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** Store and Fetch from random peers of a 50-peer overlay, timed inside the requesting device. */
async function latency(n: number, operations: number): Promise<void> {
  const cluster = new Cluster(['--reliability-timer', '1000']);
  try {
    for (let i = 0; i < n; i++) {
      const peers = cluster.peers();
      const bootstrap = someOf(peers, 3).map((p) => p.listen);
      await cluster.start({ bootstrap, args: ['--user', `flat${i}@${OVERLAY}`] });
    }
    await waitConverged(cluster, 3, 60_000);
    const peers = cluster.peers();
    const stored: { resource: string }[] = [];
    const stores: number[] = [];
    for (let i = 0; i < operations; i++) {
      const owner = peers[i % peers.length];
      const resource = `id:${Buffer.from(resourceId(nodeMultipleName(fromHex(owner.nodeId), 1 + Math.floor(i / peers.length) % 20))).toString('hex')}`;
      const answer = await cluster.command(owner, `store TURN-SERVICE ${resource} relay${i}`);
      if (!answer.ok) throw new Error(`store: ${answer.error}`);
      stores.push(answer.result.rttMs);
      stored.push({ resource });
    }
    const fetches: number[] = [];
    for (let i = 0; i < operations; i++) {
      const from = peers[Math.floor(Math.random() * peers.length)];
      const answer = await cluster.command(from, `fetch TURN-SERVICE ${stored[Math.floor(Math.random() * stored.length)].resource}`);
      if (!answer.ok) throw new Error(`fetch: ${answer.error}`);
      fetches.push(answer.result.rttMs);
    }
    stores.sort((a, b) => a - b);
    fetches.sort((a, b) => a - b);
    report(`storage_n${n}`, 'store_latency_p50_ms', quantile(stores, 0.5), 'ms', operations);
    report(`storage_n${n}`, 'store_latency_p99_ms', quantile(stores, 0.99), 'ms', operations);
    report(`storage_n${n}`, 'fetch_latency_p50_ms', quantile(fetches, 0.5), 'ms', operations);
    report(`storage_n${n}`, 'fetch_latency_p99_ms', quantile(fetches, 0.99), 'ms', operations);
  } finally {
    await cluster.close();
  }
}

/**
 * 50 records for each of `users` writers, each at a Resource-ID its access control policy
 * allows (§7.3): 20 TURN-SERVICE, 16 CERTIFICATE_BY_NODE, 13 CERTIFICATE_BY_USER, one
 * SIP-REGISTRATION. Every request and every value is signed before the clock starts.
 */
function signedStores(users: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const text = (s: string): { exists: boolean; value: Uint8Array } => ({ exists: true, value: new TextEncoder().encode(s) });
  for (let u = 0; u < users; u++) {
    const security = nodeSecurity(createSelfSignedIdentity({ overlay: OVERLAY, userName: `writer${u}@${OVERLAY}`, clock: systemClock }), systemClock);
    const node = security.nodeId;
    const put = (resource: Uint8Array, kind: number, value: StoredDataValue): void => {
      const storageTime = BigInt(Date.now());
      const data = { storageTime, lifetime: 86_400, value, signature: security.signData(resource, kind, storageTime, value) };
      out.push(signedRequest(security as MessageSecurity, {
        name: 'store_req', overlay: OVERLAY, destinations: [resourceDestination(resource)],
        body: { resource, replicaNumber: 0, kindData: [{ kind, generation: 0n, values: [data] }] },
      }).bytes);
    };
    for (let i = 1; i <= 20; i++) put(resourceId(nodeMultipleName(node, i)), KindId.TURN_SERVICE, { model: 'single', value: text(`turn${i}`) });
    for (let i = 0; i < 16; i++) put(resourceId(node), KindId.CERTIFICATE_BY_NODE, { model: 'array', index: ARRAY_APPEND_INDEX, value: text(`n${i}`.repeat(20)) });
    for (let i = 0; i < 13; i++) put(resourceId(security.userName), KindId.CERTIFICATE_BY_USER, { model: 'array', index: ARRAY_APPEND_INDEX, value: text(`u${i}`.repeat(20)) });
    // The Storing Peer takes only SipRegistration values of this Kind (RFC 7904 §3.3).
    const route = encode(SipRegistration, { type: 'route', contactPrefs: '(sip.schemes=SIP)', destinationList: [nodeDestination(node)] });
    put(resourceId(security.userName), KindId.SIP_REGISTRATION, { model: 'dictionary', key: node, value: { exists: true, value: route } });
  }
  return out;
}

/** One peer process; Stores pipelined into it over one TLS link, `window` outstanding. */
async function throughput(records: number, window: number): Promise<void> {
  const requests = signedStores(Math.ceil(records / 50)).slice(0, records);
  const cluster = new Cluster(['--storage-budget', String(64 * 1024 * 1024)]);
  const sender = createSelfSignedIdentity({ overlay: OVERLAY, userName: `bench@${OVERLAY}`, clock: systemClock });
  const tls = new TlsTransport({ clock: systemClock, log: silentLogger }, {
    key: sender.privateKey, cert: sender.certificatePem, verifyPeer: nodeSecurity(sender, systemClock).verifyPeer,
  });
  try {
    const peer = await cluster.start();
    const [host, port] = [peer.listen.slice(0, peer.listen.lastIndexOf(':')), Number(peer.listen.slice(peer.listen.lastIndexOf(':') + 1))];
    const link = await tls.connect({ host, port });
    let accepted = 0;
    let refused = 0;
    let next = 0;
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const send = (): void => {
        if (next < requests.length) link.send(requests[next++]);
      };
      link.onMessage = (bytes) => {
        const code = decodeMessage(bytes, { maxMessageSize: 1 << 20 }).contents.code;
        if (code === MessageCode.store_ans) accepted++;
        else refused++;
        if (accepted + refused === requests.length) resolve();
        else send();
      };
      for (let i = 0; i < window; i++) send();
    });
    const seconds = (performance.now() - started) / 1000;
    if (refused > 0) throw new Error(`${refused} of ${requests.length} stores refused`);
    report('storage_peer', 'verified_stores_per_s', accepted / seconds, 'stores/s', accepted);
    // Settled: the burst's buffers are garbage by now, as on a device between bursts.
    link.close('benchmark done');
    await new Promise((r) => setTimeout(r, 5000));
    const status = await cluster.status(peer) as unknown as { memory: { rssBytes: number; heapUsedBytes: number }; storage: { resources: number; bytes: number } };
    report('storage_peer', 'records_held', accepted, 'records', 1);
    report('storage_peer', 'stored_bytes', status.storage.bytes, 'B', status.storage.resources);
    report('storage_peer', 'rss_with_10000_records_mb', status.memory.rssBytes / 2 ** 20, 'MB', 1);
    report('storage_peer', 'heap_used_with_10000_records_mb', status.memory.heapUsedBytes / 2 ** 20, 'MB', 1);
  } finally {
    await tls.close();
    await cluster.close();
  }
}

await throughput(10_000, 64);
if (!process.env.P2PSIP_BENCH_SKIP_LATENCY) await latency(Number(process.env.P2PSIP_BENCH_STORAGE_N ?? 50), 200);
