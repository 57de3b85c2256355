// An in-process CHORD-RELOAD overlay of eight peers over memory links (RFC 6940 §10.5–§10.9):
// peers join one after another, the neighbour tables converge to the sorted ring, and a
// Leave, a crashed peer and a dropped link are each repaired.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeIdToBigInt, resourceDestination, resourceId, toHex } from '../src/codec/index.ts';
import { type OverlayPeer, MemoryOverlay, eventually } from './harness/memory-overlay.ts';

const PEERS = 8;
const NEIGHBOURS = 3;
const CONVERGE_MS = 5_000;

/** Eight peers, joined one at a time, each through a different peer already in. */
async function joinedOverlay(): Promise<MemoryOverlay> {
  const overlay = new MemoryOverlay({ chord: { neighbours: NEIGHBOURS } });
  overlay.peer(0).chord.createOverlay();
  for (let i = 1; i < PEERS; i++) {
    const bootstrap = overlay.peers[Math.floor(i / 2)];
    await overlay.peer(i).chord.join([bootstrap.endpoint]);
  }
  return overlay;
}

async function converged(overlay: MemoryOverlay, expectedLive: number): Promise<void> {
  assert.equal(overlay.live().length, expectedLive);
  await eventually(() => overlay.wrongTables(NEIGHBOURS).length === 0, CONVERGE_MS, () => overlay.wrongTables(NEIGHBOURS).join('; '));
}

/** The live peer responsible for `k`: the first Node-ID at or after it on the ring (§10.1). */
function responsibleFor(overlay: MemoryOverlay, k: Uint8Array): OverlayPeer {
  const ring = overlay.live().sort((a, b) => (nodeIdToBigInt(a.identity.nodeId) < nodeIdToBigInt(b.identity.nodeId) ? -1 : 1));
  return ring.find((p) => nodeIdToBigInt(p.identity.nodeId) >= nodeIdToBigInt(k)) ?? ring[0];
}

/** Every live peer reaches the peer responsible for a Resource-ID with a Ping. */
async function routesEverywhere(overlay: MemoryOverlay): Promise<void> {
  for (const [i, from] of overlay.live().entries()) {
    const k = resourceId(`door ${i}`);
    const a = await from.node.transport.request([resourceDestination(k)], 'ping_req', { padding: new Uint8Array(0) });
    assert.deepEqual(toHex(a.signer[0]), toHex(responsibleFor(overlay, k).identity.nodeId));
  }
}

test('peers joining one after another converge to the sorted ring (§10.5)', async () => {
  const overlay = await joinedOverlay();
  try {
    await converged(overlay, PEERS);
    for (const p of overlay.live()) {
      assert.equal(p.chord.counters.joins, p === overlay.peers[0] ? 0 : 1);
      // §10.1: an Attach-established connection to every neighbour.
      for (const n of [...p.chord.table.predecessors, ...p.chord.table.successors]) assert.ok(p.node.links.get(n), 'linked to each neighbour');
    }
    await routesEverywhere(overlay);
  } finally {
    overlay.close();
  }
});

test('a peer that Leaves is removed and its neighbours close the gap (§10.9)', async () => {
  const overlay = await joinedOverlay();
  try {
    await converged(overlay, PEERS);
    const leaving = overlay.peers[3];
    await leaving.chord.leave();
    leaving.crash();
    await converged(overlay, PEERS - 1);
    const told = overlay.live().reduce((n, p) => n + p.chord.counters.leavesReceived, 0);
    assert.equal(told, 2 * NEIGHBOURS, 'each neighbour got a Leave');
    for (const p of overlay.live()) assert.equal(p.chord.table.contains(leaving.identity.nodeId), false);
    await routesEverywhere(overlay);
  } finally {
    overlay.close();
  }
});

test('a crashed peer is replaced in its neighbours\' tables (§10.7.1)', async () => {
  const overlay = await joinedOverlay();
  try {
    await converged(overlay, PEERS);
    const victims = [overlay.peers[2], overlay.peers[6]];
    for (const v of victims) v.crash();
    await converged(overlay, PEERS - victims.length);
    for (const p of overlay.live()) {
      for (const v of victims) {
        assert.equal(p.chord.table.contains(v.identity.nodeId), false);
        // An Attach the victim answered just before it died must not leave a link behind.
        assert.equal(p.node.links.get(v.identity.nodeId), undefined, 'no link to a dead peer');
      }
    }
    assert.ok(overlay.live().some((p) => p.chord.counters.neighbourFailures > 0));
    await routesEverywhere(overlay);
  } finally {
    overlay.close();
  }
});

test('a dropped link between two live neighbours is re-established', async () => {
  const overlay = await joinedOverlay();
  try {
    await converged(overlay, PEERS);
    const a = overlay.peers[1];
    const b = a.chord.table.successors[0];
    a.node.links.get(b)!.close('link failure');
    assert.equal(a.chord.table.isNeighbour(b), false, 'the lost neighbour left the table at once');
    await converged(overlay, PEERS);
    assert.ok(a.node.links.get(b), 'linked again');
  } finally {
    overlay.close();
  }
});
