// Every structure round-trips, and encodingLength equals the bytes written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Codec, BASE_DATA_MODELS, ChordLeaveData, ChordRouteQueryAns, ChordUpdate, ConfigUpdateReq, Cursor, DataValue, Destination,
  ErrorResponse, FramedMessage, ForwardingOption, GenericCertificate, IceCandidate, IpAddressPort, MessageContents, MessageExtension,
  ProbeInformation, SecurityBlock, Signature, SignerIdentity, SipRegistration, StoreAns, TurnServer, UnknownKinds, bodyCodecs, decode,
  decodeBodyAs, decodeMessage, encode, encodeBody, encodeMessage, fromHex, messageSignatureInput, storedData, storedDataSignatureInput,
  storedDataSpecifier, storedDataValue, toHex, MetaData,
} from '../src/codec/index.ts';
import { BODIES, BODY_NAMES, NODE_A, NODE_B, SIGNATURE, messageFor } from './fixtures/samples.ts';

function roundTrip<T>(codec: Codec<T>, value: T, label: string): void {
  const bytes = encode(codec, value);
  assert.equal(codec.encodingLength(value), bytes.length, `${label}: encodingLength`);
  assert.deepEqual(decode(codec, bytes), value, `${label}: decode(encode(v))`);
  // Encoding into a larger buffer writes exactly encodingLength bytes.
  const c = Cursor.alloc(bytes.length + 7);
  codec.encode(value, c);
  assert.equal(c.pos, bytes.length, `${label}: bytes written`);
}

test('every message body round-trips through its codec', () => {
  const codecs = bodyCodecs(BASE_DATA_MODELS);
  for (const name of BODY_NAMES) {
    roundTrip(codecs[name] as Codec<unknown>, BODIES[name], name);
    assert.deepEqual(decodeBodyAs(name, encodeBody(name, BODIES[name])), BODIES[name], name);
  }
});

test('every message round-trips whole, header lengths computed', () => {
  for (const name of BODY_NAMES) {
    const m = messageFor(name);
    const bytes = encodeMessage(m);
    const d = decodeMessage(bytes);
    assert.equal(d.header.length, bytes.length, name);
    assert.deepEqual({ ...d.header, length: 0 }, m.header, name);
    assert.deepEqual(d.contents, m.contents, name);
    assert.deepEqual(d.security, m.security, name);
    assert.deepEqual(d.contentsBytes, encode(MessageContents, m.contents), name);
  }
});

test('IpAddressPort: IPv4, IPv6 and an unknown type kept raw', () => {
  for (const v of [
    { type: 'ipv4', address: '0.0.0.0', port: 0 },
    { type: 'ipv4', address: '255.255.255.255', port: 65535 },
    { type: 'ipv6', address: '::', port: 1 },
    { type: 'ipv6', address: 'fe80::1:2:0:0:3', port: 2 },
    { type: 'ipv6', address: '2001:db8:1:2:3:4:5:6', port: 3 },
    { type: 'unknown', code: 9, data: fromHex('0102') },
  ] as IpAddressPort[]) roundTrip(IpAddressPort, v, JSON.stringify(v));
  assert.deepEqual(decode(IpAddressPort, encode(IpAddressPort, { type: 'ipv6', address: '::ffff:192.0.2.1', port: 9 })), { type: 'ipv6', address: '::ffff:c000:201', port: 9 });
});

test('Destination: node, resource, opaque, compact and unknown entries', () => {
  for (const d of [
    { type: 'node', id: NODE_A },
    { type: 'resource', id: NODE_B },
    { type: 'resource', id: new Uint8Array(0) },
    { type: 'opaque', id: fromHex('0a0b0c') },
    { type: 'compact', id: 0 },
    { type: 'compact', id: 0x7fff },
    { type: 'unknown', code: 9, data: fromHex('ff') },
  ] as Destination[]) roundTrip(Destination, d, d.type);
});

test('forwarding options, message extensions and contents', () => {
  roundTrip(ForwardingOption, { type: 1, flags: 0x05, value: fromHex('abcd') }, 'option');
  roundTrip(MessageExtension, { type: 2, critical: true, contents: fromHex('01020304') }, 'extension');
  roundTrip(MessageContents, { code: 0x17, body: fromHex('0000'), extensions: [{ type: 1, critical: false, contents: new Uint8Array(0) }] }, 'contents');
});

test('security block: certificates, signature and every SignerIdentity form', () => {
  for (const identity of [
    { type: 'cert_hash', hashAlg: 4, hash: new Uint8Array(32).fill(1) },
    { type: 'cert_hash_node_id', hashAlg: 2, hash: new Uint8Array(20).fill(2) },
    { type: 'none' },
    { type: 'unknown', code: 7, data: fromHex('beef') },
  ] as SignerIdentity[]) {
    roundTrip(SignerIdentity, identity, identity.type);
    roundTrip(Signature, { hashAlgorithm: 0, signatureAlgorithm: 0, identity, value: new Uint8Array(0) }, `signature ${identity.type}`);
  }
  roundTrip(GenericCertificate, { type: 0, certificate: new Uint8Array(300).fill(0x30) }, 'certificate');
  roundTrip(SecurityBlock, { certificates: [{ type: 0, certificate: fromHex('3082') }, { type: 0, certificate: fromHex('30') }], signature: SIGNATURE }, 'block');
});

test('StoredData in the single, array and dictionary models, and an unknown kind kept raw', () => {
  const base = { storageTime: 1n, lifetime: 60, signature: SIGNATURE };
  const single = { ...base, value: { model: 'single' as const, value: { exists: true, value: fromHex('01') } } };
  const array = { ...base, value: { model: 'array' as const, index: 0xffffffff, value: { exists: false, value: new Uint8Array(0) } } };
  const dict = { ...base, value: { model: 'dictionary' as const, key: NODE_A, value: { exists: true, value: fromHex('0203') } } };
  roundTrip(storedData('single'), single, 'single');
  roundTrip(storedData('array'), array, 'array');
  roundTrip(storedData('dictionary'), dict, 'dictionary');
  const raw = decode(storedData(undefined), encode(storedData('dictionary'), dict));
  assert.equal(raw.value.model, 'unknown');
  assert.equal(raw.signature, undefined);
  assert.deepEqual(encode(storedData(undefined), raw), encode(storedData('dictionary'), dict));
  roundTrip(DataValue, { exists: true, value: new Uint8Array(10) }, 'DataValue');
  roundTrip(storedDataValue('array'), array.value, 'StoredDataValue');
  roundTrip(MetaData, { exists: true, valueLength: 9, hashAlgorithm: 4, hashValue: new Uint8Array(32) }, 'MetaData');
});

test('StoredDataSpecifier for each model, and an unknown kind kept raw', () => {
  const codec = storedDataSpecifier(BASE_DATA_MODELS);
  roundTrip(codec, { kind: 2, generation: 0n, model: 'single' }, 'single');
  roundTrip(codec, { kind: 3, generation: 5n, model: 'array', indices: [{ first: 0, last: -1 }, { first: 3, last: 3 }] }, 'array');
  roundTrip(codec, { kind: 1, generation: 0n, model: 'dictionary', keys: [NODE_A, new Uint8Array(0)] }, 'dictionary');
  roundTrip(codec, { kind: 0xf0000009, generation: 0n, model: 'unknown', raw: fromHex('0000') }, 'unknown');
});

test('kind values: SipRegistration both types, TurnServer, error_info bodies', () => {
  roundTrip(SipRegistration, { type: 'uri', uri: 'bob@example.org' }, 'uri');
  roundTrip(SipRegistration, { type: 'route', contactPrefs: '', destinationList: [{ type: 'node', id: NODE_A }, { type: 'node', id: NODE_B }] }, 'route');
  roundTrip(SipRegistration, { type: 'unknown', code: 9, data: fromHex('00') }, 'unknown');
  roundTrip(TurnServer, { iteration: 3, serverAddress: { type: 'ipv4', address: '198.51.100.7', port: 3478 } }, 'turn');
  roundTrip(UnknownKinds, [1, 0xf0000001], 'unknown kinds');
  roundTrip(StoreAns, BODIES.store_ans, 'store ans');
  roundTrip(ErrorResponse, { errorCode: 0x14, errorInfo: new Uint8Array(0) }, 'error');
});

test('ICE candidates: host, srflx and relay with related address and extensions', () => {
  const rel = { type: 'ipv4' as const, address: '10.1.1.1', port: 1 };
  for (const k of [
    { addrPort: { type: 'ipv4', address: '192.0.2.9', port: 6084 }, overlayLink: 4, foundation: 'a', priority: 1, type: 'host', extensions: [] },
    { addrPort: { type: 'ipv4', address: '192.0.2.9', port: 6084 }, overlayLink: 1, foundation: 'b', priority: 2, type: 'srflx', relAddrPort: rel, extensions: [] },
    { addrPort: { type: 'ipv6', address: '2001:db8::9', port: 6084 }, overlayLink: 3, foundation: '', priority: 0xffffffff, type: 'relay', relAddrPort: rel, extensions: [{ name: fromHex('61'), value: fromHex('62') }] },
  ] as IceCandidate[]) roundTrip(IceCandidate, k, k.type);
});

test('CHORD-RELOAD: Update of every type, RouteQueryAns, LeaveData both ways', () => {
  roundTrip(ChordUpdate, { uptime: 0, type: 'peer_ready' }, 'peer_ready');
  roundTrip(ChordUpdate, { uptime: 1, type: 'neighbors', predecessors: [NODE_A], successors: [] }, 'neighbors');
  roundTrip(ChordUpdate, { uptime: 2, type: 'full', predecessors: [NODE_A], successors: [NODE_B], fingers: [NODE_A, NODE_B] }, 'full');
  roundTrip(ChordRouteQueryAns, { nextPeer: NODE_B }, 'route query ans');
  roundTrip(ChordLeaveData, { type: 'from_succ', successors: [NODE_A, NODE_B] }, 'from_succ');
  roundTrip(ChordLeaveData, { type: 'from_pred', predecessors: [] }, 'from_pred');
});

test('ConfigUpdateReq: config, kind and an unknown type; probe information unknown type', () => {
  roundTrip(ConfigUpdateReq, { type: 'config', configData: new TextEncoder().encode('<overlay/>') }, 'config');
  roundTrip(ConfigUpdateReq, { type: 'kind', kinds: [fromHex('3c6b2f3e'), new Uint8Array(0)] }, 'kind');
  roundTrip(ConfigUpdateReq, { type: 'unknown', code: 9, data: fromHex('01') }, 'unknown');
  roundTrip(ProbeInformation, { type: 'unknown', code: 4, data: fromHex('010203') }, 'probe exp');
});

test('framing header: data and ack frames', () => {
  roundTrip(FramedMessage, { type: 'data', sequence: 0xfffffffe, message: fromHex('d2454c4f') }, 'data');
  roundTrip(FramedMessage, { type: 'ack', ackSequence: 7, received: 0x80000001 }, 'ack');
  assert.equal(toHex(encode(FramedMessage, { type: 'data', sequence: 1, message: fromHex('aabb') })), '8000000001000002aabb');
  assert.equal(toHex(encode(FramedMessage, { type: 'ack', ackSequence: 1, received: 3 })), '810000000100000003');
});

test('signature inputs are the byte strings of §6.3.4 and §7.1', () => {
  const identity = SIGNATURE.identity;
  const contents = fromHex('0017000000020000' + '00000000');
  const m = messageSignatureInput(0x9aa32b8d, 0x0102030405060708n, contents, identity);
  assert.equal(toHex(m), '9aa32b8d' + '0102030405060708' + toHex(contents) + toHex(encode(SignerIdentity, identity)));
  const value = { model: 'array' as const, index: 5, value: { exists: true, value: fromHex('aa') } };
  const s = storedDataSignatureInput(NODE_A, 0x10, 7n, value, identity);
  // Raw Resource-ID, Kind-ID as uint32, storage_time uint64, the value with the index zeroed.
  assert.equal(toHex(s), toHex(NODE_A) + '00000010' + '0000000000000007' + '00000000' + '01' + '00000001' + 'aa' + toHex(encode(SignerIdentity, identity)));
});
