// The CHORD-RELOAD routing table (RFC 6940 §10.1, §10.3): responsibility, bounded neighbour
// lists, finger slots, next-hop choice, removal, and greedy routing over a ring where every
// node knows only a few peers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { type NodeId, nodeIdFromBigInt, nodeIdToBigInt, ringAdd, toHex } from '../src/codec/index.ts';
import { RoutingTable, fingerTarget } from '../src/topology/chord/routing-table.ts';

const RING = 1n << 128n;
const id = (v: bigint): NodeId => nodeIdFromBigInt(((v % RING) + RING) % RING);
const hex = (ids: (NodeId | undefined)[]): (string | undefined)[] => ids.map((x) => (x ? toHex(x) : undefined));
/** Deterministic pseudo-random Node-IDs. */
const hashed = (i: number): NodeId => new Uint8Array(createHash('sha1').update(`node ${i}`).digest().subarray(0, 16));

test('responsible for (predecessor, self], wrapping past zero (§10.1)', () => {
  const t = new RoutingTable(id(10n), { neighbours: 3, fingers: 16 });
  assert.equal(t.isResponsible(id(12345n)), true, 'alone, a peer is responsible for everything');
  t.add(id(-5n));
  assert.equal(t.predecessors.length, 1);
  for (const k of [-4n, -1n, 0n, 1n, 10n]) assert.equal(t.isResponsible(id(k)), true, `k = ${k}`);
  for (const k of [-5n, 11n, 1n << 127n]) assert.equal(t.isResponsible(id(k)), false, `k = ${k}`);
  // Without wrap: predecessor 5.
  t.add(id(5n));
  assert.equal(t.isResponsible(id(6n)), true);
  assert.equal(t.isResponsible(id(5n)), false);
  assert.equal(t.isResponsible(id(0n)), false);
});

test('neighbour lists are sorted by ring distance and capped; self is never listed', () => {
  const self = id(1000n);
  const t = new RoutingTable(self, { neighbours: 3, fingers: 0 });
  const others = [1500n, 999n, 1001n, 3000n, -7n, 600n, 2000n, 100n, 1000n].map(id);
  for (const o of others) t.add(o);
  assert.deepEqual(hex(t.successors), hex([1001n, 1500n, 2000n].map(id)));
  assert.deepEqual(hex(t.predecessors), hex([999n, 600n, 100n].map(id)));
  assert.equal(t.contains(self), false);
  // Closer peers push the farthest out.
  t.add(id(1002n));
  t.add(id(998n));
  assert.deepEqual(hex(t.successors), hex([1001n, 1002n, 1500n].map(id)));
  assert.deepEqual(hex(t.predecessors), hex([999n, 998n, 600n].map(id)));
});

test('wantsNeighbour: free slot or closer than the farthest; never self or a present neighbour', () => {
  const self = id(0n);
  const t = new RoutingTable(self, { neighbours: 2, fingers: 0 });
  assert.equal(t.wantsNeighbour(self), false);
  assert.equal(t.wantsNeighbour(id(1n << 100n)), true, 'empty table');
  for (const v of [10n, 20n, -10n, -20n]) t.add(id(v));
  assert.equal(t.wantsNeighbour(id(10n)), false, 'already a neighbour');
  assert.equal(t.wantsNeighbour(id(15n)), true, 'closer than successor 20');
  assert.equal(t.wantsNeighbour(id(-15n)), true, 'closer than predecessor -20');
  assert.equal(t.wantsNeighbour(id(25n)), false);
  assert.equal(t.wantsNeighbour(id(-25n)), false);
  assert.equal(t.wantsNeighbour(id(1n << 127n)), false);
});

test('finger i targets self + 2^(128-i), and a peer at each target fills exactly that slot (§10.1)', () => {
  const self = id(123_456_789n);
  assert.deepEqual(fingerTarget(self, 1), ringAdd(self, 1n << 127n), 'finger 1 is half way round');
  assert.deepEqual(fingerTarget(self, 16), ringAdd(self, 1n << 112n));
  assert.deepEqual(fingerTarget(id(-1n), 1), id((1n << 127n) - 1n), 'wraps modulo 2^128');

  const t = new RoutingTable(self, { neighbours: 3, fingers: 16 });
  const atTargets = Array.from({ length: 16 }, (_, i) => fingerTarget(self, i + 1));
  // Arrival order must not matter: nearer peers replace farther ones in each slot.
  for (const i of [7, 0, 15, 3, 11, 1, 14, 5, 9, 2, 13, 4, 8, 6, 12, 10]) t.add(atTargets[i]);
  assert.deepEqual(hex(t.fingers), hex(atTargets));
  assert.equal(t.wantsFinger(atTargets[4]), false);

  // A peer just past finger 3's target is finger 3 when nothing sits on the target itself.
  const u = new RoutingTable(self, { neighbours: 3, fingers: 4 });
  const near3 = ringAdd(fingerTarget(self, 3), 5n);
  for (const p of [fingerTarget(self, 1), fingerTarget(self, 2), near3, fingerTarget(self, 4)]) u.add(p);
  assert.deepEqual(hex(u.fingers), hex([fingerTarget(self, 1), fingerTarget(self, 2), near3, fingerTarget(self, 4)]));
  // One just before a target is not "at or after" it, and improves no slot.
  assert.equal(u.wantsFinger(ringAdd(fingerTarget(self, 2), -1n)), false);
  assert.equal(u.wantsFinger(ringAdd(fingerTarget(self, 2), 1n)), false);
  assert.equal(u.wantsFinger(ringAdd(fingerTarget(self, 3), 1n)), true, 'nearer than +5');
});

test('nextHop: the largest Node-ID in (self, k), else the smallest Node-ID after k (§10.3)', () => {
  const self = id(0n);
  const t = new RoutingTable(self, { neighbours: 3, fingers: 4 });
  for (const v of [100n, 200n, 300n, 1n << 127n, 1n << 126n, -50n]) t.add(id(v));
  const next = (k: bigint) => toHex(t.nextHop(id(k))!);
  assert.equal(next(250n), toHex(id(200n)));
  assert.equal(next(200n), toHex(id(100n)), '(self, k) is open at k');
  assert.equal(next(50n), toHex(id(100n)), 'nothing in (0, 50): smallest after 50');
  assert.equal(next((1n << 127n) + 1n), toHex(id(1n << 127n)));
  assert.equal(next(-10n), toHex(id(-50n)), 'largest before k, across the whole ring');
  assert.equal(next(-60n), toHex(id(1n << 127n)));
  // Peers whose link is gone are skipped.
  assert.equal(toHex(t.nextHop(id(250n), (p) => toHex(p) !== toHex(id(200n)))!), toHex(id(100n)));
  assert.equal(new RoutingTable(self, { neighbours: 3, fingers: 4 }).nextHop(id(5n)), undefined, 'empty table');
  // Wrap: self near the top of the ring, key past zero.
  const w = new RoutingTable(id(-100n), { neighbours: 3, fingers: 0 });
  for (const v of [-50n, 10n, 500n]) w.add(id(v));
  assert.equal(toHex(w.nextHop(id(20n))!), toHex(id(10n)));
  assert.equal(toHex(w.nextHop(id(-60n))!), toHex(id(-50n)), 'nothing in (self, k): smallest after k');
});

test('remove takes a peer out of every list and finger; false when it was not there', () => {
  const self = id(0n);
  const t = new RoutingTable(self, { neighbours: 3, fingers: 16 });
  const p = id(1n << 127n);
  for (const v of [1n, 2n, 3n, -1n]) t.add(id(v));
  t.add(p);
  assert.equal(t.contains(p), true);
  assert.equal(t.remove(p), true);
  assert.equal(t.contains(p), false);
  assert.ok(t.fingers.every((f) => !f || toHex(f) !== toHex(p)));
  assert.equal(t.remove(p), false);
  assert.equal(t.remove(id(1n)), true);
  assert.deepEqual(hex(t.successors), hex([2n, 3n].map(id)));
  assert.deepEqual(hex(t.predecessors), hex([-1n, 3n].map(id)));
  // The owner refills the lists from the peers still known (§10.7.1).
  for (const q of t.peers()) t.add(q);
  assert.deepEqual(hex(t.successors), hex([2n, 3n, -1n].map(id)));
  assert.deepEqual(hex(t.predecessors), hex([-1n, 3n, 2n].map(id)));
});

test('greedy routing over 64 nodes that each know only neighbours and 4 fingers ends at the responsible node', () => {
  const ids = Array.from({ length: 64 }, (_, i) => hashed(i));
  const ring = [...ids].sort((a, b) => (nodeIdToBigInt(a) < nodeIdToBigInt(b) ? -1 : 1));
  const tables = new Map<string, RoutingTable>();
  for (const self of ids) {
    const t = new RoutingTable(self, { neighbours: 3, fingers: 4 });
    for (const other of ids) t.add(other);
    assert.ok(t.peers().length <= 10);
    tables.set(toHex(self), t);
  }
  const responsible = (k: NodeId): NodeId => ring.find((x) => nodeIdToBigInt(x) >= nodeIdToBigInt(k)) ?? ring[0];
  const hops: number[] = [];
  for (let j = 0; j < 200; j++) {
    const key = hashed(1000 + j);
    let at = ids[j % ids.length];
    let n = 0;
    while (!tables.get(toHex(at))!.isResponsible(key)) {
      at = tables.get(toHex(at))!.nextHop(key)!;
      assert.ok(++n <= ids.length, 'routing loops');
    }
    assert.equal(toHex(at), toHex(responsible(key)), `key ${j}`);
    hops.push(n);
  }
  // Fingers halve the distance down to 1/16 of the ring (about 4 nodes); the neighbour
  // lists cover the rest in a hop or two.
  const mean = hops.reduce((a, b) => a + b, 0) / hops.length;
  assert.ok(Math.max(...hops) <= 7, `max hops ${Math.max(...hops)}`);
  assert.ok(mean <= 4.5, `mean hops ${mean}`);
});

test('next hop also weighs peers outside the table that are known to route, and stays greedy', () => {
  const t = new RoutingTable(id(0n), { neighbours: 3, fingers: 4 });
  for (const v of [10n, 20n, 30n, RING / 2n]) t.add(id(v));
  const k = id(RING / 2n + RING / 4n);
  assert.equal(toHex(t.nextHop(k)!), toHex(id(RING / 2n)));
  // A router at 0.7 of the ring is nearer the target (0.75) than any table entry.
  const router = id((RING * 7n) / 10n);
  assert.equal(toHex(t.nextHop(k, () => true, [router])!), toHex(router));
  // One past the target is no candidate while a peer precedes it.
  assert.equal(toHex(t.nextHop(k, () => true, [id((RING * 8n) / 10n)])!), toHex(id(RING / 2n)));
  // An unusable one (its link is gone) is skipped.
  assert.equal(toHex(t.nextHop(k, (p) => toHex(p) !== toHex(router), [router])!), toHex(id(RING / 2n)));
});
