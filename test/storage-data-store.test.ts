// The storing peer's checks (RFC 6940 §7.4.1.1): signatures, access control, storage times,
// generation counters, limits and atomicity, driven through the Store handler on a fake clock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  type StoreKindData, type StoredData, type StoredDataValue, ARRAY_APPEND_INDEX, ErrorCode, KindId, StoreAns, decode, resourceId,
} from '../src/codec/index.ts';
import { ReloadError } from '../src/reload/errors.ts';
import { nodeSecurity } from '../src/reload/security/node-security.ts';
import { DataStore, KindRegistry, nodeMultipleName, nonexistent } from '../src/reload/storage/index.ts';
import { answerFetch } from '../src/reload/storage/handlers/fetch.ts';
import { answerStat } from '../src/reload/storage/handlers/stat.ts';
import { answerFind } from '../src/reload/storage/handlers/find.ts';
import { answerStore } from '../src/reload/storage/handlers/store.ts';
import type { StorageEnv } from '../src/reload/storage/storage-env.ts';
import type { MessageSecurity, RequestContext } from '../src/reload/types.ts';
import { FakeClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import { identity } from './harness/memory-overlay.ts';

const clock = new FakeClock();
const alice = nodeSecurity(identity(0), clock);
const bob = nodeSecurity(identity(1), clock);
const peer = nodeSecurity(identity(2), clock);

function env(opts: { budgetBytes?: number; responsible?: boolean; preds?: Uint8Array[]; succs?: Uint8Array[] } = {}): StorageEnv & { changes: number } {
  const e = {
    clock, log: silentLogger, security: peer, kinds: new KindRegistry(),
    store: new DataStore({ clock }, { budgetBytes: opts.budgetBytes }),
    topology: { isResponsible: () => opts.responsible ?? true, predecessors: () => opts.preds ?? [], successors: () => opts.succs ?? [] },
    changes: 0,
    changed() { e.changes++; },
  };
  return e;
}

/** The request context of a StoreReq signed by `from` (its certificate in the bucket). */
function ctx(from: MessageSecurity): RequestContext {
  return {
    message: { security: { certificates: [{ type: 0, certificate: from.certificate }] } } as never,
    from: { remoteNodeId: from.nodeId } as never,
    signer: [from.nodeId],
  };
}

let time = 1_800_000_000_000n;
function signed(by: MessageSecurity, resource: Uint8Array, kind: number, value: StoredDataValue, storageTime = time++): StoredData {
  return { storageTime, lifetime: 60, value, signature: by.signData(resource, kind, storageTime, value) };
}

const text = (s: string): { exists: boolean; value: Uint8Array } => ({ exists: true, value: new TextEncoder().encode(s) });
const aliceAor = resourceId(alice.userName);
const reg = (by: MessageSecurity, s: string, t?: bigint): StoredData =>
  signed(by, resourceId(by.userName), KindId.SIP_REGISTRATION, { model: 'dictionary', key: by.nodeId, value: text(s) }, t);

function store(e: StorageEnv, from: MessageSecurity, resource: Uint8Array, kindData: StoreKindData[], replicaNumber = 0) {
  return answerStore(e, { resource, replicaNumber, kindData }, ctx(from)).body;
}

function refused(f: () => unknown, code: number): ReloadError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ReloadError, String(e));
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail('expected a refusal');
}

function fetchReg(e: StorageEnv, resource = aliceAor) {
  return answerFetch(e, { resource, specifiers: [{ kind: KindId.SIP_REGISTRATION, generation: 0n, model: 'dictionary', keys: [] }] }).body.kindResponses[0];
}

describe('Store checks (§7.4.1.1)', () => {
  it('stores a signed registration, bumps the generation and answers with the replica set', () => {
    const succs = [bob.nodeId, alice.nodeId];
    const e = env({ succs });
    const ans = store(e, alice, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, values: [reg(alice, 'sip:a@10.0.0.1')] }]);
    assert.equal(ans.kindResponses[0].generationCounter, 1n);
    assert.deepEqual(ans.kindResponses[0].replicas, succs);
    assert.equal(e.changes, 1);
    const fetched = fetchReg(e);
    assert.equal(fetched.values.length, 1);
    assert.equal(new TextDecoder().decode((fetched.values[0].value as { value: { value: Uint8Array } }).value.value), 'sip:a@10.0.0.1');
  });

  it('refuses a value signed by someone else than the access control policy allows, and keeps what was there', () => {
    const e = env();
    store(e, alice, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, values: [reg(alice, 'mine')] }]);
    // Bob signs a value for Alice's AOR with his own key as dictionary key: wrong user.
    const forged = signed(bob, aliceAor, KindId.SIP_REGISTRATION, { model: 'dictionary', key: bob.nodeId, value: text('evil') });
    refused(() => store(e, bob, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, values: [forged] }]), ErrorCode.Error_Forbidden);
    assert.equal(fetchReg(e).values.length, 1);
    assert.equal(fetchReg(e).generation, 1n);
  });

  it('refuses a tampered value, a value with identity none, and a request not signed by the data\'s signer', () => {
    const e = env();
    const good = reg(alice, 'v');
    const tampered = { ...good, value: { model: 'dictionary' as const, key: alice.nodeId, value: text('w') } };
    refused(() => store(e, alice, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, values: [tampered] }]), ErrorCode.Error_Forbidden);
    const anonymous = nonexistent({ model: 'dictionary', key: alice.nodeId });
    refused(() => store(e, alice, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, values: [anonymous] }]), ErrorCode.Error_Forbidden);
    refused(() => store(e, bob, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, values: [good] }]), ErrorCode.Error_Forbidden);
    assert.equal(e.store.size, 0);
  });

  it('refuses an older or equal storage time (a replay) with Error_Data_Too_Old', () => {
    const e = env();
    const v1 = reg(alice, 'one');
    const v2 = reg(alice, 'two');
    store(e, alice, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, values: [v2] }]);
    refused(() => store(e, alice, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, values: [v1] }]), ErrorCode.Error_Data_Too_Old);
    refused(() => store(e, alice, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, values: [v2] }]), ErrorCode.Error_Data_Too_Old);
    assert.equal(new TextDecoder().decode((fetchReg(e).values[0].value as { value: { value: Uint8Array } }).value.value), 'two');
  });

  it('a generation counter behind ours fails with Error_Generation_Counter_Too_Low and a StoreAns of the current counters', () => {
    const e = env();
    store(e, alice, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, values: [reg(alice, 'a')] }]);
    store(e, alice, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 1n, values: [reg(alice, 'b')] }]);
    const err = refused(() => store(e, alice, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 1n, values: [reg(alice, 'c')] }]), ErrorCode.Error_Generation_Counter_Too_Low);
    const info = decode(StoreAns, err.infoBytes);
    assert.equal(info.kindResponses[0].generationCounter, 2n);
    assert.deepEqual(info.kindResponses[0].replicas, []);
  });

  it('is atomic across Kinds: one failing Kind leaves the others unchanged', () => {
    const e = env();
    const node = resourceId(alice.nodeId);
    const cert = signed(alice, node, KindId.CERTIFICATE_BY_NODE, { model: 'array', index: ARRAY_APPEND_INDEX, value: text('c') });
    const wrong = signed(alice, node, KindId.SIP_REGISTRATION, { model: 'dictionary', key: alice.nodeId, value: text('x') });
    refused(() => store(e, alice, node, [
      { kind: KindId.CERTIFICATE_BY_NODE, generation: 0n, values: [cert] },
      { kind: KindId.SIP_REGISTRATION, generation: 0n, values: [wrong] },
    ]), ErrorCode.Error_Forbidden);
    assert.equal(e.store.size, 0);
  });

  it('enforces max-size, max-count and the peer\'s byte budget with Error_Data_Too_Large', () => {
    const e = env();
    const user = resourceId(alice.userName);
    const big = signed(alice, user, KindId.CERTIFICATE_BY_USER, { model: 'array', index: 0, value: { exists: true, value: new Uint8Array(5000) } });
    refused(() => store(e, alice, user, [{ kind: KindId.CERTIFICATE_BY_USER, generation: 0n, values: [big] }]), ErrorCode.Error_Data_Too_Large);
    const many = Array.from({ length: 17 }, (_, i) => signed(alice, user, KindId.CERTIFICATE_BY_USER, { model: 'array', index: ARRAY_APPEND_INDEX, value: text(`c${i}`) }));
    refused(() => store(e, alice, user, [{ kind: KindId.CERTIFICATE_BY_USER, generation: 0n, values: many }]), ErrorCode.Error_Data_Too_Large);
    assert.equal(e.store.size, 0);
    const small = env({ budgetBytes: 600 });
    store(small, alice, user, [{ kind: KindId.CERTIFICATE_BY_USER, generation: 0n, values: many.slice(0, 2) }]);
    refused(() => store(small, alice, user, [{ kind: KindId.CERTIFICATE_BY_USER, generation: 0n, values: many.slice(2, 8) }]), ErrorCode.Error_Data_Too_Large);
    assert.equal(small.store.counters.refusedBudget, 1);
    assert.ok(small.store.bytes <= 600);
  });

  it('refuses unknown Kinds with Error_Unknown_Kind listing them', () => {
    const e = env();
    const err = refused(() => store(e, alice, aliceAor, [{ kind: 0xbeef, generation: 0n, values: [] }]), ErrorCode.Error_Unknown_Kind);
    assert.deepEqual([...err.infoBytes], [4, 0, 0, 0xbe, 0xef]);
  });

  it('appends to arrays, and Fetch synthesizes the gaps (§7.4.2.2)', () => {
    const e = env();
    const node = resourceId(alice.nodeId);
    const at = (index: number, s: string): StoredData => signed(alice, node, KindId.CERTIFICATE_BY_NODE, { model: 'array', index, value: text(s) });
    store(e, alice, node, [{ kind: KindId.CERTIFICATE_BY_NODE, generation: 0n, values: [at(0, 'a'), at(2, 'c'), at(ARRAY_APPEND_INDEX, 'd')] }]);
    const got = answerFetch(e, { resource: node, specifiers: [{ kind: KindId.CERTIFICATE_BY_NODE, generation: 0n, model: 'array', indices: [{ first: 0, last: -1 }] }] });
    const values = got.body.kindResponses[0].values.map((v) => v.value as { index: number; value: { exists: boolean } });
    assert.deepEqual(values.map((v) => [v.index, v.value.exists]), [[0, true], [1, false], [2, true], [3, true]]);
    assert.equal(got.certificates.length, 1);
  });

  it('NODE-MULTIPLE accepts H(Node-ID ‖ i) up to max-node-multiple only', () => {
    const e = env();
    const turn = (i: number): Uint8Array => resourceId(nodeMultipleName(alice.nodeId, i));
    const v = (r: Uint8Array): StoredData => signed(alice, r, KindId.TURN_SERVICE, { model: 'single', value: text('turn') });
    store(e, alice, turn(20), [{ kind: KindId.TURN_SERVICE, generation: 0n, values: [v(turn(20))] }]);
    refused(() => store(e, alice, turn(21), [{ kind: KindId.TURN_SERVICE, generation: 0n, values: [v(turn(21))] }]), ErrorCode.Error_Forbidden);
    refused(() => store(e, bob, turn(3), [{ kind: KindId.TURN_SERVICE, generation: 0n, values: [signed(bob, turn(3), KindId.TURN_SERVICE, { model: 'single', value: text('x') })] }]), ErrorCode.Error_Forbidden);
  });

  it('values expire after their lifetime and are swept out', () => {
    const e = env();
    store(e, alice, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, values: [reg(alice, 'short')] }]);
    clock.advance(59_000);
    assert.equal(fetchReg(e).values.length, 1);
    assert.equal(fetchReg(e).values[0].lifetime, 1);
    clock.advance(2_000);
    assert.equal(fetchReg(e).values.length, 0);
    assert.equal(e.store.sweep(), 1);
    assert.equal(e.store.size, 0);
    assert.equal(e.store.bytes, 0);
  });

  it('Stat hashes each value with its length (§7.4.3.2); Find returns the closest resource of a Kind', () => {
    const e = env();
    store(e, alice, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, values: [reg(alice, 'abc')] }]);
    const stat = answerStat(e, { resource: aliceAor, specifiers: [{ kind: KindId.SIP_REGISTRATION, generation: 0n, model: 'dictionary', keys: [] }] });
    const m = stat.body.kindResponses[0];
    assert.ok('values' in m);
    const meta = m.values[0].metadata.value;
    assert.equal(meta.valueLength, 3);
    assert.equal(meta.hashValue.length, 32);
    const find = answerFind(e, { resource: new Uint8Array(16), kinds: [KindId.SIP_REGISTRATION, KindId.TURN_SERVICE] });
    assert.deepEqual(find.body.results.map((r) => r.closest.length), [16, 0]);
  });
});

describe('replica Stores (§10.4)', () => {
  it('take the generation they carry, ignore an identical copy, and come only from a neighbour', () => {
    const e = env({ responsible: false, preds: [bob.nodeId] });
    const v = reg(alice, 'r');
    // Bob, our predecessor, pushes a copy of Alice's registration.
    const ans = store(e, bob, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 7n, values: [v] }], 1);
    assert.equal(ans.kindResponses[0].generationCounter, 7n);
    assert.deepEqual(ans.kindResponses[0].replicas, []);
    store(e, bob, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 7n, values: [v] }], 1);
    assert.equal(e.store.counters.replicaStores, 2);
    // Alice is no neighbour of ours: "a client storing as if it were a peer".
    refused(() => store(e, alice, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 8n, values: [reg(alice, 's')] }], 1), ErrorCode.Error_Forbidden);
    refused(() => store(e, bob, aliceAor, [{ kind: KindId.SIP_REGISTRATION, generation: 0n, values: [reg(alice, 't')] }], 1), ErrorCode.Error_Invalid_Message);
    assert.equal(fetchReg(e).generation, 7n);
  });
});
