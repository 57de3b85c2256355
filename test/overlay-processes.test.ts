// The overlay as real processes on loopback (integration tier): 25 peers join one after
// another, route to every Resource-ID's responsible peer, and recover from graceful leaves
// and SIGKILLs; a client works through its peer and survives that peer leaving.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Cluster, type DeviceProcess, responsibleFor, waitConverged } from './harness/processes.ts';

const PEERS = 25;
const NEIGHBOURS = 3;

describe('a 25-peer overlay of real processes', { timeout: 180_000 }, () => {
  const cluster = new Cluster(['--reliability-timer', '1000', '--no-sip']);
  let first: DeviceProcess;
  const small: DeviceProcess[] = [];

  before(async () => {
    first = await cluster.start();
    // One after another, each through a bootstrap that is already in the overlay. Three
    // peers run with tables far smaller than the overlay: 12 links and 2 fingers.
    for (let i = 1; i < PEERS; i++) {
      const peers = cluster.peers();
      const args = i % 8 === 0 ? ['--max-links', '12', '--fingers', '2'] : [];
      const d = await cluster.start({ bootstrap: [peers[Math.floor(Math.random() * peers.length)].listen], args });
      if (args.length) small.push(d);
    }
  });
  after(() => cluster.close());

  it('converges: every peer has the ring\'s predecessors and successors', async () => {
    await waitConverged(cluster, NEIGHBOURS, 20_000);
  });

  it('routes a message to a random Resource-ID from every peer to its responsible peer', async () => {
    const ids = cluster.peers().map((p) => p.nodeId);
    for (const p of cluster.peers()) {
      const resource = randomBytes(16).toString('hex');
      const answer = await cluster.command(p, `ping resource:${resource}`);
      assert.ok(answer.ok, answer.error);
      assert.equal(answer.result.from, responsibleFor(ids, resource), `from ${p.nodeId.slice(0, 8)} to ${resource.slice(0, 8)}`);
    }
  });

  it('peers with tables smaller than the overlay still route every request to the responsible peer', async () => {
    assert.equal(small.length, 3);
    const ids = cluster.peers().map((p) => p.nodeId);
    for (const p of small) {
      const s = await cluster.status(p);
      assert.ok(s.connections.length <= 12, `${s.connections.length} links`);
      assert.equal(s.routingTable.fingers.length, 2);
      for (let i = 0; i < 10; i++) {
        const resource = randomBytes(16).toString('hex');
        const answer = await cluster.command(p, `ping resource:${resource}`);
        assert.ok(answer.ok, answer.error);
        assert.equal(answer.result.from, responsibleFor(ids, resource));
      }
    }
  });

  it('is routing correctly again within 10 s after 5 graceful leaves and 5 SIGKILLs', async () => {
    const victims = cluster.peers().filter((p) => p !== first).sort(() => Math.random() - 0.5).slice(0, 10);
    await Promise.all(victims.slice(0, 5).map((p) => cluster.stop(p)));
    await Promise.all(victims.slice(5).map((p) => cluster.kill(p)));
    const tookMs = await waitConverged(cluster, NEIGHBOURS, 10_000);
    assert.ok(tookMs <= 10_000, `converged after ${tookMs} ms`);
    const ids = cluster.peers().map((p) => p.nodeId);
    for (const p of cluster.peers()) {
      const resource = randomBytes(16).toString('hex');
      const answer = await cluster.command(p, `ping resource:${resource}`);
      assert.ok(answer.ok, answer.error);
      assert.equal(answer.result.from, responsibleFor(ids, resource));
    }
  });

  it('a client pings every peer through its peer, and keeps working when that peer leaves', async () => {
    const client = await cluster.start({ client: true, bootstrap: [first.listen] });
    const status = await cluster.status(client);
    assert.equal(status.state, 'attached');
    const attachedTo = status.routingTable.peer;
    assert.equal(attachedTo, responsibleFor(cluster.peers().map((p) => p.nodeId), client.nodeId), 'attached to the peer responsible for its Node-ID');
    for (const p of cluster.peers()) {
      const answer = await cluster.command(client, `ping ${p.nodeId}`);
      assert.ok(answer.ok, `client ping to ${p.nodeId}: ${answer.error}`);
      assert.equal(answer.result.from, p.nodeId);
    }
    // Its peer leaves: the client moves to the peer now responsible and carries on.
    const peer = cluster.peers().find((p) => p.nodeId === attachedTo)!;
    await cluster.stop(peer);
    const deadline = Date.now() + 10_000;
    let moved: string | null | undefined;
    while (Date.now() < deadline) {
      const s = await cluster.status(client);
      moved = s.routingTable.peer;
      if (s.state === 'attached' && moved && moved !== attachedTo) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.notEqual(moved, attachedTo);
    const target = cluster.peers()[0];
    const answer = await cluster.command(client, `ping ${target.nodeId}`);
    assert.ok(answer.ok, `client ping after its peer left: ${answer.error}`);
    assert.equal(answer.result.from, target.nodeId);
  });
});
