// Malformed RELOAD input: each case names the error class, the reason and the field path the
// decoder must report (RFC 6940 §6.3 for the message, §6.6.2 for framing). Inputs are valid
// samples mutated at offsets computed from the encoded lengths of the parts before them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type BodyName, type InvalidReason, type Message,
  ChordLeaveData, ChordUpdate, CodecError, Destination, FORWARDING_HEADER_FIXED_BYTES, FramedMessage, FrameReader, IceCandidateVector,
  InvalidEncoding, IpAddressPort, MessageContents, NeedMoreBytes, SecurityBlock, SignerIdentity, SipRegistration,
  decode, decodeBody, decodeBodyAs, decodeHeaderOf, decodeMessage, destinationListLength, encode, encodeBody, encodeMessage,
  forwardingHeaderLength, storedDataValueLength,
} from '../src/codec/index.ts';
import { BODIES, BODY_NAMES, SIP_ROUTE, messageFor } from './fixtures/samples.ts';

type ErrorClass = typeof NeedMoreBytes | typeof InvalidEncoding;

interface Expect {
  error: ErrorClass;
  reason?: InvalidReason;
  field: string | RegExp;
  /** NeedMoreBytes only: how many more bytes the decoder asks for. */
  missing?: number;
}

interface Case extends Expect {
  name: string;
  run: () => unknown;
}

function describeError(e: unknown): string {
  if (e instanceof InvalidEncoding) return `InvalidEncoding(${e.reason}) at ${e.field}`;
  if (e instanceof NeedMoreBytes) return `NeedMoreBytes(${e.missing}) at ${e.field}`;
  return String(e);
}

function expectError(run: () => unknown, want: Expect, label = ''): CodecError {
  let thrown: unknown;
  try {
    run();
  } catch (e) {
    thrown = e;
  }
  const got = describeError(thrown);
  assert.ok(thrown !== undefined, `${label}: decoded without error`);
  assert.ok(thrown instanceof want.error, `${label}: expected ${want.error.name}, got ${got}`);
  const e = thrown as CodecError;
  if (typeof want.field === 'string') assert.equal(e.field, want.field, `${label}: field (${got})`);
  else assert.match(e.field, want.field, `${label}: field (${got})`);
  if (e instanceof InvalidEncoding) assert.equal(e.reason, want.reason, `${label}: reason (${got})`);
  else assert.equal(want.reason, undefined, `${label}: NeedMoreBytes has no reason`);
  if (want.missing !== undefined) assert.equal((e as NeedMoreBytes).missing, want.missing, `${label}: missing (${got})`);
  return e;
}

// ---- byte surgery ----

function patch(bytes: Uint8Array, at: number, ...values: number[]): Uint8Array {
  const out = bytes.slice();
  out.set(values, at);
  return out;
}
function setU16(bytes: Uint8Array, at: number, v: number): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint16(at, v);
  return out;
}
function setU32(bytes: Uint8Array, at: number, v: number): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(at, v >>> 0);
  return out;
}
function getU16(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint16(at);
}
function getU32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(at);
}
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** Start offset of each named part laid out back to back from `base`. */
function layout(base: number, parts: ReadonlyArray<readonly [string, number]>): Record<string, number> {
  const at: Record<string, number> = {};
  let pos = base;
  for (const [name, width] of parts) { at[name] = pos; pos += width; }
  at.end = pos;
  return at;
}

const ascii = (s: string): number => 1 + s.length;
const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

// ---- the Store of a SIP registration, as a whole message ----

// §6.3.2: the 38-byte fixed part of the forwarding header.
const HEADER_FIELDS = [
  ['relo_token', 4], ['overlay', 4], ['configuration_sequence', 2], ['version', 1], ['ttl', 1], ['fragment', 4], ['length', 4],
  ['transaction_id', 8], ['max_response_length', 4], ['via_list_length', 2], ['destination_list_length', 2], ['options_length', 2],
] as const;
const HDR = layout(0, HEADER_FIELDS);
assert.equal(HDR.end, FORWARDING_HEADER_FIXED_BYTES);

const STORE_MSG: Message = messageFor('store_req');
const STORE = encodeMessage(STORE_MSG);
const HEADER_LEN = forwardingHeaderLength(STORE_MSG.header);
const VIA_LEN = destinationListLength(STORE_MSG.header.viaList);
const DEST_LEN = destinationListLength(STORE_MSG.header.destinationList);
const MSG = layout(0, [
  ['fixed', FORWARDING_HEADER_FIXED_BYTES], ['via_list', VIA_LEN], ['destination_list', DEST_LEN], ['options', HEADER_LEN - FORWARDING_HEADER_FIXED_BYTES - VIA_LEN - DEST_LEN],
  ['message_code', 2], ['message_body_length', 4], ['message_body', STORE_MSG.contents.body.length], ['extensions', 4],
  ['certificates', 2 + STORE_MSG.security.certificates.reduce((n, g) => n + 3 + g.certificate.length, 0)],
  ['algorithm', 2], ['identity', SignerIdentity.encodingLength(STORE_MSG.security.signature.identity)], ['signature_value', 2 + STORE_MSG.security.signature.value.length],
]);
assert.equal(MSG.end, STORE.length);
assert.equal(MSG.certificates, HEADER_LEN + MessageContents.encodingLength(STORE_MSG.contents));
assert.equal(STORE.length - MSG.certificates, SecurityBlock.encodingLength(STORE_MSG.security));
// SignerIdentity (§6.3.4): identity_type u8, length u16, then the value.
const IDENTITY_LENGTH_AT = MSG.identity + 1;
const IDENTITY_VALUE_LEN = SignerIdentity.encodingLength(STORE_MSG.security.signature.identity) - 3;

/** The sample Store message with an extension, for MessageExtension cases (§6.3.3). */
const WITH_EXTENSION: Message = {
  ...STORE_MSG,
  contents: { ...STORE_MSG.contents, extensions: [{ type: 1, critical: true, contents: Uint8Array.of(1, 2, 3) }] },
};
const STORE_EXT = encodeMessage(WITH_EXTENSION);
// extension: type u16, critical Boolean, contents<0..2^32-1>
const EXT0_AT = MSG.extensions + 4;

test('the unmodified sample decodes (sanity for every offset below)', () => {
  const m = decodeMessage(STORE);
  assert.equal(m.header.length, STORE.length);
  assert.deepEqual(decodeBodyAs('store_req', m.contents.body), BODIES.store_req);
  assert.deepEqual(decodeMessage(STORE_EXT).contents.extensions, WITH_EXTENSION.contents.extensions);
  assert.equal(decodeMessage(STORE, { maxMessageSize: STORE.length }).header.length, STORE.length, 'a message exactly at the limit is accepted');
});

// ---- truncation at every byte of the message ----

/** The field a decoder must name when the message is cut after `n` bytes. */
function truncatedMessageField(n: number): { field: string; missing?: number } {
  for (const [name] of HEADER_FIELDS) {
    const next = HEADER_FIELDS.findIndex(([f]) => f === name) + 1;
    const end = next < HEADER_FIELDS.length ? HDR[HEADER_FIELDS[next][0]] : HDR.end;
    if (n < end) return { field: `forwarding_header.${name}` };
  }
  // The lists are claimed whole by their lengths before any entry is read.
  if (n < MSG.destination_list) return { field: 'forwarding_header.via_list' };
  if (n < MSG.options) return { field: 'forwarding_header.destination_list' };
  // Once the header is in, the `length` check asks for exactly the rest of the message.
  return { field: 'forwarding_header.length', missing: STORE.length - n };
}

test(`truncation: every prefix 0..${STORE.length - 1} of the Store message is NeedMoreBytes naming the field cut`, () => {
  const seen = new Set<string>();
  for (let n = 0; n < STORE.length; n++) {
    const want = truncatedMessageField(n);
    seen.add(want.field);
    const e = expectError(() => decodeMessage(STORE.subarray(0, n)), { error: NeedMoreBytes, ...want }, `prefix ${n}`);
    assert.ok((e as NeedMoreBytes).missing >= 1 && (e as NeedMoreBytes).missing <= STORE.length - n, `prefix ${n}: missing ${(e as NeedMoreBytes).missing}`);
  }
  // Every fixed header field, both lists and the overall length were hit.
  assert.equal(seen.size, HEADER_FIELDS.length + 2);
  // decodeHeaderOf, used by stream readers, agrees once the header is in.
  expectError(() => decodeHeaderOf(STORE.subarray(0, HEADER_LEN)), { error: NeedMoreBytes, field: 'forwarding_header.length', missing: STORE.length - HEADER_LEN });
});

// ---- truncation inside each body ----

function chordUpdateFields(u: ChordUpdate): ReadonlyArray<readonly [string, number]> {
  const vec = (ids: readonly Uint8Array[]): number => 2 + ids.reduce((n, id) => n + id.length, 0);
  const head = [['uptime', 4], ['type', 1]] as const;
  if (u.type === 'peer_ready') return head;
  const lists = [...head, ['predecessors', vec(u.predecessors)], ['successors', vec(u.successors)]] as const;
  return u.type === 'full' ? [...lists, ['fingers', vec(u.fingers)]] : lists;
}

const REST = -1;
const b = BODIES;
/** Top-level fields of each body in wire order with their encoded widths; REST takes what is left. */
const TOP_LEVEL: { [K in BodyName]: ReadonlyArray<readonly [string, number]> } = {
  probe_req: [['requested_info', REST]],
  probe_ans: [['probe_info', REST]],
  attach_req: [['ufrag', ascii(b.attach_req.ufrag)], ['password', ascii(b.attach_req.password)], ['role', ascii(b.attach_req.role)],
    ['candidates', IceCandidateVector.encodingLength(b.attach_req.candidates)], ['send_update', 1]],
  attach_ans: [['ufrag', ascii(b.attach_ans.ufrag)], ['password', ascii(b.attach_ans.password)], ['role', ascii(b.attach_ans.role)],
    ['candidates', IceCandidateVector.encodingLength(b.attach_ans.candidates)], ['send_update', 1]],
  store_req: [['resource', 1 + b.store_req.resource.length], ['replica_number', 1], ['kind_data', REST]],
  store_ans: [['kind_responses', REST]],
  fetch_req: [['resource', 1 + b.fetch_req.resource.length], ['specifiers', REST]],
  fetch_ans: [['kind_responses', REST]],
  find_req: [['resource', 1 + b.find_req.resource.length], ['kinds', REST]],
  find_ans: [['results', REST]],
  join_req: [['joining_peer_id', b.join_req.joiningPeerId.length], ['overlay_specific_data', REST]],
  join_ans: [['overlay_specific_data', REST]],
  leave_req: [['leaving_peer_id', b.leave_req.leavingPeerId.length], ['overlay_specific_data', REST]],
  leave_ans: [],
  update_req: chordUpdateFields(b.update_req),
  update_ans: [],
  route_query_req: [['send_update', 1], ['destination.type', 1], ['destination.length', 1],
    ['destination.destination_data', Destination.encodingLength(b.route_query_req.destination) - 2], ['overlay_specific_data', REST]],
  route_query_ans: [['next_peer', REST]],
  ping_req: [['padding', REST]],
  ping_ans: [['response_id', 8], ['time', 8]],
  stat_req: [['resource', 1 + b.stat_req.resource.length], ['specifiers', REST]],
  stat_ans: [['kind_responses', REST]],
  app_attach_req: [['ufrag', ascii(b.app_attach_req.ufrag)], ['password', ascii(b.app_attach_req.password)], ['application', 2],
    ['role', ascii(b.app_attach_req.role)], ['candidates', REST]],
  app_attach_ans: [['ufrag', ascii(b.app_attach_ans.ufrag)], ['password', ascii(b.app_attach_ans.password)], ['application', 2],
    ['role', ascii(b.app_attach_ans.role)], ['candidates', REST]],
  // ConfigUpdateReq: type u8, then a u32 length claiming the rest (§6.5.4).
  config_update_req: [['type', 1], ['length', REST]],
  config_update_ans: [],
  error: [['error_code', 2], ['error_info', REST]],
};

const encodedBody = (name: BodyName): Uint8Array => encodeBody(name, BODIES[name] as never);

for (const name of BODY_NAMES) {
  const bytes = encodedBody(name);
  test(`truncation: every prefix of ${name} (${bytes.length} bytes) is NeedMoreBytes at its top-level field`, () => {
    const fields = TOP_LEVEL[name];
    const fixed = fields.reduce((n, [, w]) => n + (w === REST ? 0 : w), 0);
    const widths = fields.map(([f, w]) => [f, w === REST ? bytes.length - fixed : w] as const);
    const at = layout(0, widths);
    assert.equal(at.end, bytes.length, 'top-level widths add up to the body');
    for (let n = 0; n < bytes.length; n++) {
      const cut = widths.find(([f, w]) => n >= at[f] && n < at[f] + w);
      assert.ok(cut, `prefix ${n} inside no field`);
      // Every vector is claimed whole by its length before its elements are read, and at the
      // top of the input a short claim means more bytes may come: never a parse of a
      // shorter valid vector, never InvalidEncoding.
      const e = expectError(() => decodeBodyAs(name, bytes.subarray(0, n)), { error: NeedMoreBytes, field: `${name}.${cut[0]}` }, `${name} prefix ${n}`);
      assert.ok((e as NeedMoreBytes).missing <= bytes.length - n, `${name} prefix ${n}: asks for more than the body has`);
    }
  });
}

// ---- the table ----

const ATTACH = encodedBody('attach_req');
const ATTACH_CAND = layout(ascii(b.attach_req.ufrag) + ascii(b.attach_req.password) + ascii(b.attach_req.role) + 2, [
  ['addr_port', IpAddressPort.encodingLength(b.attach_req.candidates[0].addrPort)], ['overlay_link', 1],
  ['foundation', ascii(b.attach_req.candidates[0].foundation)], ['priority', 4], ['type', 1],
]);
const ATTACH_CAND1_AT = ATTACH_CAND.addr_port + encode(IceCandidateVector, [b.attach_req.candidates[0]]).length - 2;
assert.equal(b.attach_req.candidates[1].addrPort.type, 'ipv6');

const UPDATE = encodedBody('update_req');
const ROUTE_QUERY = encodedBody('route_query_req');
const PROBE_ANS = encodedBody('probe_ans');
const CONFIG_UPDATE = encodedBody('config_update_req');
const FETCH_REQ = encodedBody('fetch_req');
const ERROR = encodedBody('error');
const LEAVE_DATA = BODIES.leave_req.overlaySpecificData;

// StoreReq (§7.4.1): resource, replica_number, kind_data<u32>; StoreKindData: kind u32,
// generation_counter u64, values<u32>; StoredData (§7.2): length u32, storage_time u64,
// lifetime u32, value, signature.
const STORE_BODY = encodedBody('store_req');
const SD0 = b.store_req.kindData[0].values[0];
if (SD0.value.model !== 'dictionary' || !SD0.signature) throw new Error('sample StoredData is expected to be a signed dictionary entry');
const SD0_AT = layout(1 + b.store_req.resource.length + 1 + 4 + 4 + 8 + 4, [
  ['length', 4], ['storage_time', 8], ['lifetime', 4], ['key', 2 + SD0.value.key.length], ['exists', 1], ['value_length', 4], ['value', SD0.value.value.value.length],
  ['algorithm', 2], ['identity', SignerIdentity.encodingLength(SD0.signature.identity)], ['signature_value', 2 + SD0.signature.value.length],
]);
assert.equal(SD0_AT.key + storedDataValueLength(SD0.value), SD0_AT.algorithm);
const SD0_PATH = 'store_req.kind_data[0].values[0]';
const SD0_SIGNATURE_LEN = SD0.signature.value.length;

// SipRegistration (RFC 7904 §3.2): type u8, length u16, contact_prefs<u16>, destination_list<u16>.
const SIP = decode(SipRegistration, SIP_ROUTE);
if (SIP.type !== 'route') throw new Error('SIP_ROUTE is expected to be a route registration');
const SIP_AT = layout(0, [['type', 1], ['length', 2], ['contact_prefs', 2 + utf8Length(SIP.contactPrefs)], ['destination_list', 2], ['entry0', 2]]);

const FRAME_5001 = encode(FramedMessage, { type: 'data', sequence: 1, message: new Uint8Array(5001) });

const CASES: Case[] = [
  // Forwarding header fixed fields (§6.3.2).
  { name: 'relo_token off by one bit', run: () => decodeMessage(patch(STORE, HDR.relo_token + 3, STORE[HDR.relo_token + 3] ^ 1)), error: InvalidEncoding, reason: 'bad_value', field: 'forwarding_header.relo_token' },
  { name: 'relo_token "RELO" without the high bit', run: () => decodeMessage(setU32(STORE, HDR.relo_token, 0x52454c4f)), error: InvalidEncoding, reason: 'bad_value', field: 'forwarding_header.relo_token' },
  { name: 'relo_token wrong, only 4 bytes given', run: () => decodeMessage(Uint8Array.of(0, 0, 0, 0)), error: InvalidEncoding, reason: 'bad_value', field: 'forwarding_header.relo_token' },
  { name: 'version 0x01 (pre-RFC drafts)', run: () => decodeMessage(patch(STORE, HDR.version, 0x01)), error: InvalidEncoding, reason: 'bad_value', field: 'forwarding_header.version' },
  { name: 'version 0x0b', run: () => decodeMessage(patch(STORE, HDR.version, 0x0b)), error: InvalidEncoding, reason: 'bad_value', field: 'forwarding_header.version' },
  { name: 'fragment high bit clear (§6.7)', run: () => decodeMessage(setU32(STORE, HDR.fragment, 0x40000000)), error: InvalidEncoding, reason: 'bad_value', field: 'forwarding_header.fragment' },
  { name: 'fragment field all zero', run: () => decodeMessage(setU32(STORE, HDR.fragment, 0)), error: InvalidEncoding, reason: 'bad_value', field: 'forwarding_header.fragment' },
  { name: 'fragment high bit clear, header cut right after it', run: () => decodeMessage(setU32(STORE, HDR.fragment, 0x40000000).subarray(0, HDR.length)), error: InvalidEncoding, reason: 'bad_value', field: 'forwarding_header.fragment' },
  { name: 'a non-final fragment to decodeMessage', run: () => decodeMessage(setU32(STORE, HDR.fragment, 0x80000000)), error: InvalidEncoding, reason: 'bad_value', field: 'forwarding_header.fragment' },
  { name: 'a fragment with a non-zero offset to decodeMessage', run: () => decodeMessage(setU32(STORE, HDR.fragment, 0xc0000100)), error: InvalidEncoding, reason: 'bad_value', field: 'forwarding_header.fragment' },

  // The header's length against max-message-size (§11.1) and against the bytes given.
  { name: 'length 5001 > default max-message-size, whole message given', run: () => decodeMessage(setU32(STORE, HDR.length, 5001)), error: InvalidEncoding, reason: 'too_large', field: 'forwarding_header.length' },
  { name: 'length 5001 checked before the body: only 20 bytes given', run: () => decodeMessage(setU32(STORE, HDR.length, 5001).subarray(0, HDR.transaction_id)), error: InvalidEncoding, reason: 'too_large', field: 'forwarding_header.length' },
  { name: 'length 0xffffffff, only 20 bytes given', run: () => decodeMessage(setU32(STORE, HDR.length, 0xffffffff).subarray(0, HDR.transaction_id)), error: InvalidEncoding, reason: 'too_large', field: 'forwarding_header.length' },
  { name: `length ${STORE.length} > maxMessageSize 100`, run: () => decodeMessage(STORE, { maxMessageSize: 100 }), error: InvalidEncoding, reason: 'too_large', field: 'forwarding_header.length' },
  { name: 'length > maxMessageSize 100, only 20 bytes given', run: () => decodeMessage(STORE.subarray(0, HDR.transaction_id), { maxMessageSize: 100 }), error: InvalidEncoding, reason: 'too_large', field: 'forwarding_header.length' },
  { name: 'length > maxMessageSize 100 via decodeHeaderOf', run: () => decodeHeaderOf(STORE.subarray(0, HEADER_LEN), { maxMessageSize: 100 }), error: InvalidEncoding, reason: 'too_large', field: 'forwarding_header.length' },
  { name: 'length one more than the bytes given', run: () => decodeMessage(setU32(STORE, HDR.length, STORE.length + 1)), error: NeedMoreBytes, field: 'forwarding_header.length', missing: 1 },
  { name: 'length one less than the bytes given', run: () => decodeMessage(setU32(STORE, HDR.length, STORE.length - 1)), error: InvalidEncoding, reason: 'trailing_bytes', field: 'message' },
  { name: 'one byte appended to the message', run: () => decodeMessage(concat(STORE, Uint8Array.of(0))), error: InvalidEncoding, reason: 'trailing_bytes', field: 'message' },
  { name: 'length and bytes both one more: a byte after the security block', run: () => decodeMessage(setU32(concat(STORE, Uint8Array.of(0)), HDR.length, STORE.length + 1)), error: InvalidEncoding, reason: 'trailing_bytes', field: 'message' },
  { name: 'length 37, below the fixed header', run: () => decodeMessage(setU32(STORE, HDR.length, FORWARDING_HEADER_FIXED_BYTES - 1)), error: InvalidEncoding, reason: 'length_mismatch', field: 'forwarding_header.length' },
  { name: 'length cannot hold the header lists', run: () => decodeMessage(setU32(STORE, HDR.length, HEADER_LEN - 1)), error: InvalidEncoding, reason: 'length_mismatch', field: 'forwarding_header.length' },

  // Via and destination lists (§6.3.2.2).
  { name: 'destination entry length runs past destination_list_length', run: () => decodeMessage(patch(STORE, MSG.destination_list + 1, DEST_LEN - 2 + 1)), error: InvalidEncoding, reason: 'exceeds_parent', field: 'forwarding_header.destination_list[0].destination_data' },
  { name: 'via_list_length one more: a second entry cut by the list end', run: () => decodeMessage(setU16(STORE, HDR.via_list_length, VIA_LEN + 1)), error: InvalidEncoding, reason: 'exceeds_parent', field: 'forwarding_header.via_list[1].length' },
  { name: 'via_list_length one less: the entry runs past the list', run: () => decodeMessage(setU16(STORE, HDR.via_list_length, VIA_LEN - 1)), error: InvalidEncoding, reason: 'exceeds_parent', field: 'forwarding_header.via_list[0].destination_data' },
  { name: 'resource destination inner length byte disagrees', run: () => decodeMessage(patch(STORE, MSG.destination_list + 2, STORE[MSG.destination_list + 2] - 1)), error: InvalidEncoding, reason: 'length_mismatch', field: 'forwarding_header.destination_list[0].resource_id' },
  { name: 'resource destination of length 0', run: () => decode(Destination, Uint8Array.of(2, 0), 'destination'), error: InvalidEncoding, reason: 'length_mismatch', field: 'destination.resource_id' },
  { name: 'destination type 0', run: () => decodeMessage(patch(STORE, MSG.via_list, 0)), error: InvalidEncoding, reason: 'bad_value', field: 'forwarding_header.via_list[0].type' },
  { name: 'node destination of 15 bytes', run: () => decodeMessage(patch(STORE, MSG.via_list + 1, VIA_LEN - 3)), error: InvalidEncoding, reason: 'bad_value', field: 'forwarding_header.via_list[0].length' },
  { name: 'options_length claims the message code: option type 0', run: () => decodeMessage(setU16(STORE, HDR.options_length, 4)), error: InvalidEncoding, reason: 'bad_value', field: 'forwarding_header.options[0].type' },

  // MessageContents (§6.3.3).
  { name: 'message_body length runs past the message end', run: () => decodeMessage(setU32(STORE, MSG.message_body_length, STORE.length - MSG.message_body + 1)), error: InvalidEncoding, reason: 'exceeds_parent', field: 'message_contents.message_body' },
  { name: 'message_body length 0xffffffff', run: () => decodeMessage(setU32(STORE, MSG.message_body_length, 0xffffffff)), error: InvalidEncoding, reason: 'exceeds_parent', field: 'message_contents.message_body' },
  { name: 'message_code 0 (invalidMessageCode)', run: () => decodeMessage(setU16(STORE, MSG.message_code, 0)), error: InvalidEncoding, reason: 'bad_value', field: 'message_contents.message_code' },
  { name: 'extensions length runs past the message end', run: () => decodeMessage(setU32(STORE, MSG.extensions, STORE.length - MSG.extensions)), error: InvalidEncoding, reason: 'exceeds_parent', field: 'message_contents.extensions' },
  { name: 'extension critical = 2 (Boolean)', run: () => decodeMessage(patch(STORE_EXT, EXT0_AT + 2, 2)), error: InvalidEncoding, reason: 'bad_value', field: 'message_contents.extensions[0].critical' },
  { name: 'extension type 0', run: () => decodeMessage(setU16(STORE_EXT, EXT0_AT, 0)), error: InvalidEncoding, reason: 'bad_value', field: 'message_contents.extensions[0].type' },
  { name: 'extension contents run past the extensions vector', run: () => decodeMessage(setU32(STORE_EXT, EXT0_AT + 3, 4)), error: InvalidEncoding, reason: 'exceeds_parent', field: 'message_contents.extensions[0].extension_contents' },

  // SecurityBlock (§6.3.4).
  { name: 'certificates length runs past the message end', run: () => decodeMessage(setU16(STORE, MSG.certificates, 0xffff)), error: InvalidEncoding, reason: 'exceeds_parent', field: 'security_block.certificates' },
  { name: 'SignerIdentity length bigger than its contents', run: () => decodeMessage(setU16(STORE, IDENTITY_LENGTH_AT, IDENTITY_VALUE_LEN + 1)), error: InvalidEncoding, reason: 'length_mismatch', field: 'security_block.signature.identity.identity' },
  { name: 'SignerIdentity length smaller than its contents', run: () => decodeMessage(setU16(STORE, IDENTITY_LENGTH_AT, IDENTITY_VALUE_LEN - 1)), error: InvalidEncoding, reason: 'exceeds_parent', field: 'security_block.signature.identity.certificate_hash' },
  { name: 'SignerIdentity type 0', run: () => decodeMessage(patch(STORE, MSG.identity, 0)), error: InvalidEncoding, reason: 'bad_value', field: 'security_block.signature.identity.identity_type' },
  { name: 'signature_value runs past the message end', run: () => decodeMessage(setU16(STORE, MSG.signature_value, getU16(STORE, MSG.signature_value) + 1)), error: InvalidEncoding, reason: 'exceeds_parent', field: 'security_block.signature.signature_value' },

  // StoredData inside a StoreReq (§7.2, §7.4.1).
  { name: 'StoredData signature_value runs past the StoredData length', run: () => decodeBodyAs('store_req', setU16(STORE_BODY, SD0_AT.signature_value, SD0_SIGNATURE_LEN + 1)), error: InvalidEncoding, reason: 'exceeds_parent', field: `${SD0_PATH}.signature.signature_value` },
  { name: 'StoredData dictionary key runs past the StoredData length', run: () => decodeBodyAs('store_req', setU16(STORE_BODY, SD0_AT.key, 0xffff)), error: InvalidEncoding, reason: 'exceeds_parent', field: `${SD0_PATH}.value.key` },
  { name: 'StoredData DataValue runs past the StoredData length', run: () => decodeBodyAs('store_req', setU32(STORE_BODY, SD0_AT.value_length, SD0_AT.end - SD0_AT.value + 1)), error: InvalidEncoding, reason: 'exceeds_parent', field: `${SD0_PATH}.value.value.value` },
  { name: 'StoredData length one more than its contents', run: () => decodeBodyAs('store_req', setU32(STORE_BODY, SD0_AT.length, getU32(STORE_BODY, SD0_AT.length) + 1)), error: InvalidEncoding, reason: 'length_mismatch', field: `${SD0_PATH}.stored_data` },
  { name: 'StoredData length runs past the values vector', run: () => decodeBodyAs('store_req', setU32(STORE_BODY, SD0_AT.length, 0x7fffffff)), error: InvalidEncoding, reason: 'exceeds_parent', field: `${SD0_PATH}.stored_data` },
  { name: 'DataValue exists = 2 (Boolean)', run: () => decodeBodyAs('store_req', patch(STORE_BODY, SD0_AT.exists, 2)), error: InvalidEncoding, reason: 'bad_value', field: `${SD0_PATH}.value.value.exists` },
  { name: 'StoredData signer identity type 0', run: () => decodeBodyAs('store_req', patch(STORE_BODY, SD0_AT.identity, 0)), error: InvalidEncoding, reason: 'bad_value', field: `${SD0_PATH}.signature.identity.identity_type` },

  // SipRegistration (RFC 7904 §3.2), the SIP-REGISTRATION value.
  { name: 'SipRegistration destination_list runs past its u16 length', run: () => decode(SipRegistration, setU16(SIP_ROUTE, SIP_AT.destination_list, getU16(SIP_ROUTE, SIP_AT.destination_list) + 1), 'sip_registration'), error: InvalidEncoding, reason: 'exceeds_parent', field: 'sip_registration.destination_list' },
  { name: 'SipRegistration destination entry runs past destination_list', run: () => decode(SipRegistration, patch(SIP_ROUTE, SIP_AT.entry0 + 1, SIP_ROUTE[SIP_AT.entry0 + 1] + 1), 'sip_registration'), error: InvalidEncoding, reason: 'exceeds_parent', field: 'sip_registration.destination_list[0].destination_data' },
  { name: 'SipRegistration length one more than its data', run: () => decode(SipRegistration, setU16(concat(SIP_ROUTE, Uint8Array.of(0)), SIP_AT.length, getU16(SIP_ROUTE, SIP_AT.length) + 1), 'sip_registration'), error: InvalidEncoding, reason: 'length_mismatch', field: 'sip_registration.data' },
  { name: 'SipRegistration length past the bytes given', run: () => decode(SipRegistration, setU16(SIP_ROUTE, SIP_AT.length, getU16(SIP_ROUTE, SIP_AT.length) + 1), 'sip_registration'), error: NeedMoreBytes, field: 'sip_registration.data', missing: 1 },
  { name: 'SipRegistration contact_prefs not UTF-8', run: () => decode(SipRegistration, patch(SIP_ROUTE, SIP_AT.contact_prefs + 2, 0xff), 'sip_registration'), error: InvalidEncoding, reason: 'bad_value', field: 'sip_registration.contact_prefs' },
  { name: 'SipRegistration type 0', run: () => decode(SipRegistration, patch(SIP_ROUTE, SIP_AT.type, 0), 'sip_registration'), error: InvalidEncoding, reason: 'bad_value', field: 'sip_registration.type' },

  // Other length disagreements.
  { name: 'ConfigUpdateReq length one more than its contents', run: () => decodeBodyAs('config_update_req', setU32(concat(CONFIG_UPDATE, Uint8Array.of(0)), 1, CONFIG_UPDATE.length - 5 + 1)), error: InvalidEncoding, reason: 'length_mismatch', field: 'config_update_req.length' },
  { name: 'StoredDataSpecifier length runs past the specifiers vector', run: () => decodeBodyAs('fetch_req', setU16(FETCH_REQ, FETCH_REQ.length - 2, 2)), error: InvalidEncoding, reason: 'exceeds_parent', field: 'fetch_req.specifiers[2].model_specifier' },
  { name: 'ProbeInformation uptime with length 3', run: () => decodeBodyAs('probe_ans', patch(PROBE_ANS, 2 + 1, 3)), error: InvalidEncoding, reason: 'bad_value', field: 'probe_ans.probe_info[0].length' },

  // Bytes after a complete body.
  ...BODY_NAMES.map((name): Case => ({
    name: `a byte after a complete ${name}`, run: () => decodeBodyAs(name, concat(encodedBody(name), Uint8Array.of(0))), error: InvalidEncoding, reason: 'trailing_bytes', field: name,
  })),

  // Unknown select types and enum values.
  { name: 'message code 0x0005 (unassigned) to decodeBody', run: () => decodeBody(0x0005, new Uint8Array(0)), error: InvalidEncoding, reason: 'unknown_type', field: 'message_code' },
  { name: 'message code 0x8000 (reserved) to decodeBody', run: () => decodeBody(0x8000, new Uint8Array(0)), error: InvalidEncoding, reason: 'unknown_type', field: 'message_code' },
  { name: 'message code exp_a_req (no body structure) to decodeBody', run: () => decodeBody(0x23, new Uint8Array(0)), error: InvalidEncoding, reason: 'unknown_type', field: 'message_code' },
  { name: 'CandType 3 (reserved, was prflx)', run: () => decodeBodyAs('attach_req', patch(ATTACH, ATTACH_CAND.type, 3)), error: InvalidEncoding, reason: 'unknown_type', field: 'attach_req.candidates[0].type' },
  { name: 'CandType 0', run: () => decodeBodyAs('attach_req', patch(ATTACH, ATTACH_CAND.type, 0)), error: InvalidEncoding, reason: 'unknown_type', field: 'attach_req.candidates[0].type' },
  { name: 'OverlayLinkType 0', run: () => decodeBodyAs('attach_req', patch(ATTACH, ATTACH_CAND.overlay_link, 0)), error: InvalidEncoding, reason: 'bad_value', field: 'attach_req.candidates[0].overlay_link' },
  { name: 'ChordUpdate type 4', run: () => decodeBodyAs('update_req', patch(UPDATE, 4, 4)), error: InvalidEncoding, reason: 'unknown_type', field: 'update_req.type' },
  { name: 'ChordUpdate type 0', run: () => decode(ChordUpdate, patch(UPDATE, 4, 0), 'update'), error: InvalidEncoding, reason: 'unknown_type', field: 'update.type' },
  { name: 'ChordLeaveData type 3', run: () => decode(ChordLeaveData, patch(LEAVE_DATA, 0, 3), 'overlay_specific_data'), error: InvalidEncoding, reason: 'unknown_type', field: 'overlay_specific_data.type' },
  { name: 'FramedMessageType 0x82 via FrameReader', run: () => new FrameReader().push(patch(encode(FramedMessage, { type: 'ack', ackSequence: 1, received: 0 }), 0, 0x82)), error: InvalidEncoding, reason: 'unknown_type', field: 'framed_message.type' },
  { name: 'FramedMessageType 0x82 via the codec', run: () => decode(FramedMessage, patch(encode(FramedMessage, { type: 'ack', ackSequence: 1, received: 0 }), 0, 0x82), 'framed_message'), error: InvalidEncoding, reason: 'unknown_type', field: 'framed_message.type' },
  { name: 'Attach send_update = 2 (Boolean)', run: () => decodeBodyAs('attach_req', patch(ATTACH, ATTACH.length - 1, 2)), error: InvalidEncoding, reason: 'bad_value', field: 'attach_req.send_update' },
  { name: 'RouteQuery send_update = 2 (Boolean)', run: () => decodeBodyAs('route_query_req', patch(ROUTE_QUERY, 0, 2)), error: InvalidEncoding, reason: 'bad_value', field: 'route_query_req.send_update' },
  { name: 'RouteQuery destination type 0', run: () => decodeBodyAs('route_query_req', patch(ROUTE_QUERY, 1, 0)), error: InvalidEncoding, reason: 'bad_value', field: 'route_query_req.destination.type' },
  { name: 'IpAddressPort type 1 with length 7', run: () => decodeBodyAs('attach_req', patch(ATTACH, ATTACH_CAND.addr_port + 1, 7)), error: InvalidEncoding, reason: 'bad_value', field: 'attach_req.candidates[0].addr_port.length' },
  { name: 'IpAddressPort type 2 with length 6', run: () => decodeBodyAs('attach_req', patch(ATTACH, ATTACH_CAND1_AT + 1, 6)), error: InvalidEncoding, reason: 'bad_value', field: 'attach_req.candidates[1].addr_port.length' },
  { name: 'IpAddressPort type 0', run: () => decodeBodyAs('attach_req', patch(ATTACH, ATTACH_CAND.addr_port, 0)), error: InvalidEncoding, reason: 'bad_value', field: 'attach_req.candidates[0].addr_port.type' },
  { name: 'ErrorResponse error_code 0', run: () => decodeBodyAs('error', setU16(ERROR, 0, 0)), error: InvalidEncoding, reason: 'bad_value', field: 'error.error_code' },

  // Framing (§6.6.2).
  { name: 'data frame length > max-message-size, header alone', run: () => new FrameReader().push(FRAME_5001.subarray(0, 8)), error: InvalidEncoding, reason: 'too_large', field: 'framed_message.message' },
  { name: 'data frame length > maxMessageSize 100', run: () => new FrameReader({ maxMessageSize: 100 }).push(encode(FramedMessage, { type: 'data', sequence: 1, message: new Uint8Array(101) })), error: InvalidEncoding, reason: 'too_large', field: 'framed_message.message' },
  { name: 'data frame cut short, via the codec', run: () => decode(FramedMessage, FRAME_5001.subarray(0, 100), 'framed_message'), error: NeedMoreBytes, field: 'framed_message.message', missing: 5001 - 92 },
];

test(`malformed table: ${CASES.length} cases`, async (t) => {
  const names = new Set<string>();
  for (const c of CASES) {
    assert.ok(!names.has(c.name), `duplicate case name ${c.name}`);
    names.add(c.name);
    await t.test(c.name, () => { expectError(c.run, c, c.name); });
  }
});

test('FrameReader: an oversized data frame fails on its 8th header byte, before any body byte, and the reader stays failed', () => {
  for (const init of [{}, { maxMessageSize: 100 }]) {
    const limit = init.maxMessageSize ?? 5000;
    const frame = encode(FramedMessage, { type: 'data', sequence: 7, message: new Uint8Array(limit + 1) });
    const reader = new FrameReader(init);
    for (let i = 0; i < 7; i++) assert.deepEqual(reader.push(frame.subarray(i, i + 1)), [], `header byte ${i}`);
    const first = expectError(() => reader.push(frame.subarray(7, 8)), { error: InvalidEncoding, reason: 'too_large', field: 'framed_message.message' });
    assert.ok(reader.buffered <= 8, 'no body byte was buffered');
    // After losing the framing nothing more is accepted, not even a valid frame (§6.6.2).
    const ack = encode(FramedMessage, { type: 'ack', ackSequence: 1, received: 0 });
    assert.throws(() => reader.push(ack), (e) => e === first);
    assert.throws(() => reader.push(frame.subarray(8, 9)), (e) => e === first);
  }
  // The same header in one piece, followed by nothing.
  const reader = new FrameReader();
  const first = expectError(() => reader.push(FRAME_5001.subarray(0, 8)), { error: InvalidEncoding, reason: 'too_large', field: 'framed_message.message' });
  assert.throws(() => reader.push(FRAME_5001.subarray(8)), (e) => e === first);
  // A frame exactly at the limit passes.
  const atLimit = encode(FramedMessage, { type: 'data', sequence: 2, message: new Uint8Array(5000) });
  assert.equal(new FrameReader().push(atLimit).length, 1);
});

test('FrameReader: an unknown frame type refuses further input', () => {
  const reader = new FrameReader();
  const first = expectError(() => reader.push(Uint8Array.of(0x82)), { error: InvalidEncoding, reason: 'unknown_type', field: 'framed_message.type' });
  assert.throws(() => reader.push(encode(FramedMessage, { type: 'ack', ackSequence: 1, received: 0 })), (e) => e === first);
});
