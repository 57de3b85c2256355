// Attacks on stored data over real TLS links (RFC 6940 §7.3, §7.4.1.1, §13.5): each one is
// refused with the RFC's error, and the data stored before it is unchanged after it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  type StoredData, type StoredDataValue, ErrorCode, KindId, SipRegistration, decode, encode, nodeDestination, resourceDestination, resourceId, toHex,
} from '../src/codec/index.ts';
import { ReloadError } from '../src/reload/errors.ts';
import type { OverlayDevice } from '../src/run/overlay-device.ts';
import type { ChordPeer } from '../src/topology/chord/chord.ts';
import { closeAll, startDevice } from './harness/in-process.ts';

const FLAT = 'flat1@building.example';
const aor = resourceId(FLAT);
/** A forwarding entry (RFC 7904 §3.2): the Storing Peer refuses values that are no SipRegistration. */
const forwarding = (uri: string): { exists: boolean; value: Uint8Array } => ({ exists: true, value: encode(SipRegistration, { type: 'uri', uri }) });
const uriOf = (bytes: Uint8Array): string => {
  const r = decode(SipRegistration, bytes);
  return r.type === 'uri' ? r.uri : r.type;
};

describe('attacks on stored data', { timeout: 60_000 }, () => {
  let peers: OverlayDevice[];
  let victim: OverlayDevice;
  let flatmate: OverlayDevice;
  let attacker: OverlayDevice;
  let reader: OverlayDevice;
  let client: OverlayDevice;
  let older: StoredData;

  /** What the victim's AOR holds, as a third device fetches it. */
  async function registrations(): Promise<{ generation: bigint; values: string[] }> {
    const [k] = await reader.data.fetch(aor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, model: 'dictionary', keys: [] }]);
    assert.equal(k.discarded, 0);
    return {
      generation: k.generation,
      values: k.values.map(({ data, signer }) => `${toHex(signer!.nodeId).slice(0, 8)}=${uriOf((data.value as { value: { value: Uint8Array } }).value.value)}`).sort(),
    };
  }

  async function expectRefused(p: Promise<unknown>, code: number): Promise<void> {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof ReloadError, String(e));
      assert.equal(e.code, code, e.message);
      return true;
    });
  }

  const reg = (d: OverlayDevice, key: Uint8Array, s: string): StoredDataValue => ({ model: 'dictionary', key, value: forwarding(s) });

  before(async () => {
    const first = await startDevice({ userName: 'lobby@building.example' });
    peers = [first];
    victim = await startDevice({ userName: FLAT, bootstrap: [first.listening] });
    flatmate = await startDevice({ userName: FLAT, bootstrap: [first.listening] });
    attacker = await startDevice({ userName: 'flat9@building.example', bootstrap: [first.listening] });
    reader = await startDevice({ userName: 'flat5@building.example', bootstrap: [first.listening] });
    peers.push(victim, flatmate, attacker, reader);
    client = await startDevice({ role: 'client', userName: 'flat7@building.example', bootstrap: [first.listening] });
    await new Promise((r) => setTimeout(r, 1500));
    // The victim registers twice; the first StoredData is kept for the replay.
    await victim.data.store(aor, KindId.SIP_REGISTRATION, [reg(victim, victim.identity.nodeId, 'sip:old@10.0.0.1')]);
    const [k] = await reader.data.fetch(aor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, model: 'dictionary', keys: [] }]);
    older = k.values[0].data;
    await victim.data.store(aor, KindId.SIP_REGISTRATION, [reg(victim, victim.identity.nodeId, 'sip:new@10.0.0.1')]);
    await flatmate.data.store(aor, KindId.SIP_REGISTRATION, [reg(flatmate, flatmate.identity.nodeId, 'sip:mate@10.0.0.2')]);
  });
  after(() => closeAll());

  let baseline: { generation: bigint; values: string[] };
  it('the flat\'s AOR holds both devices\' registrations', async () => {
    baseline = await registrations();
    assert.equal(baseline.values.length, 2);
    assert.ok(baseline.values.some((v) => v.endsWith('sip:new@10.0.0.1')));
  });

  it('storing under another user\'s Resource-ID is Forbidden', async () => {
    await expectRefused(attacker.data.store(aor, KindId.SIP_REGISTRATION, [reg(attacker, attacker.identity.nodeId, 'sip:evil@10.6.6.6')]), ErrorCode.Error_Forbidden);
    assert.deepEqual(await registrations(), baseline);
  });

  it('a dictionary key other than the signer\'s Node-ID is Forbidden, even for the same user', async () => {
    await expectRefused(flatmate.data.store(aor, KindId.SIP_REGISTRATION, [reg(flatmate, victim.identity.nodeId, 'sip:hijack@10.0.0.2')]), ErrorCode.Error_Forbidden);
    assert.deepEqual(await registrations(), baseline);
  });

  it('replaying an older StoredData is refused: by a third party Forbidden, by a neighbour\'s replica Data_Too_Old', async () => {
    const send = (from: OverlayDevice, replicaNumber: number, data: StoredData, to = resourceDestination(aor)): Promise<unknown> =>
      from.node.transport.request([to], 'store_req', { resource: aor, replicaNumber, kindData: [{ kind: KindId.SIP_REGISTRATION, generation: 99n, values: [data] }] }, {
        certificates: [victim.identity.certificate],
      });
    await expectRefused(send(attacker, 0, { ...older }), ErrorCode.Error_Forbidden);
    // From a neighbour of the responsible peer the replica check passes, and the storage
    // time check catches the replay.
    const responsible = peers.find((p) => p.topology.isResponsible(aor))!;
    const table = (responsible.topology as ChordPeer).table;
    const neighbour = peers.find((p) => table.isNeighbour(p.identity.nodeId))!;
    await expectRefused(send(neighbour, 1, { ...older }, nodeDestination(responsible.identity.nodeId)), ErrorCode.Error_Data_Too_Old);
    assert.deepEqual(await registrations(), baseline);
  });

  it('a tampered value is Forbidden', async () => {
    const [k] = await reader.data.fetch(aor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, model: 'dictionary', keys: [victim.identity.nodeId] }]);
    const genuine = k.values[0].data;
    const tampered: StoredData = { ...genuine, storageTime: genuine.storageTime + 1n, value: reg(victim, victim.identity.nodeId, 'sip:tampered@10.6.6.6') };
    await assert.rejects(victim.node.transport.request([resourceDestination(aor)], 'store_req', {
      resource: aor, replicaNumber: 0, kindData: [{ kind: KindId.SIP_REGISTRATION, generation: 0n, values: [tampered] }],
    }), (e: unknown) => e instanceof ReloadError && e.code === ErrorCode.Error_Forbidden);
    assert.deepEqual(await registrations(), baseline);
  });

  it('a client storing as if it were a peer (a replica Store) is Forbidden', async () => {
    const responsible = peers.find((p) => p.topology.isResponsible(aor))!;
    const now = BigInt(Date.now()) + 10_000n;
    const value = reg(client, client.identity.nodeId, 'sip:client@10.0.0.7');
    const own: StoredData = { storageTime: now, lifetime: 60, value, signature: client.security.signData(aor, KindId.SIP_REGISTRATION, now, value) };
    await expectRefused(client.node.transport.request([nodeDestination(responsible.identity.nodeId)], 'store_req', {
      resource: aor, replicaNumber: 1, kindData: [{ kind: KindId.SIP_REGISTRATION, generation: 5n, values: [own] }],
    }), ErrorCode.Error_Forbidden);
    // And a replay of the victim's own newer value, passed off as a replica.
    await expectRefused(client.node.transport.request([nodeDestination(responsible.identity.nodeId)], 'store_req', {
      resource: aor, replicaNumber: 1, kindData: [{ kind: KindId.SIP_REGISTRATION, generation: 5n, values: [older] }],
    }, { certificates: [victim.identity.certificate] }), ErrorCode.Error_Forbidden);
    assert.equal(client.storage, undefined, 'a client stores nothing (§4.2)');
    assert.deepEqual(await registrations(), baseline);
  });
});
