// Hex vectors worked by hand from RFC 6940 and RFC 7904, field by field, against the encoder
// and decoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Message, ChordUpdate, Destination, DestinationList, ErrorResponse, FRAGMENT_UNFRAGMENTED, IpAddressPort, MessageCode,
  decode, decodeBodyAs, decodeGruu, decodeMessage, encode, encodeBody, encodeGruu, encodeMessage, fromHex, nodeDestination,
  overlayHash, resourceDestination, resourceId, toHex, ErrorCode, KindId, SipRegistration,
} from '../src/codec/index.ts';

const hex = (...parts: string[]): string => parts.join('').replace(/\s+/g, '');
const NODE = 'c0e7d2a1447a44fe2e4396cd6c0bd09e';
const NODE2 = '1234567890abcdef1234567890abcdef';

test('identifiers: overlay hash and Resource-ID of the worked examples', () => {
  // §6.3.2: lower 32 bits of SHA-1("overlay.example.org"); §10.2: SHA-1 truncated to 128 bits.
  assert.equal(overlayHash('overlay.example.org'), 0x9aa32b8d);
  assert.equal(toHex(resourceId('alice@overlay.example.org')), '6df379fb05075b13ada5f9d9ae9fbaa0');
});

test('IpAddressPort: 192.0.2.1:6084 is 01 06 c0000201 17c4 (§6.3.1.1)', () => {
  const v = { type: 'ipv4' as const, address: '192.0.2.1', port: 6084 };
  assert.equal(toHex(encode(IpAddressPort, v)), '0106c000020117c4');
  assert.deepEqual(decode(IpAddressPort, fromHex('0106c000020117c4')), v);
  const v6 = { type: 'ipv6' as const, address: '2001:db8::1', port: 5060 };
  assert.equal(toHex(encode(IpAddressPort, v6)), hex('02 12', '20010db8000000000000000000000001', '13c4'));
});

test('node destination: type 1, length 16, raw Node-ID (§6.3.2.2)', () => {
  const bytes = hex('01', '10', NODE);
  assert.equal(toHex(encode(Destination, nodeDestination(fromHex(NODE)))), bytes);
  assert.deepEqual(decode(Destination, fromHex(bytes)), { type: 'node', id: fromHex(NODE) });
});

test('resource destination: type 2, length 17, then the ResourceId with its own length byte', () => {
  const bytes = hex('02', '11', '10', '6df379fb05075b13ada5f9d9ae9fbaa0');
  assert.equal(toHex(encode(Destination, resourceDestination(resourceId('alice@overlay.example.org')))), bytes);
  assert.deepEqual(decode(Destination, fromHex(bytes)), { type: 'resource', id: fromHex('6df379fb05075b13ada5f9d9ae9fbaa0') });
});

test('compact destination: a uint16 with the top bit set', () => {
  assert.equal(toHex(encode(Destination, { type: 'compact', id: 5 })), '8005');
  assert.deepEqual(decode(DestinationList, fromHex('8005' + '01' + '10' + NODE)), [{ type: 'compact', id: 5 }, { type: 'node', id: fromHex(NODE) }]);
});

// Security block with no certificate and a 4-byte signature, shared by the message vectors:
// certificates<0..2^16-1> = 0000; algorithm sha256(4)+rsa(1); SignerIdentity cert_hash(1),
// length 34 = hash_alg(1) + certificate_hash<0..2^8-1>(1 + 32); signature_value<0..2^16-1>.
const SECURITY_HEX = hex('0000', '04 01', '01 0022 04 20', 'ab'.repeat(32), '0004 deadbeef');
const security = {
  certificates: [],
  signature: { hashAlgorithm: 4, signatureAlgorithm: 1, identity: { type: 'cert_hash' as const, hashAlg: 4, hash: new Uint8Array(32).fill(0xab) }, value: fromHex('deadbeef') },
};

function header(length: number, destinations: string, destLength: number): string {
  return hex(
    'd2454c4f', // relo_token
    '9aa32b8d', // overlay = hash("overlay.example.org")
    '0001', // configuration_sequence
    '0a', // version 1.0
    '64', // ttl 100
    'c0000000', // fragment: high bit, last fragment, offset 0
    length.toString(16).padStart(8, '0'),
    '0102030405060708', // transaction_id
    '00000000', // max_response_length
    '0000', // via_list_length
    destLength.toString(16).padStart(4, '0'),
    '0000', // options_length
    destinations,
  );
}

function message(code: number, body: Uint8Array, destination: ReturnType<typeof nodeDestination>): Message {
  return {
    header: {
      overlay: 0x9aa32b8d, configurationSequence: 1, ttl: 100, fragment: FRAGMENT_UNFRAGMENTED, length: 0,
      transactionId: 0x0102030405060708n, maxResponseLength: 0, viaList: [], destinationList: [destination], options: [],
    },
    contents: { code, body, extensions: [] },
    security,
  };
}

test('Ping to a Node-ID: forwarding header, contents and security block byte for byte', () => {
  const contents = hex('0017', '00000002', '0000', '00000000'); // ping_req, body = padding<0..2^16-1> empty, no extensions
  const length = 38 + 18 + contents.length / 2 + SECURITY_HEX.length / 2;
  const expected = header(length, hex('01 10', NODE), 18) + contents + SECURITY_HEX;
  assert.equal(length, 38 + 18 + 12 + 47);
  const bytes = encodeMessage(message(MessageCode.ping_req, encodeBody('ping_req', { padding: new Uint8Array(0) }), nodeDestination(fromHex(NODE))));
  assert.equal(toHex(bytes), expected);
  const m = decodeMessage(fromHex(expected));
  assert.equal(m.header.length, length);
  assert.equal(m.contents.code, MessageCode.ping_req);
  assert.deepEqual(decodeBodyAs('ping_req', m.contents.body), { padding: new Uint8Array(0) });
  assert.deepEqual(m.security, security);
});

test('SipRegistration route value of RFC 7904 §3.2', () => {
  // type 2, length 0x27 = contact_prefs (2 + 17) + destination_list (2 + 18)
  const bytes = hex('02 0027', '0011', Buffer.from('(sip.schemes=SIP)').toString('hex'), '0012', '01 10', NODE);
  const value = { type: 'route' as const, contactPrefs: '(sip.schemes=SIP)', destinationList: [nodeDestination(fromHex(NODE))] };
  assert.equal(toHex(encode(SipRegistration, value)), bytes);
  assert.deepEqual(decode(SipRegistration, fromHex(bytes)), value);
  const uri = hex('01 0019', '0017', Buffer.from('bob@overlay.example.org').toString('hex'));
  assert.equal(toHex(encode(SipRegistration, { type: 'uri', uri: 'bob@overlay.example.org' })), uri);
});

test('Store of a SipRegistration to the AOR resource (§7.4.1, RFC 7904 §3)', () => {
  const reg = hex('02 0027', '0011', Buffer.from('(sip.schemes=SIP)').toString('hex'), '0012', '01 10', NODE);
  const signature = hex('04 01', '01 0022 04 20', 'ab'.repeat(32), '0004 deadbeef'); // 2 + 37 + 6 bytes
  const storedInner = hex(
    '0000018bcfe56800', // storage_time 1700000000000 ms
    '00000e10', // lifetime 3600 s
    '0010', NODE, // DictionaryKey<0..2^16-1> = Node-ID
    '01', '0000002a', reg, // DataValue: exists, value<0..2^32-1> of 42 bytes
    signature,
  );
  const stored = (storedInner.length / 2).toString(16).padStart(8, '0') + storedInner;
  const kindData = hex('00000001', '0000000000000000', (stored.length / 2).toString(16).padStart(8, '0'), stored);
  const body = hex('10 6df379fb05075b13ada5f9d9ae9fbaa0', '00', (kindData.length / 2).toString(16).padStart(8, '0'), kindData);
  const store = {
    resource: resourceId('alice@overlay.example.org'),
    replicaNumber: 0,
    kindData: [{
      kind: KindId.SIP_REGISTRATION,
      generation: 0n,
      values: [{
        storageTime: 1700000000000n, lifetime: 3600,
        value: { model: 'dictionary' as const, key: fromHex(NODE), value: { exists: true, value: fromHex(reg) } },
        signature: security.signature,
      }],
    }],
  };
  assert.equal(storedInner.length / 2, 8 + 4 + 18 + 5 + 42 + 45);
  assert.equal(toHex(encodeBody('store_req', store)), body);
  assert.deepEqual(decodeBodyAs('store_req', fromHex(body)), store);

  // The whole message, destination the Resource-ID (02 11 10 ...).
  const contents = hex('0007', (body.length / 2).toString(16).padStart(8, '0'), body, '00000000');
  const destination = hex('02 11 10 6df379fb05075b13ada5f9d9ae9fbaa0');
  const length = 38 + 19 + contents.length / 2 + SECURITY_HEX.length / 2;
  const expected = header(length, destination, 19) + contents + SECURITY_HEX;
  const encoded = encodeMessage(message(MessageCode.store_req, encodeBody('store_req', store), resourceDestination(store.resource)));
  assert.equal(toHex(encoded), expected);
});

test('Chord Update of type neighbors (§10.7.1)', () => {
  const bytes = hex('00000e10', '02', '0010', NODE, '0020', NODE2, NODE);
  const value = { uptime: 3600, type: 'neighbors' as const, predecessors: [fromHex(NODE)], successors: [fromHex(NODE2), fromHex(NODE)] };
  assert.equal(toHex(encode(ChordUpdate, value)), bytes);
  assert.deepEqual(decode(ChordUpdate, fromHex(bytes)), value);
  assert.equal(toHex(encode(ChordUpdate, { uptime: 1, type: 'peer_ready' })), '0000000101');
  const full = hex('00000001', '03', '0000', '0010', NODE2, '0010', NODE);
  assert.deepEqual(decode(ChordUpdate, fromHex(full)), { uptime: 1, type: 'full', predecessors: [], successors: [fromHex(NODE2)], fingers: [fromHex(NODE)] });
});

test('Error response: Error_Not_Found with text, code 0xffff (§6.3.3.1)', () => {
  const body = hex('0003', '0009', Buffer.from('not found').toString('hex'));
  const value = { errorCode: ErrorCode.Error_Not_Found, errorInfo: new TextEncoder().encode('not found') };
  assert.equal(toHex(encode(ErrorResponse, value)), body);
  const contents = hex('ffff', '0000000d', body, '00000000');
  const length = 38 + 18 + contents.length / 2 + SECURITY_HEX.length / 2;
  const expected = header(length, hex('01 10', NODE), 18) + contents + SECURITY_HEX;
  assert.equal(toHex(encodeMessage(message(MessageCode.error, encode(ErrorResponse, value), nodeDestination(fromHex(NODE))))), expected);
  assert.deepEqual(decodeBodyAs('error', decodeMessage(fromHex(expected)).contents.body), value);
});

test('GRUU of RFC 7904 §6: base64 of a destination list with ~ for =', () => {
  const gruu = 'alice@overlay.example.org;gr=ARDA59KhRHpE+i5Dls1sC9Ce';
  const { aor, destinations } = decodeGruu(gruu);
  assert.equal(aor, 'alice@overlay.example.org');
  assert.equal(destinations.length, 1);
  assert.equal(destinations[0].type, 'node');
  assert.equal(encodeGruu(aor, destinations), gruu);
  // A 5-byte list needs one padding character, written '~':
  const padded = encodeGruu('a@b', [{ type: 'opaque', id: new Uint8Array([1, 2]) }]);
  assert.equal(padded, 'a@b;gr=AwMCAQI~');
  assert.deepEqual(decodeGruu(padded).destinations, [{ type: 'opaque', id: new Uint8Array([1, 2]) }]);
});
