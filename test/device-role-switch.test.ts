// A device changing role while running (resources short, then back), with in-process devices
// over real TLS: as a peer it holds data; switched to a client it first hands that data to its
// successor and leaves (RFC 6940 §10.9), so every record is still fetchable; switched back it
// rejoins as a peer and takes its range again. The resource monitor decides with hysteresis.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { KindId, idEquals, resourceId, ringAdd, toHex } from '../src/codec/index.ts';
import { ResourceMonitor, type ResourceSample, shortfalls } from '../src/device/resources.ts';
import { nodeMultipleName } from '../src/reload/storage/index.ts';
import type { OverlayDevice } from '../src/run/overlay-device.ts';
import { ChordClient } from '../src/topology/chord/client.ts';
import { ChordPeer } from '../src/topology/chord/chord.ts';
import { FakeClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import { closeAll, startDevice } from './harness/in-process.ts';
import { sleep, until } from './harness/wait.ts';

const RECORDS_PER_DEVICE = 12;
let devices: OverlayDevice[] = [];
const records: { owner: OverlayDevice; resource: Uint8Array; text: string }[] = [];

before(async () => {
  const first = await startDevice({ chord: { updateIntervalMs: 500 } });
  devices = [first];
  for (let i = 1; i < 6; i++) devices.push(await startDevice({ bootstrap: [first.listening], chord: { updateIntervalMs: 500 } }));
  await until('every peer joined', () => devices.every((d) => d.topology.state === 'joined'), 20_000, 50);
  for (const owner of devices) {
    for (let i = 1; i <= RECORDS_PER_DEVICE; i++) {
      const resource = resourceId(nodeMultipleName(owner.identity.nodeId, i));
      const text = `turn ${i} of ${Buffer.from(owner.identity.nodeId).toString('hex').slice(0, 8)}`;
      const answer = await owner.data.store(resource, KindId.TURN_SERVICE, [{ model: 'single', value: { exists: true, value: Buffer.from(text) } }]);
      assert.ok(answer);
      records.push({ owner, resource, text });
    }
  }
});

after(() => closeAll());

async function everyRecordFetchable(from: OverlayDevice): Promise<void> {
  for (const r of records) {
    const [kind] = await from.data.fetch(r.resource, [{ kind: KindId.TURN_SERVICE, generation: 0n, model: 'single' }]);
    const value = kind.values[0]?.data.value;
    assert.ok(value && value.model === 'single' && value.value.exists, `record "${r.text}" lost`);
    assert.equal(Buffer.from(value.value.value).toString(), r.text);
  }
}

test('a peer holding data becomes a client without losing a record, and comes back as a peer', async () => {
  const x = devices.find((d) => (d.storage?.status() as { resources?: number } | undefined)?.resources) ?? devices[2];
  const held = (x.storage!.status() as { resources: number }).resources;
  assert.ok(held > 0, 'the device switching role holds data');
  await x.switchRole('client');
  assert.equal(x.role, 'client');
  assert.ok(x.topology instanceof ChordClient);
  assert.equal(x.storage, undefined);
  await until('attached as a client', () => x.topology.state === 'attached', 10_000, 50);
  const other = devices.find((d) => d !== x)!;
  await everyRecordFetchable(other);
  await everyRecordFetchable(x);
  assert.equal((x.status() as { role: string }).role, 'client');

  await x.switchRole('peer');
  assert.ok(x.topology instanceof ChordPeer);
  await until('joined as a peer again', () => x.topology.state === 'joined', 10_000, 50);
  // A joining peer receives the data of its range from its successor (§10.5).
  await until('its range handed back', () => ((x.storage!.status() as { resources: number }).resources) > 0, 15_000, 100);
  await everyRecordFetchable(other);
});

test('a peer turned client is no next hop for anyone: its Leave keeps it out of routers and tables', async () => {
  // Its neighbours have routed over it since its first Update; its links stay up as it turns
  // client, so only the Leave (§10.9) can tell them it no longer routes, and Updates sent
  // before they heard of it must not bring it back.
  const z = devices[devices.length - 1];
  const justPast = ringAdd(z.identity.nodeId, 1n);
  const others = devices.filter((d) => d !== z);
  const routesOverZ = (d: OverlayDevice): boolean => idEquals(d.topology.nextHop(justPast)?.remoteNodeId ?? new Uint8Array(16), z.identity.nodeId);
  assert.ok(others.some(routesOverZ), 'some peer routes over z');
  await z.switchRole('client');
  for (const d of others) assert.ok(!routesOverZ(d), `${toHex(d.identity.nodeId).slice(0, 6)} still routes over the client`);
  await until('attached as a client', () => z.topology.state === 'attached', 10_000, 50);
  await everyRecordFetchable(z);
  // A few periodic Updates later (every 500 ms here), still nobody routes over it.
  await sleep(1500);
  for (const d of others) assert.ok(!routesOverZ(d), `${toHex(d.identity.nodeId).slice(0, 6)} routes over the client again`);
  await z.switchRole('peer');
  await until('joined as a peer again', () => z.topology.state === 'joined', 10_000, 50);
});

test('a peer that turns client and straight back gets its range again from its successor (§10.5 step 4)', async () => {
  // Back before its successor has run a replication pass since the Leave: the successor holds
  // the range only as replicas, and must hand them over because the peer joined. First the
  // ring settles from the switches before: every record at its peer and that peer's successor.
  const holds = (id: Uint8Array | undefined, resource: Uint8Array): boolean =>
    devices.some((d) => id !== undefined && idEquals(d.identity.nodeId, id) && d.storage?.store.get(resource) !== undefined);
  await until('every record at its peer and the first replica', () => records.every((r) => {
    const peer = devices.find((d) => d.topology.isResponsible(r.resource));
    return peer !== undefined && holds(peer.identity.nodeId, r.resource) && holds((peer.topology as ChordPeer).table.successors[0], r.resource);
  }), 15_000, 100);
  const inRange = (d: OverlayDevice) => records.filter((r) => d.topology.isResponsible(r.resource));
  const z = devices.find((d) => inRange(d).length > 0)!;
  const own = inRange(z);
  await z.switchRole('client');
  await z.switchRole('peer');
  await until('joined as a peer again', () => z.topology.state === 'joined', 10_000, 50);
  await until('its range handed back', () => own.every((r) => z.storage!.store.get(r.resource) !== undefined), 5_000, 50);
  await everyRecordFetchable(devices.find((d) => d !== z)!);
});

function sample(over: Partial<ResourceSample> = {}): ResourceSample {
  return { freeMemoryBytes: 1e9, totalMemoryBytes: 2e9, rssBytes: 50e6, loadPerCore: 0.2, diskFreeBytes: 1e9, ...over };
}

test('shortfalls name every threshold not met, and the margin raises every bar', () => {
  assert.deepEqual(shortfalls(sample(), { memoryBudgetBytes: 100 * 1048576 }), []);
  const short = shortfalls(sample({ freeMemoryBytes: 1e6, loadPerCore: 9, diskFreeBytes: 1e6 }), { memoryBudgetBytes: 40 * 1048576 });
  assert.equal(short.length, 4);
  assert.match(short[0], /memory budget 40\.0 MiB below the 64\.0 MiB a peer needs/);
  assert.deepEqual(shortfalls(sample(), { memoryBudgetBytes: 70 * 1048576 }), []);
  assert.equal(shortfalls(sample(), { memoryBudgetBytes: 70 * 1048576 }, 0.2).length, 1, '70 MiB is not 20 % above 64 MiB');
});

test('the monitor starts a short board as a client, drops a peer after bad samples in a row, and brings it back with hysteresis', () => {
  const clock = new FakeClock();
  let current = sample();
  assert.equal(ResourceMonitor.initialRole(current, { memoryBudgetBytes: 32 * 1048576 }).role, 'client');
  const monitor = new ResourceMonitor({ clock, log: silentLogger, sample: () => current }, { role: 'peer', thresholds: {}, intervalMs: 1000, fallSamples: 3, riseSamples: 4 });
  const decisions: string[] = [];
  monitor.onDecision = (d) => { decisions.push(d.role); monitor.roleChanged(d.role); };
  monitor.start();
  current = sample({ freeMemoryBytes: 1e6 });
  clock.advance(2000);
  assert.deepEqual(decisions, [], 'two bad samples are not yet three');
  clock.advance(1000);
  assert.deepEqual(decisions, ['client']);
  current = sample({ freeMemoryBytes: 26 * 1048576 });
  clock.advance(10_000);
  assert.deepEqual(decisions, ['client'], 'just above the threshold is not above it with the margin');
  current = sample();
  clock.advance(3000);
  assert.deepEqual(decisions, ['client']);
  clock.advance(1000);
  assert.deepEqual(decisions, ['client', 'peer']);
  // A budget set by command is acted on at once.
  assert.equal(monitor.setBudget(16 * 1048576).role, 'client');
  assert.deepEqual(decisions, ['client', 'peer', 'client']);
  monitor.stop();
  clock.advance(60_000);
  assert.equal(decisions.length, 3, 'nothing after stop');
});
