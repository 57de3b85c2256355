// Overlay data through churn, with real processes on loopback (integration tier): 30 peers,
// 300 signed records of four Kinds stored from their owners, then 30 % of the peers killed
// with SIGKILL in two waves one stabilisation apart. Every record must still be fetchable
// from every surviving peer, its signature verified there (RFC 6940 §7.4.2.2, §10.4).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SipRegistration, encode, fromHex, nodeDestination, resourceId, toHex } from '../src/codec/index.ts';
import { nodeMultipleName } from '../src/reload/storage/index.ts';
import { Cluster, type DeviceProcess, waitConverged } from './harness/processes.ts';

const PEERS = 30;
const NEIGHBOURS = 3;
/** Replicas are pushed within REPLICATION_SETTLE_MS of a change and re-checked every 5 s. */
const STABILISATION_MS = 6_000;

interface Record {
  owner: DeviceProcess;
  kind: string;
  /** The `fetch` arguments that select it. */
  resource: string;
  select: string[];
  /** The value argument of the `store` command. */
  arg: string;
  /** The stored bytes in hex, as `fetch` reports them. */
  valueHex: string;
}

const userOf = (i: number): string => `flat${i}@building.example`;

describe('300 signed records in a 30-peer overlay survive 30 % SIGKILLs', { timeout: 300_000 }, () => {
  const cluster = new Cluster(['--reliability-timer', '1000', '--no-sip']);
  const users = new Map<DeviceProcess, string>();
  const records: Record[] = [];

  before(async () => {
    for (let i = 0; i < PEERS; i++) {
      const peers = cluster.peers();
      const bootstrap = peers.length ? [peers[Math.floor(Math.random() * peers.length)].listen] : [];
      const d = await cluster.start({ bootstrap, args: ['--user', userOf(i)] });
      users.set(d, userOf(i));
    }
    await waitConverged(cluster, NEIGHBOURS, 30_000);
  });
  after(() => cluster.close());

  it('stores 300 records of four Kinds, each from a random peer that may write it', async () => {
    // Ten per peer, each at a Resource-ID its access control policy gives that peer (§7.3).
    for (const owner of cluster.peers()) {
      const node = fromHex(owner.nodeId);
      const user = resourceId(users.get(owner)!);
      const add = (kind: string, id: Uint8Array, select: string[], text: string): void => {
        const arg = JSON.stringify(text).replace(/ /g, '_');
        records.push({ owner, kind, resource: `id:${toHex(id)}`, select, arg, valueHex: toHex(new TextEncoder().encode(arg)) });
      };
      // The Storing Peer takes only SipRegistration values of this Kind (RFC 7904 §3.3).
      const route = toHex(encode(SipRegistration, { type: 'route', contactPrefs: '(sip.schemes=SIP)', destinationList: [nodeDestination(node)] }));
      records.push({ owner, kind: 'SIP-REGISTRATION', resource: `id:${toHex(user)}`, select: [`key=${owner.nodeId}`], arg: `hex:${route}`, valueHex: route });
      for (let i = 1; i <= 4; i++) add('TURN-SERVICE', resourceId(nodeMultipleName(node, i)), [], `turn ${i} of ${owner.nodeId.slice(0, 8)}`);
      for (let i = 0; i < 3; i++) add('CERTIFICATE_BY_NODE', resourceId(node), [`index=${i}`], `node cert ${i}`);
      for (let i = 0; i < 2; i++) add('CERTIFICATE_BY_USER', user, [`index=${i}`], `user cert ${i} ${owner.nodeId.slice(0, 8)}`);
    }
    assert.equal(records.length, 300);
    const shuffled = [...records].sort(() => Math.random() - 0.5);
    for (const r of shuffled) {
      const answer = await cluster.command(r.owner, ['store', r.kind, r.resource, r.arg, ...r.select].join(' '));
      assert.ok(answer.ok, `store ${r.kind}: ${answer.error}`);
    }
  });

  it('kills 30 % of the peers with SIGKILL in two waves, one stabilisation apart', async () => {
    const killed: DeviceProcess[] = [];
    for (const count of [5, 4]) {
      await new Promise((r) => setTimeout(r, STABILISATION_MS));
      const wave = pickVictims(cluster.peers(), count);
      await Promise.all(wave.map((p) => cluster.kill(p)));
      killed.push(...wave);
      await waitConverged(cluster, NEIGHBOURS, 20_000);
    }
    assert.equal(killed.length, 9);
    await new Promise((r) => setTimeout(r, STABILISATION_MS));
  });

  it('every record is fetchable from every surviving peer and verifies there', async () => {
    const survivors = cluster.peers();
    assert.equal(survivors.length, 21);
    const missing: string[] = [];
    await Promise.all(survivors.map(async (from) => {
      for (const r of records) {
        const answer = await cluster.command(from, ['fetch', r.kind, r.resource, ...r.select].join(' '));
        if (!answer.ok) {
          missing.push(`${r.kind} ${r.resource.slice(3, 11)} from ${from.nodeId.slice(0, 6)}: ${answer.error}`);
          continue;
        }
        const res = answer.result as { discarded: number; values: { value: string; exists: boolean; signer: string | null }[] };
        const hit = res.values.find((v) => v.exists && v.value === r.valueHex);
        if (res.discarded > 0 || !hit || hit.signer !== r.owner.nodeId) {
          missing.push(`${r.kind} ${r.resource.slice(3, 11)} from ${from.nodeId.slice(0, 6)}: ${JSON.stringify(res).slice(0, 200)}`);
        }
      }
    }));
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${records.length * survivors.length} fetches failed`);
  });
});

/**
 * `count` random peers, never three ring neighbours together: a replica set is three
 * consecutive peers (§10.4), and losing all three at once loses the data by design.
 */
function pickVictims(peers: DeviceProcess[], count: number): DeviceProcess[] {
  const ring = [...peers].sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
  for (;;) {
    const chosen = new Set([...ring.keys()].sort(() => Math.random() - 0.5).slice(0, count));
    const wholeSet = [...chosen].some((i) => chosen.has((i + 1) % ring.length) && chosen.has((i + 2) % ring.length));
    if (!wholeSet) return [...chosen].map((i) => ring[i]);
  }
}
