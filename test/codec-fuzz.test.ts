// Property tests of the RELOAD codec (RFC 6940 §6.3, §6.6.2, §7.2, §10.7; RFC 7904 §3.2):
// hostile bytes only ever raise the codec's own errors, a failed decode leaves nothing behind
// that spoils the next one, every structure round-trips, and scanning junk is linear.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  type BodyName, type ChordUpdate as ChordUpdateValue, type Codec, type DataModel, type Destination as DestinationValue,
  type ForwardingHeader, type ForwardingOption as ForwardingOptionValue, type IceCandidate as IceCandidateValue,
  type IpAddressPort as IpAddressPortValue, type Message, type SecurityBlock as SecurityBlockValue, type SignerIdentity as SignerIdentityValue,
  type SipRegistration as SipRegistrationValue, type StoredData as StoredDataValue,
  ChordUpdate, CodecError, Cursor, DestinationList, FORWARDING_HEADER_FIXED_BYTES, FRAGMENT_UNFRAGMENTED, FramedMessage, FrameReader,
  IceCandidate, IpAddressPort, MessageCode, MessageCodec, MessageContents, SecurityBlock, SignerIdentity, SipRegistration,
  bodyCodecs, decode, decodeBody, decodeBodyAs, decodeForwardingHeader, decodeHeaderOf, decodeMessage, encode, encodeForwardingHeader,
  encodeMessage, forwardingHeaderLength, formatIpv4, formatIpv6, storedData,
} from '../src/codec/index.ts';
import { BODY_NAMES, messageFor } from './fixtures/samples.ts';

// ---- helpers ----

/** Runs `run`; a CodecError is returned, anything else fails the property. */
function typed(run: () => unknown, label: string): CodecError | undefined {
  try {
    run();
    return undefined;
  } catch (e) {
    if (e instanceof CodecError) return e;
    throw new Error(`${label}: untyped ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** Cuts `bytes` into chunks of the given sizes, cycling through them. */
function chunked(bytes: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = sizes.length === 0 ? bytes.length : sizes[i % sizes.length];
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** Pushes `chunks` through a fresh reader; returns the frames or the typed error. */
function readFrames(chunks: readonly Uint8Array[], label: string): { frames: FramedMessage[]; error?: CodecError } {
  const reader = new FrameReader();
  const frames: FramedMessage[] = [];
  for (const chunk of chunks) {
    let got: FramedMessage[] = [];
    const error = typed(() => { got = reader.push(chunk); }, label);
    if (error) {
      // After losing the framing the reader refuses everything, with the same error (§6.6.2).
      assert.throws(() => reader.push(Uint8Array.of(0x81)), (e) => e === error, `${label}: reader accepted input after failing`);
      return { frames, error };
    }
    frames.push(...got);
  }
  return { frames };
}

/** fc.record without null-prototype objects: decoders build plain objects, and deepEqual compares prototypes. */
const record = ((model: never, constraints?: object) => fc.record(model, { ...constraints, noNullPrototype: true })) as typeof fc.record;

const ALL_CODES = [...new Set<number>([...Object.values(MessageCode), 0x0000, 0x0005, 0x000b, 0x001b, 0x8000, 0xfffe])];

const framed = (message: Uint8Array, sequence = 1): Uint8Array => encode(FramedMessage, { type: 'data', sequence, message });

// ---- the samples, decoded once as the reference ----

interface Sample {
  name: BodyName;
  message: Message;
  bytes: Uint8Array;
  decoded: ReturnType<typeof decodeMessage>;
  body: Uint8Array;
  decodedBody: ReturnType<typeof decodeBody>;
  /** Absolute offsets and widths of length-like fields in `bytes`. */
  lengths: LengthField[];
  /** Offsets and widths of length-like fields in `body`. */
  bodyLengths: LengthField[];
}

interface LengthField { at: number; width: number; field: string }

/** A cursor that logs every claim a decoder makes, to find the length fields of a sample. */
class RecordingCursor extends Cursor {
  readonly log: Array<{ at: number; n: number; field: string }> = [];
  override take(n: number, field: string): number {
    this.log.push({ at: this.pos, n, field: this.fieldPath(field) });
    return super.take(n, field);
  }
}

/**
 * Length fields are the integer claims named `*length`, and those immediately followed by a
 * claim of the same field whose size equals their value (opaque<..> and vector prefixes).
 */
function lengthFields(c: RecordingCursor): LengthField[] {
  const out: LengthField[] = [];
  const { log, bytes } = c;
  for (let i = 0; i < log.length; i++) {
    const t = log[i];
    if (t.n < 1 || t.n > 4) continue;
    let value = 0;
    for (let k = 0; k < t.n; k++) value = value * 256 + bytes[t.at + k];
    const next = log[i + 1];
    const prefix = next !== undefined && next.field === t.field && next.at === t.at + t.n && next.n === value;
    if (prefix || /length$/.test(t.field)) out.push({ at: t.at, width: t.n, field: t.field });
  }
  return out;
}

function makeSample(name: BodyName): Sample {
  const message = messageFor(name);
  const bytes = encodeMessage(message);
  const decoded = decodeMessage(bytes);
  const body = decoded.contents.body;
  // The steps of decodeMessage, on a recording cursor.
  const c = new RecordingCursor(bytes);
  decodeForwardingHeader(c);
  c.nested++;
  c.path.push('message_contents');
  MessageContents.decode(c);
  c.path.pop();
  c.path.push('security_block');
  SecurityBlock.decode(c);
  c.path.pop();
  assert.equal(c.pos, bytes.length);
  const bodyAt = body.byteOffset - bytes.byteOffset;
  const bc = new RecordingCursor(bytes, bodyAt, bodyAt + body.length);
  bodyCodecs()[name].decode(bc);
  const bodyLengths = lengthFields(bc).map((f) => ({ ...f, at: f.at - bodyAt }));
  return {
    name, message, bytes, decoded, body, decodedBody: decodeBody(message.contents.code, body),
    lengths: [...lengthFields(c), ...lengthFields(bc)], bodyLengths,
  };
}

const SAMPLES = BODY_NAMES.map(makeSample);

test('sample length fields were found in header, contents, security block and body', () => {
  const store = SAMPLES.find((s) => s.name === 'store_req');
  assert.ok(store);
  const fields = new Set(store.lengths.map((f) => f.field));
  for (const f of ['forwarding_header.length', 'forwarding_header.via_list_length', 'message_contents.message_body', 'message_contents.extensions',
    'security_block.certificates', 'security_block.signature.identity.length', 'security_block.signature.signature_value',
    'kind_data', 'kind_data[0].values', 'kind_data[0].values[0].length', 'kind_data[0].values[0].value.key']) {
    assert.ok(fields.has(f), `${f} in ${[...fields].join(', ')}`);
  }
});

/** The valid samples still decode exactly as before: no state survives a failed decode. */
function samplesStillDecode(s: Sample): void {
  assert.deepEqual(decodeMessage(s.bytes), s.decoded, `${s.name}: decodeMessage after a failure`);
  assert.deepEqual(decodeBody(s.message.contents.code, s.body), s.decodedBody, `${s.name}: decodeBody after a failure`);
  const { frames, error } = readFrames([framed(s.bytes)], 'valid frame');
  assert.equal(error, undefined);
  assert.equal(frames.length, 1);
  const f = frames[0];
  assert.ok(f.type === 'data');
  assert.deepEqual(decodeMessage(f.message), s.decoded, `${s.name}: FrameReader after a failure`);
}

/** Every decoder over `bytes`: only typed errors; after each failure the samples still decode. */
function hammer(bytes: Uint8Array, sizes: readonly number[], check: Sample): void {
  let failed = false;
  const m = typed(() => decodeMessage(bytes), 'decodeMessage');
  failed ||= m !== undefined;
  if (m === undefined) {
    const { contents } = decodeMessage(bytes);
    failed ||= typed(() => decodeBody(contents.code, contents.body), 'decodeBody of a decoded message') !== undefined;
  }
  failed ||= typed(() => decodeHeaderOf(bytes), 'decodeHeaderOf') !== undefined;
  for (const code of ALL_CODES) failed ||= typed(() => decodeBody(code, bytes), `decodeBody(0x${code.toString(16)})`) !== undefined;
  const { frames, error } = readFrames(chunked(concat(bytes, framed(bytes)), sizes), 'FrameReader');
  failed ||= error !== undefined;
  for (const f of frames) {
    if (f.type === 'data') failed ||= typed(() => decodeMessage(f.message), 'decodeMessage of a frame') !== undefined;
  }
  if (failed) samplesStillDecode(check);
}

const sampleIndex = fc.nat({ max: SAMPLES.length - 1 });
const chunkSizes = fc.array(fc.integer({ min: 1, max: 97 }), { maxLength: 8 });

// ---- hostile input ----

test('random bytes: only NeedMoreBytes / InvalidEncoding or success, from every decoder', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), chunkSizes, sampleIndex, (bytes, sizes, i) => {
    hammer(bytes, sizes, SAMPLES[i]);
  }), { numRuns: 3000 });
});

test('random bytes behind a valid header prefix of a sample, with the length fixed up or not', () => {
  fc.assert(fc.property(
    sampleIndex, fc.boolean(), fc.boolean(), fc.uint8Array({ maxLength: 600 }), chunkSizes,
    (i, wholeHeader, fixLength, tail, sizes) => {
      const s = SAMPLES[i];
      // Either the 38 fixed bytes or the whole header with its lists (§6.3.2).
      const head = s.bytes.subarray(0, wholeHeader ? forwardingHeaderLength(s.message.header) : FORWARDING_HEADER_FIXED_BYTES);
      const bytes = concat(head, tail);
      if (fixLength) new DataView(bytes.buffer).setUint32(16, bytes.length);
      hammer(bytes, sizes, s);
    },
  ), { numRuns: 3000 });
});

type Mutation =
  | { kind: 'flip'; pos: number; bit: number }
  | { kind: 'insert'; pos: number; byte: number }
  | { kind: 'delete'; pos: number }
  | { kind: 'overwrite'; pos: number; byte: number }
  | { kind: 'length'; field: number; mode: number; raw: number; delta: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  record({ kind: fc.constant('flip' as const), pos: fc.nat(), bit: fc.nat({ max: 7 }) }),
  record({ kind: fc.constant('insert' as const), pos: fc.nat(), byte: fc.nat({ max: 255 }) }),
  record({ kind: fc.constant('delete' as const), pos: fc.nat() }),
  record({ kind: fc.constant('overwrite' as const), pos: fc.nat(), byte: fc.nat({ max: 255 }) }),
  record({ kind: fc.constant('length' as const), field: fc.nat(), mode: fc.nat({ max: 3 }), raw: fc.nat(), delta: fc.integer({ min: -4, max: 4 }) }),
);

/** Applies the mutations to a copy; `lengths` locate the length fields of the original. */
function mutate(original: Uint8Array, lengths: readonly LengthField[], mutations: readonly Mutation[]): Uint8Array {
  let b: Uint8Array = original.slice();
  for (const m of mutations) {
    const pos = b.length === 0 ? 0 : ('pos' in m ? m.pos % b.length : 0);
    switch (m.kind) {
      case 'flip': if (b.length) b[pos] ^= 1 << m.bit; break;
      case 'overwrite': if (b.length) b[pos] = m.byte; break;
      case 'insert': b = concat(b.subarray(0, pos), Uint8Array.of(m.byte), b.subarray(pos)); break;
      case 'delete': if (b.length) b = concat(b.subarray(0, pos), b.subarray(pos + 1)); break;
      case 'length': {
        if (lengths.length === 0) break;
        const f = lengths[m.field % lengths.length];
        if (f.at + f.width > b.length) break;
        const max = 2 ** (8 * f.width) - 1;
        let old = 0;
        for (let k = 0; k < f.width; k++) old = old * 256 + b[f.at + k];
        // Off by a little is the interesting case; also zero, the maximum and anything.
        const value = m.mode === 0 ? Math.min(max, Math.max(0, old + m.delta)) : m.mode === 1 ? 0 : m.mode === 2 ? max : m.raw % (max + 1);
        for (let k = f.width - 1, v = value; k >= 0; k--, v = Math.floor(v / 256)) b[f.at + k] = v % 256;
        break;
      }
    }
  }
  return b;
}

test('mutated sample messages: only typed errors, and right after each failure the samples decode unchanged', () => {
  fc.assert(fc.property(
    sampleIndex, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), chunkSizes,
    (i, mutations, fixLength, sizes) => {
      const s = SAMPLES[i];
      const bytes = mutate(s.bytes, s.lengths, mutations);
      // Keeping the header's length consistent lets insertions and deletions reach the body.
      if (fixLength && bytes.length >= 20) new DataView(bytes.buffer).setUint32(16, bytes.length);
      hammer(bytes, sizes, s);
    },
  ), { numRuns: 12000 });
});

test('mutated sample bodies: decodeBodyAs raises only typed errors, and the samples decode right after', () => {
  fc.assert(fc.property(sampleIndex, fc.array(mutation, { minLength: 1, maxLength: 4 }), (i, mutations) => {
    const s = SAMPLES[i];
    const bytes = mutate(s.body, s.bodyLengths, mutations);
    let failed = false;
    for (const name of BODY_NAMES) failed ||= typed(() => decodeBodyAs(name, bytes), `decodeBodyAs(${name})`) !== undefined;
    if (failed) {
      assert.deepEqual(decodeBodyAs(s.name, s.body), s.decodedBody.body);
      samplesStillDecode(s);
    }
  }), { numRuns: 12000 });
});

test('FrameReader: any chunking of a valid frame stream gives the frames of a single push', () => {
  const frames: FramedMessage[] = [
    ...SAMPLES.slice(0, 8).map((s, i): FramedMessage => ({ type: 'data', sequence: i, message: s.bytes })),
    { type: 'ack', ackSequence: 3, received: 0b1011 },
    { type: 'data', sequence: 99, message: new Uint8Array(0) },
  ];
  const stream = concat(...frames.map((f) => encode(FramedMessage, f)));
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 12 }), (sizes) => {
    const got = readFrames(chunked(stream, sizes), 'valid stream');
    assert.equal(got.error, undefined);
    assert.deepEqual(got.frames, frames);
  }), { numRuns: 1000 });
});

// ---- round trips ----

const u8 = fc.nat({ max: 0xff });
const u16 = fc.nat({ max: 0xffff });
const u32 = fc.nat({ max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const bytes = (maxLength: number, minLength = 0): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength, maxLength });
const nodeId = bytes(16, 16);
/** Latin-1 text: the ICE strings are ASCII on the wire and read back byte for byte. */
const latin1 = (maxLength: number): fc.Arbitrary<string> => fc.array(u8, { maxLength }).map((cs) => String.fromCharCode(...cs));

function roundTrip<T>(codec: Codec<T>, value: T): Uint8Array {
  const encoded = encode(codec, value);
  assert.equal(codec.encodingLength(value), encoded.length);
  assert.deepEqual(decode(codec, encoded), value);
  return encoded;
}

const destination: fc.Arbitrary<DestinationValue> = fc.oneof(
  nodeId.map((id) => ({ type: 'node' as const, id })),
  bytes(254).map((id) => ({ type: 'resource' as const, id })),
  bytes(40).map((id) => ({ type: 'opaque' as const, id })),
  fc.nat({ max: 0x7fff }).map((id) => ({ type: 'compact' as const, id })),
  // First bit 0 and not 1..3: a TLV type the structure may be extended with (§6.3.2.2).
  record({ type: fc.constant('unknown' as const), code: fc.integer({ min: 4, max: 0x7f }), data: bytes(255) }),
);

const forwardingOption: fc.Arbitrary<ForwardingOptionValue> = record({ type: fc.integer({ min: 1, max: 255 }), flags: u8, value: bytes(64) });

const header = (fragment: fc.Arbitrary<number>): fc.Arbitrary<ForwardingHeader> => record({
  overlay: u32, configurationSequence: u16, ttl: u8, fragment, length: fc.constant(0), transactionId: u64, maxResponseLength: u32,
  viaList: fc.array(destination, { maxLength: 6 }), destinationList: fc.array(destination, { maxLength: 6 }), options: fc.array(forwardingOption, { maxLength: 4 }),
});

const ipv4: fc.Arbitrary<IpAddressPortValue> = record({ type: fc.constant('ipv4' as const), address: bytes(4, 4).map(formatIpv4), port: u16 });
const ipv6: fc.Arbitrary<IpAddressPortValue> = record({ type: fc.constant('ipv6' as const), address: bytes(16, 16).map(formatIpv6), port: u16 });
const ipAddressPort: fc.Arbitrary<IpAddressPortValue> = fc.oneof(
  ipv4, ipv6,
  record({ type: fc.constant('unknown' as const), code: fc.integer({ min: 3, max: 255 }), data: bytes(255) }),
);

const iceCandidate: fc.Arbitrary<IceCandidateValue> = record({
  addrPort: ipAddressPort, overlayLink: fc.integer({ min: 1, max: 255 }), foundation: latin1(32), priority: u32,
  type: fc.constantFrom('host' as const, 'srflx' as const, 'relay' as const), relAddrPort: ipAddressPort,
  extensions: fc.array(record({ name: bytes(16), value: bytes(32) }), { maxLength: 3 }),
}).map(({ relAddrPort, ...k }): IceCandidateValue => (k.type === 'host' ? k : { ...k, relAddrPort }));

const signerIdentity: fc.Arbitrary<SignerIdentityValue> = fc.oneof(
  record({ type: fc.constantFrom('cert_hash' as const, 'cert_hash_node_id' as const), hashAlg: u8, hash: bytes(64) }),
  fc.constant({ type: 'none' as const }),
  record({ type: fc.constant('unknown' as const), code: fc.integer({ min: 4, max: 255 }), data: bytes(32) }),
);
const signature = record({ hashAlgorithm: u8, signatureAlgorithm: u8, identity: signerIdentity, value: bytes(64) });
const securityBlock: fc.Arbitrary<SecurityBlockValue> = record({
  certificates: fc.array(record({ type: u8, certificate: bytes(64) }), { maxLength: 3 }), signature,
});

const dataValue = record({ exists: fc.boolean(), value: bytes(64) });
const storedDataFor = (model: DataModel | undefined): fc.Arbitrary<StoredDataValue> => {
  const common = { storageTime: u64, lifetime: u32 };
  switch (model) {
    case 'single': return record({ ...common, value: record({ model: fc.constant('single' as const), value: dataValue }), signature });
    case 'array': return record({ ...common, value: record({ model: fc.constant('array' as const), index: u32, value: dataValue }), signature });
    case 'dictionary': return record({ ...common, value: record({ model: fc.constant('dictionary' as const), key: bytes(32), value: dataValue }), signature });
    // A kind we do not know: value and signature stay one raw string (§7.2).
    case undefined: return record({ ...common, value: record({ model: fc.constant('unknown' as const), raw: bytes(64) }) });
  }
};

// Sometimes led by U+FEFF, which a UTF-8 decoder strips by default (see the test below).
const text = fc.tuple(fc.boolean(), fc.string({ unit: 'grapheme', maxLength: 40 })).map(([bom, t]) => (bom ? `\uFEFF${t}` : t));
const sipRegistration: fc.Arbitrary<SipRegistrationValue> = fc.oneof(
  record({ type: fc.constant('uri' as const), uri: text }),
  record({ type: fc.constant('route' as const), contactPrefs: text, destinationList: fc.array(destination, { maxLength: 4 }) }),
  record({ type: fc.constant('unknown' as const), code: fc.integer({ min: 3, max: 255 }), data: bytes(64) }),
);

const ids = fc.array(nodeId, { maxLength: 6 });
const chordUpdate: fc.Arbitrary<ChordUpdateValue> = fc.oneof(
  record({ uptime: u32, type: fc.constant('peer_ready' as const) }),
  record({ uptime: u32, type: fc.constant('neighbors' as const), predecessors: ids, successors: ids }),
  record({ uptime: u32, type: fc.constant('full' as const), predecessors: ids, successors: ids, fingers: fc.array(nodeId, { maxLength: 16 }) }),
);

test('round trip: Destination lists (node, resource, opaque, compact, unknown entries)', () => {
  fc.assert(fc.property(fc.array(destination, { maxLength: 8 }), (list) => { roundTrip(DestinationList, list); }), { numRuns: 1000 });
});

test('round trip: ForwardingHeader with random lists and options', () => {
  fc.assert(fc.property(
    header(fc.nat({ max: 0x7fffffff }).map((f) => (0x80000000 | f) >>> 0)), fc.nat({ max: 100000 }),
    (h, extra) => {
      const value = { ...h, length: forwardingHeaderLength(h) + extra };
      const c = Cursor.alloc(forwardingHeaderLength(value));
      encodeForwardingHeader(value, c);
      assert.equal(c.pos, c.bytes.length);
      const back = new Cursor(c.bytes);
      assert.deepEqual(decodeForwardingHeader(back, { maxMessageSize: 0xffffffff }), value);
      assert.equal(back.pos, c.bytes.length);
    },
  ), { numRuns: 1000 });
});

test('round trip: whole messages with random header, contents, extensions and security block', () => {
  const message: fc.Arbitrary<Message> = record({
    header: header(fc.constant(FRAGMENT_UNFRAGMENTED)),
    contents: record({
      code: fc.integer({ min: 1, max: 0xffff }), body: bytes(200),
      extensions: fc.array(record({ type: fc.integer({ min: 1, max: 0xffff }), critical: fc.boolean(), contents: bytes(32) }), { maxLength: 3 }),
    }),
    security: securityBlock,
  });
  fc.assert(fc.property(message, (m) => {
    const encoded = encodeMessage(m);
    assert.equal(MessageCodec.encodingLength(m), encoded.length);
    const back = decodeMessage(encoded, { maxMessageSize: 0xffffffff });
    assert.deepEqual(back.header, { ...m.header, length: encoded.length });
    assert.deepEqual(back.contents, m.contents);
    assert.deepEqual(back.security, m.security);
    assert.deepEqual(back.contentsBytes, encode(MessageContents, m.contents));
  }), { numRuns: 600 });
});

test('round trip: ChordUpdate', () => {
  fc.assert(fc.property(chordUpdate, (u) => { roundTrip(ChordUpdate, u); }), { numRuns: 600 });
});

test('round trip: SipRegistration (uri, route, unknown)', () => {
  fc.assert(fc.property(sipRegistration, (r) => { roundTrip(SipRegistration, r); }), { numRuns: 1000 });
});

test('round trip: IpAddressPort v4, v6, unknown', () => {
  fc.assert(fc.property(ipAddressPort, (a) => { roundTrip(IpAddressPort, a); }), { numRuns: 1000 });
});

test('IpAddressPort: any IPv6 text decodes to the canonical RFC 5952 form of the same address', () => {
  fc.assert(fc.property(fc.ipV6(), u16, (address, port) => {
    const back = decode(IpAddressPort, encode(IpAddressPort, { type: 'ipv6', address, port }));
    assert.ok(back.type === 'ipv6');
    // The WHATWG URL serializer (lower case, longest zero run as ::) is an independent oracle.
    assert.equal(back.address, new URL(`http://[${address}]/`).hostname.slice(1, -1));
    assert.equal(back.port, port);
  }), { numRuns: 1000 });
  fc.assert(fc.property(fc.ipV4(), u16, (address, port) => {
    assert.deepEqual(decode(IpAddressPort, encode(IpAddressPort, { type: 'ipv4', address, port })), { type: 'ipv4', address, port });
  }), { numRuns: 100 });
});

test('round trip: IceCandidate (host, srflx, relay; extensions)', () => {
  fc.assert(fc.property(iceCandidate, (k) => { roundTrip(IceCandidate, k); }), { numRuns: 1000 });
});

test('round trip: StoredData in the single, array and dictionary models, and of an unknown kind', () => {
  for (const model of ['single', 'array', 'dictionary', undefined] as const) {
    fc.assert(fc.property(storedDataFor(model), (s) => { roundTrip(storedData(model), s); }), { numRuns: 500 });
  }
});

test('round trip: SignerIdentity and SecurityBlock', () => {
  fc.assert(fc.property(signerIdentity, securityBlock, (id, block) => {
    roundTrip(SignerIdentity, id);
    roundTrip(SecurityBlock, block);
  }), { numRuns: 600 });
});

// A decoder that strips a leading byte order mark maps two encodings to one value, and
// re-encoding changes the bytes (RFC 7904 §3.2: uri and contact_prefs are UTF-8 data).
test('SipRegistration keeps a leading U+FEFF in uri and contact_prefs', () => {
  roundTrip(SipRegistration, { type: 'uri', uri: '\uFEFFbob@overlay.example.org' });
  roundTrip(SipRegistration, { type: 'route', contactPrefs: '\uFEFF(sip.schemes=SIP)', destinationList: [] });
});

const BODY_SECURITY: SecurityBlockValue = messageFor('ping_req').security;

// A length or port written with a plain u8/u16 store wraps silently; the bytes then decode to
// something else or not at all. Encoders must refuse such values (§6.3.1 vector bounds).
test('encoders refuse values their length prefixes cannot carry', () => {
  const host = { addrPort: { type: 'ipv4', address: '192.0.2.1', port: 6084 }, overlayLink: 4, foundation: 'f', priority: 1, type: 'host' } as const;
  const cases: Array<[string, () => Uint8Array]> = [
    ['IpAddressPort unknown with 256 data bytes (u8 length)', () => encode(IpAddressPort, { type: 'unknown', code: 9, data: new Uint8Array(256) })],
    ['IpAddressPort port 70000 (u16)', () => encode(IpAddressPort, { type: 'ipv4', address: '192.0.2.1', port: 70000 })],
    ['Destination unknown with 256 data bytes (u8 length)', () => encode(DestinationList, [{ type: 'unknown', code: 9, data: new Uint8Array(256) }])],
    ['SipRegistration uri of 65534 bytes (u16 length = 2 + uri)', () => encode(SipRegistration, { type: 'uri', uri: 'a'.repeat(65534) })],
    ['IceCandidate extensions totalling 80008 bytes (u16 length)', () => encode(IceCandidate, { ...host, extensions: [{ name: new Uint8Array(40000), value: new Uint8Array(0) }, { name: new Uint8Array(40000), value: new Uint8Array(0) }] })],
    ['SecurityBlock certificates totalling 80006 bytes (u16 length)', () => encode(SecurityBlock, { ...BODY_SECURITY, certificates: [{ type: 0, certificate: new Uint8Array(40000) }, { type: 0, certificate: new Uint8Array(40000) }] })],
    ['SignerIdentity unknown with 65536 data bytes (u16 length)', () => encode(SignerIdentity, { type: 'unknown', code: 9, data: new Uint8Array(65536) })],
  ];
  const wrong: string[] = [];
  for (const [name, run] of cases) {
    try {
      run();
      wrong.push(name);
    } catch (e) {
      if (!(e instanceof RangeError)) wrong.push(`${name}: ${String(e)}`);
    }
  }
  assert.deepEqual(wrong, [], 'encoded without a RangeError');
});

// ---- linear time over junk ----

interface ScanResult { typedErrors: number; decoded: number; frames: number }

/** decodeMessage at every 0xd2, FrameReader over 1400-byte chunks and from every frame type byte. */
function scan(junk: Uint8Array): ScanResult {
  const r: ScanResult = { typedErrors: 0, decoded: 0, frames: 0 };
  const note = (run: () => void, label: string): void => {
    if (typed(run, label)) r.typedErrors++;
  };
  for (let at = junk.indexOf(0xd2); at !== -1; at = junk.indexOf(0xd2, at + 1)) {
    note(() => { decodeMessage(junk.subarray(at)); r.decoded++; }, `decodeMessage at ${at}`);
  }
  let reader = new FrameReader();
  for (let at = 0; at < junk.length; at += 1400) {
    const chunk = junk.subarray(at, at + 1400);
    if (typed(() => { r.frames += reader.push(chunk).length; }, `FrameReader chunk at ${at}`)) {
      r.typedErrors++;
      reader = new FrameReader();
    }
  }
  // Resynchronising at every byte that could start a frame (data 0x80, ack 0x81).
  for (let at = 0; at < junk.length; at++) {
    if (junk[at] !== 0x80 && junk[at] !== 0x81) continue;
    note(() => { r.frames += new FrameReader().push(junk.subarray(at, at + 1400)).length; }, `FrameReader at ${at}`);
  }
  return r;
}

function bestTime(junk: Uint8Array, runs: number): { ms: number; result: ScanResult } {
  let ms = Infinity;
  let result: ScanResult = { typedErrors: 0, decoded: 0, frames: 0 };
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    result = scan(junk);
    ms = Math.min(ms, performance.now() - t0);
  }
  return { ms, result };
}

test('1 MB of random bytes: sliding decodeMessage and FrameReader is linear and raises only typed errors', (t) => {
  const junk = new Uint8Array(randomBytes(1 << 20));
  const small = junk.subarray(0, 1 << 18);
  scan(small); // warm up the JIT before timing
  const quarter = bestTime(small, 5);
  const whole = bestTime(junk, 3);
  assert.ok(whole.result.typedErrors > 1000, `only ${whole.result.typedErrors} typed errors`);
  assert.ok(whole.ms < 3000, `1 MB took ${whole.ms.toFixed(1)} ms`);
  // 4x the bytes should cost about 4x the time; a per-offset copy or rescan would be far worse.
  const ratio = whole.ms / Math.max(quarter.ms, 0.5);
  t.diagnostic(`256 KB ${quarter.ms.toFixed(1)} ms, 1 MB ${whole.ms.toFixed(1)} ms, ratio ${ratio.toFixed(2)}, ${whole.result.typedErrors} typed errors`);
  assert.ok(ratio < 8, `256 KB ${quarter.ms.toFixed(2)} ms, 1 MB ${whole.ms.toFixed(2)} ms, ratio ${ratio.toFixed(2)}`);
});
