// Interop tier: Wireshark's RELOAD dissector (tshark 4.0) reads back every message the codec
// encodes, sent as RFC 6940 §6.6.2 data frames over one TCP connection to port 6084.
// Three independent tshark views are checked: `-T json`, `-V` text and `-z expert`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Bodies, type BodyName, type Destination, type IceCandidate, type Message, type SecurityBlock, type StatAns,
  type StoredData,
  ExtensionType, ForwardingFlag, ForwardingOptionType, FramedMessage, IpAddressPort, KindId, MessageCode, SipRegistration,
  UnknownKinds, decode, encode, encodeMessage, fromHex, nodeDestination, overlayHash, resourceDestination, toHex,
} from '../src/codec/index.ts';
import { PcapWriter } from '../src/decode/pcap-writer.ts';
import {
  AOR_RESOURCE, BODIES, BODY_NAMES, CERT_DER, ERROR_TOO_LOW, NODE_A, NODE_B, NODE_C, OVERLAY, SECURITY, messageFor,
} from './fixtures/samples.ts';

// ---------------------------------------------------------------------------------------------
// tshark availability: the only reason to skip.

const TSHARK = 'tshark';
const probe = spawnSync(TSHARK, ['--version'], { encoding: 'utf8', timeout: 10_000 });
const SKIP = (probe.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
  ? 'tshark is not on PATH: install Wireshark\'s tshark to run the interop tier'
  : false;

// ---------------------------------------------------------------------------------------------
// Known tshark 4.0 dissector bugs, each allowed only where it shows and only as predicted.

/**
 * tshark 4.0 names only the pre-RFC version 0x01 ("0.1 DRAFT") and labels RFC 6940's value
 * "Unknown" (§6.3.2: "This document describes version 1.0, with a value of 0x0a").
 * Allowed: that label on a version line whose value is 0x0a.
 */
const QUIRK_VERSION_LABEL = /^version \(uint8\): (?:Unknown|[^()]*1\.0[^()]*) \(0x0a\)$/;

/**
 * tshark 4.0 reads IceCandidate.priority at the start of the candidate instead of after
 * foundation, so it shows the IpAddressPort's type, length and first two address bytes as
 * the priority. Our bytes follow §6.5.1.1 (addr_port, overlay_link, foundation, priority,
 * type); tshark reads the type byte after priority at the right offset, which confirms it.
 * Allowed: that value instead of ours; the priority bytes themselves are checked in the
 * message bytes, between foundation and type.
 */
function quirkIcePriority(c: IceCandidate): number {
  const b = encode(IpAddressPort, c.addrPort);
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

/**
 * tshark 4.0 dissects StoredDataSpecifier dictionary keys at the specifier's first byte
 * instead of after its `length`: it reads the Kind-ID's high 16 bits (0 for kinds below
 * 2^16) as one zero-length key per 2 bytes of the keys vector. Our bytes follow §7.4.2.1
 * (`DictionaryKey keys<0..2^16-1>`, `typedef opaque DictionaryKey<0..2^16-1>` in §7.2.3):
 * tshark reads our specifier `length` and our keys vector length correctly.
 * Allowed: exactly keysVectorLength / 2 zero-length keys instead of ours.
 */
function quirkDictionaryKeyCount(keys: readonly Uint8Array[]): number {
  return keys.reduce((n, k) => n + 2 + k.length, 0) / 2;
}

// ---------------------------------------------------------------------------------------------
// The capture.

const CERT_URI = `reload://0110${toHex(NODE_A)}@${OVERLAY}/`;

const CLIENT = { ip: '127.0.0.1', port: 40000 };
const SERVER = { ip: '127.0.0.1', port: 6084 };
/** High bit set, so all 64 bits of transaction_id are exercised. */
const TXID_BASE = 0x8badf00d_00000000n;

interface Sent {
  label: string;
  /** The body structure, for body-specific checks; extras reuse a method's name. */
  name: BodyName;
  message: Message;
  bytes: Uint8Array;
  sequence: number;
  fromClient: boolean;
  kinds: number[];
}

interface SentAck { ackSequence: number; received: number; fromClient: boolean }

const kindsOfBody: { [K in BodyName]?: (b: Bodies[K]) => number[] } = {
  store_req: (b) => b.kindData.map((k) => k.kind),
  store_ans: (b) => b.kindResponses.map((k) => k.kind),
  fetch_req: (b) => b.specifiers.map((s) => s.kind),
  fetch_ans: (b) => b.kindResponses.map((k) => k.kind),
  find_req: (b) => b.kinds,
  find_ans: (b) => b.results.map((r) => r.kind),
  stat_req: (b) => b.specifiers.map((s) => s.kind),
  stat_ans: (b) => b.kindResponses.map((k) => k.kind),
};

function kindsOf<K extends BodyName>(name: K, body: Bodies[K]): number[] {
  if (name === 'error') {
    const e = body as Bodies['error'];
    if (e.errorCode === ERROR_TOO_LOW.errorCode) return BODIES.store_ans.kindResponses.map((k) => k.kind);
    return decode(UnknownKinds, e.errorInfo);
  }
  const f = kindsOfBody[name] as ((b: Bodies[K]) => number[]) | undefined;
  return f ? f(body) : [];
}

function buildCapture(): { pcap: Uint8Array; sent: Sent[]; acks: SentAck[] } {
  const sent: Sent[] = [];
  const acks: SentAck[] = [];
  let txid = TXID_BASE;
  // §6.6.2: each sender's sequence numbers start at zero and grow by one per message.
  const next = { client: 0, server: 0 };
  const w = new PcapWriter();
  const tcp = w.tcpConversation({ client: CLIENT, server: SERVER });
  /** Data sequence numbers each side has received, for the ACK `received` mask (§6.6.2). */
  const seen = { client: [] as number[], server: [] as number[] };

  const add = <K extends BodyName>(label: string, name: K, body: Bodies[K], edit?: (m: Message) => void): void => {
    const message = messageFor(name, txid++, body);
    edit?.(message);
    const bytes = encodeMessage(message);
    const fromClient = !(name.endsWith('_ans') || name === 'error');
    const sequence = fromClient ? next.client++ : next.server++;
    const s: Sent = { label, name, message, bytes, sequence, fromClient, kinds: kindsOf(name, body) };
    sent.push(s);
    tcp.send(fromClient, encode(FramedMessage, { type: 'data', sequence: s.sequence, message: bytes }));
    (fromClient ? seen.server : seen.client).push(s.sequence);
  };
  const ack = (fromClient: boolean): void => {
    const got = fromClient ? seen.client : seen.server;
    const n = got[got.length - 1];
    let received = 0;
    for (const m of got) if (m < n && n - m < 32) received |= 1 << (n - m);
    const a = { ackSequence: n, received: received >>> 0, fromClient };
    acks.push(a);
    tcp.send(fromClient, encode(FramedMessage, { type: 'ack', ackSequence: a.ackSequence, received: a.received }));
  };

  for (const name of BODY_NAMES) {
    add(name, name, BODIES[name]);
    if (name === 'probe_req' || name === 'store_req') ack(false);
    if (name === 'fetch_ans') ack(true);
  }
  add('error Error_Generation_Counter_Too_Low', 'error', ERROR_TOO_LOW);
  add('ping_req with a forwarding option and a message extension', 'ping_req', BODIES.ping_req, (m) => {
    m.header.destinationList = [nodeDestination(NODE_B), resourceDestination(AOR_RESOURCE)];
    m.header.options = [{
      type: ForwardingOptionType.exp_forward,
      flags: ForwardingFlag.FORWARD_CRITICAL | ForwardingFlag.DESTINATION_CRITICAL,
      value: Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 0x01),
    }];
    m.contents.extensions = [{ type: ExtensionType.exp_ext, critical: true, contents: Uint8Array.of(9, 8, 7) }];
  });
  add('ping_req via a compact entry to an opaque destination', 'ping_req', BODIES.ping_req, (m) => {
    m.header.viaList = [{ type: 'compact', id: 5 }, nodeDestination(NODE_C)];
    m.header.destinationList = [{ type: 'opaque', id: Uint8Array.of(0xaa, 0xbb, 0xcc, 0xdd) }];
  });
  ack(false);
  ack(true);
  tcp.close();
  return { pcap: w.toBytes(), sent, acks };
}

// ---------------------------------------------------------------------------------------------
// tshark runs and output parsing.

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

function runTshark(args: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(TSHARK, args, { encoding: 'utf8', timeout: 15_000, maxBuffer: 256 * 1024 * 1024, env });
  if (r.error) throw r.error;
  // stderr carries the "Running as user root" banner; only the exit status means failure.
  assert.equal(r.status, 0, `tshark ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

const all = (v: Json | undefined): Json[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function obj(v: Json | undefined, what: string): Obj {
  assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), `${what}: expected one object, got ${JSON.stringify(v)?.slice(0, 300)}`);
  return v as Obj;
}

function str(v: Json | undefined, what: string): string {
  assert.equal(typeof v, 'string', `${what}: expected a string, got ${JSON.stringify(v)?.slice(0, 300)}`);
  return v as string;
}

const num = (v: Json | undefined, what: string): number => Number(str(v, what));
const big = (v: Json | undefined, what: string): bigint => BigInt(str(v, what));
/** tshark prints bytes as aa:bb:cc; zero-length fields may be left out. */
const hexOf = (v: Json | undefined, what: string): string => (v === undefined ? '' : str(v, what).replace(/:/g, ''));

/** Every value under `key` anywhere below `v`, in document order. */
function collect(v: Json | undefined, key: string, out: Json[] = []): Json[] {
  if (Array.isArray(v)) for (const x of v) collect(x, key, out);
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === key) out.push(...all(x));
      else collect(x, key, out);
    }
  }
  return out;
}

interface Decoded { frame: number; framing: Obj; reload: Obj }
interface DecodedAck { frame: number; framing: Obj }
interface ExpertItem { frame: number; severity: string; message: string }

/** `_ws.expert.severity` of a warning (Wireshark's PI_WARN); errors are 0x00800000. */
const PI_WARN = 0x00600000;

interface Views {
  data: Decoded[];
  acks: DecodedAck[];
  jsonExpert: ExpertItem[];
  jsonMalformed: number[];
  verbose: string;
  zExpert: string;
}

function readViews(file: string, env: NodeJS.ProcessEnv): Views {
  const common = [
    '-r', file, '-n',
    '-o', 'tcp.check_checksum:FALSE',
    '-o', 'tcp.desegment_tcp_streams:TRUE',
    '-d', `tcp.port==${SERVER.port},reload-framing`,
  ];
  const packets = JSON.parse(runTshark([...common, '-T', 'json', '--no-duplicate-keys'], env)) as Json[];
  const views: Views = { data: [], acks: [], jsonExpert: [], jsonMalformed: [], verbose: '', zExpert: '' };
  for (const p of packets) {
    const layers = obj(obj(obj(p, 'packet')._source, '_source').layers, 'layers');
    const frame = num(obj(layers.frame, 'frame')['frame.number'], 'frame.number');
    for (const e of collect(layers, '_ws.expert')) {
      const x = obj(e, '_ws.expert');
      views.jsonExpert.push({ frame, severity: str(x['_ws.expert.severity'], 'severity'), message: str(x['_ws.expert.message'], 'message') });
    }
    if (collect(layers, '_ws.malformed').length > 0) views.jsonMalformed.push(frame);
    const reloads = all(layers.reload);
    let r = 0;
    for (const f of all(layers['reload-framing'])) {
      const framing = obj(f, 'reload-framing');
      if (framing['reload_framing.type'] === '128') views.data.push({ frame, framing, reload: obj(reloads[r++], `reload in frame ${frame}`) });
      else views.acks.push({ frame, framing });
    }
    assert.equal(r, reloads.length, `frame ${frame}: RELOAD messages without a data frame`);
  }
  views.verbose = runTshark([...common, '-V'], env);
  views.zExpert = runTshark([...common, '-q', '-z', 'expert'], env);
  return views;
}

/** `-z expert` rows by section: Errors, Warnings, Notes, Chats. */
function parseZExpert(text: string): Map<string, { count: number; group: string; protocol: string; summary: string }[]> {
  const sections = new Map<string, { count: number; group: string; protocol: string; summary: string }[]>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const head = /^(Errors|Warnings|Notes|Chats) \(\d+\)$/.exec(line);
    if (head) { current = head[1]; sections.set(current, []); continue; }
    const row = /^\s+(\d+)\s+(\S+)\s+(\S+)\s+(.*\S)\s*$/.exec(line);
    if (current && row && row[1] !== 'Frequency') {
      sections.get(current)!.push({ count: Number(row[1]), group: row[2], protocol: row[3], summary: row[4] });
    }
  }
  return sections;
}

// ---------------------------------------------------------------------------------------------
// Expected values in tshark's terms.

function destinationKey(d: Destination): string {
  switch (d.type) {
    case 'node': return `node:${toHex(d.id)}`;
    case 'resource': return `resource:${toHex(d.id)}`;
    case 'opaque': return `opaque:${toHex(d.id)}`;
    case 'compact': return `compact:${d.id}`;
    case 'unknown': return `unknown:${d.code}`;
  }
}

/** tshark's Destination (§6.3.2.2) in the same terms; it names opaque_id_type "compressed". */
function tsharkDestinationKey(v: Json): string {
  const d = obj(v, 'reload.destination');
  const compact = d['reload.forwarding.destination.compressed_id'];
  if (compact !== undefined) return `compact:${num(compact, 'compressed_id') & 0x7fff}`;
  const type = num(d['reload.forwarding.destination.type'], 'destination.type');
  if (type === 1) return `node:${hexOf(d['reload.destination.data.nodeid'], 'nodeid')}`;
  const inner = (key: string): Obj => obj(d[key], key);
  if (type === 2) return `resource:${hexOf(inner('reload.destination.data.resourceid')['reload.opaque.data'], 'resource')}`;
  if (type === 3) return `opaque:${hexOf(inner('reload.destination.data.compressed_id')['reload.opaque.data'], 'opaque')}`;
  return `unknown:${type}`;
}

const listKeys = (list: Json | undefined): string[] =>
  list === undefined ? [] : all(obj(list, 'list')['reload.destination']).map(tsharkDestinationKey);

/** "Nov 14, 2023 22:13:20.001000000 UTC" → ms since the epoch. */
function tsharkTimeMs(v: Json | undefined, what: string): bigint {
  const m = /^(\w{3})\s+(\d+), (\d{4}) (\d\d):(\d\d):(\d\d)\.(\d{9}) UTC$/.exec(str(v, what));
  assert.ok(m, `${what}: unexpected time format ${String(v)}`);
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].indexOf(m[1]);
  const s = Date.UTC(Number(m[3]), month, Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6]));
  return BigInt(s) + BigInt(m[7]) / 1_000_000n;
}

/** The sample's SIP-REGISTRATION values, tied to the fixture's bytes below. */
const EXPECTED_SIP: SipRegistration[] = [
  { type: 'route', contactPrefs: '(sip.schemes=SIP)', destinationList: [nodeDestination(NODE_A)] },
  { type: 'uri', uri: 'bob@overlay.example.org' },
];

function checkSipStoredData(values: Json[], expected: StoredData[], what: string): void {
  assert.equal(values.length, expected.length, `${what}: number of StoredData`);
  expected.forEach((e, i) => {
    const sd = obj(values[i], `${what}[${i}]`);
    const w = `${what}[${i}]`;
    assert.equal(e.value.model, 'dictionary');
    if (e.value.model !== 'dictionary') return;
    assert.equal(tsharkTimeMs(sd['reload.storeddata.storage_time'], `${w} storage_time`), e.storageTime, `${w} storage_time`);
    assert.equal(num(sd['reload.storeddata.lifetime'], 'lifetime'), e.lifetime, `${w} lifetime`);
    const value = obj(sd['reload.value'], `${w} value`);
    assert.equal(hexOf(obj(value['reload.dictionarykey'], 'key')['reload.nodeid'], 'key'), toHex(e.value.key), `${w} dictionary key`);
    const dv = obj(value['reload.dictionary.value'], `${w} DataValue`);
    assert.equal(dv['reload.datavalue.exists'], e.value.value.exists ? '1' : '0', `${w} exists`);
    const reg = obj(dv['reload.sipregistration'], `${w} SipRegistration`);
    const want = EXPECTED_SIP[i];
    // The literal expectations are exactly what the fixture encoded.
    assert.deepEqual(e.value.value.value, encode(SipRegistration, want), `${w}: fixture SipRegistration changed`);
    const data = obj(reg['reload.sipregistration.data'], `${w} data`);
    if (want.type === 'route') {
      assert.equal(num(reg['reload.sipregistration.type'], 'type'), 2, `${w} SipRegistration type`);
      assert.equal(obj(data['reload.sipregistration.data.contact_prefs'], 'contact_prefs')['reload.opaque.string'], want.contactPrefs, `${w} contact_prefs`);
      assert.deepEqual(listKeys(data['reload.sipregistration.data.destination_list']), want.destinationList.map(destinationKey), `${w} destination_list`);
    } else if (want.type === 'uri') {
      assert.equal(num(reg['reload.sipregistration.type'], 'type'), 1, `${w} SipRegistration type`);
      assert.equal(obj(data['reload.sipregistration.data.uri'], 'uri')['reload.opaque.string'], want.uri, `${w} uri`);
    }
  });
}

function checkCandidates(list: Json | undefined, expected: IceCandidate[], message: Uint8Array, what: string): void {
  const got = collect(list, 'reload.icecandidate');
  assert.equal(got.length, expected.length, `${what}: number of candidates`);
  const addr = (v: Json | undefined, w: string): string => {
    const a = obj(v, w);
    const p = obj(a['reload.ipv4addrport'] ?? a['reload.ipv6addrport'], `${w} addr`);
    return `${str(p['reload.ipv4addr'] ?? p['reload.ipv6addr'], w)} ${str(p['reload.port'], w)}`;
  };
  const want = (a: IpAddressPort): string => (a.type === 'unknown' ? '?' : `${a.address} ${a.port}`);
  expected.forEach((c, i) => {
    const t = obj(got[i], `${what} candidate ${i}`);
    const w = `${what} candidate ${i}`;
    assert.equal(addr(t['reload.icecandidate.addr_port'], `${w} addr_port`), want(c.addrPort), `${w} addr_port`);
    assert.equal(num(t['reload.overlaylink.type'], 'overlay_link'), c.overlayLink, `${w} overlay_link`);
    assert.equal(obj(t['reload.icecandidate.foundation'], 'foundation')['reload.opaque.string'], c.foundation, `${w} foundation`);
    const priority = num(t['reload.icecandidate.priority'], 'priority');
    assert.ok(priority === c.priority || priority === quirkIcePriority(c), `${w} priority ${priority} is neither ours nor the tshark 4.0 offset quirk`);
    // §6.5.1.1 order: foundation<0..255>, uint32 priority, CandType type.
    const foundation = new TextEncoder().encode(c.foundation);
    const tail = Uint8Array.of(foundation.length, ...foundation, c.priority >>> 24, (c.priority >>> 16) & 0xff, (c.priority >>> 8) & 0xff, c.priority & 0xff);
    assert.ok(toHex(message).includes(toHex(tail)), `${w}: foundation then priority bytes not in the message`);
    assert.equal(num(t['reload.icecandidate.type'], 'type'), { host: 1, srflx: 2, relay: 4 }[c.type], `${w} type`);
    if (c.relAddrPort) assert.equal(addr(t['reload.icecandidate.relay_addr'], `${w} rel_addr_port`), want(c.relAddrPort), `${w} rel_addr_port`);
    const ext = collect(t['reload.iceextensions'], 'reload.iceextension').map((e) => {
      const x = obj(e, 'iceextension');
      return `${hexOf(obj(x['reload.iceextension.name'], 'name')['reload.opaque.data'], 'name')}=${hexOf(obj(x['reload.iceextension.value'], 'value')['reload.opaque.data'], 'value')}`;
    });
    assert.deepEqual(ext, c.extensions.map((e) => `${toHex(e.name)}=${toHex(e.value)}`), `${w} extensions`);
  });
}

// ---------------------------------------------------------------------------------------------

describe('tshark reads back every RELOAD message the codec encodes', { skip: SKIP }, () => {
  let dir = '';
  let sent: Sent[] = [];
  let acks: SentAck[] = [];
  let views: Views;
  const byLabel = (label: string): { s: Sent; d: Decoded } => {
    const i = sent.findIndex((s) => s.label === label);
    assert.ok(i >= 0, `no message labelled ${label}`);
    return { s: sent[i], d: views.data[i] };
  };
  /** The frame of the shared StatAns sample, where the pending codec fix shows. */
  const body = (d: Decoded): Obj => obj(obj(d.reload['reload.message.contents'], 'contents')['reload.message.body'], 'body');

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'reload-tshark-'));
    const capture = buildCapture();
    sent = capture.sent;
    acks = capture.acks;
    const file = join(dir, 'reload.pcap');
    writeFileSync(file, capture.pcap);
    // A private configuration directory: no user preference can change the dissection.
    views = readViews(file, { ...process.env, WIRESHARK_CONFIG_DIR: dir });
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finds every data frame and ACK frame, in order, with our framing fields (§6.6.2)', () => {
    assert.equal(views.data.length, sent.length, 'data frames decoded as RELOAD');
    sent.forEach((s, i) => {
      const f = views.data[i].framing;
      assert.equal(num(f['reload_framing.sequence'], 'sequence'), s.sequence, `${s.label}: sequence`);
      const m = obj(f['reload_framing.message'], 'message');
      assert.equal(num(m['reload_framing.message.length'], 'length'), s.bytes.length, `${s.label}: 24-bit length`);
      assert.equal(hexOf(m['reload_framing.message.data'], 'data'), toHex(s.bytes), `${s.label}: message bytes`);
    });
    assert.equal(views.acks.length, acks.length, 'ACK frames');
    acks.forEach((a, i) => {
      const f = views.acks[i].framing;
      assert.equal(num(f['reload_framing.type'], 'type'), 0x81);
      assert.equal(num(f['reload_framing.ack_sequence'], 'ack_sequence'), a.ackSequence, `ACK ${i}: ack_sequence`);
      assert.equal(num(f['reload_framing.received'], 'received'), a.received, `ACK ${i}: received`);
      // tshark pairs the ACK with the peer's data frame of that sequence number.
      const acked = views.data[sent.findIndex((s) => s.fromClient !== a.fromClient && s.sequence === a.ackSequence)].frame;
      assert.equal(num(f['reload_framing.response-to'], 'response-to'), acked, `ACK ${i}: acknowledged frame`);
    });
  });

  it('reads the forwarding header of every message (§6.3.2)', () => {
    sent.forEach((s, i) => {
      const h = s.message.header;
      const fh = obj(views.data[i].reload['reload.forwarding'], `${s.label}: forwarding header`);
      const w = s.label;
      assert.equal(num(fh['reload.forwarding.token'], 'token'), 0xd2454c4f, `${w}: relo_token`);
      assert.equal(num(fh['reload.forwarding.overlay'], 'overlay'), overlayHash(OVERLAY), `${w}: overlay`);
      assert.equal(num(fh['reload.forwarding.configuration_sequence'], 'cs'), h.configurationSequence, `${w}: configuration_sequence`);
      assert.equal(num(fh['reload.forwarding.version'], 'version'), 0x0a, `${w}: version`);
      assert.equal(num(fh['reload.forwarding.ttl'], 'ttl'), h.ttl, `${w}: ttl`);
      assert.equal(num(fh['reload.forwarding.fragment'], 'fragment'), h.fragment, `${w}: fragment`);
      assert.equal(num(fh['reload.length.32'], 'length'), s.bytes.length, `${w}: length`);
      assert.equal(big(fh['reload.forwarding.trans_id'], 'trans_id'), h.transactionId, `${w}: transaction_id`);
      assert.equal(num(fh['reload.forwarding.max_response_length'], 'mrl'), h.maxResponseLength, `${w}: max_response_length`);
      assert.deepEqual(listKeys(fh['reload.forwarding.via_list']), h.viaList.map(destinationKey), `${w}: via_list`);
      assert.deepEqual(listKeys(fh['reload.forwarding.destination_list']), h.destinationList.map(destinationKey), `${w}: destination_list`);
      assert.equal(num(fh['reload.forwarding.options.length'], 'options_length'), h.options.reduce((n, o) => n + 4 + o.value.length, 0), `${w}: options_length`);
    });
  });

  it('reads forwarding options and message extensions (§6.3.2.3, §6.3.3)', () => {
    const { s, d } = byLabel('ping_req with a forwarding option and a message extension');
    const fh = obj(d.reload['reload.forwarding'], 'forwarding');
    const opts = collect(fh['reload.forwarding.options'], 'reload.forwarding.option');
    assert.equal(opts.length, s.message.header.options.length);
    s.message.header.options.forEach((o, i) => {
      const t = obj(opts[i], 'option');
      assert.equal(num(t['reload.forwarding.option.type'], 'type'), o.type, 'option type');
      assert.equal(num(t['reload.forwarding.option.flags'], 'flags'), o.flags, 'option flags');
      assert.equal(num(t['reload.length.16'], 'length'), o.value.length, 'option length');
      assert.equal(hexOf(t['reload.opaque.data'], 'value'), toHex(o.value), 'option value');
    });
    const contents = obj(d.reload['reload.message.contents'], 'contents');
    const exts = collect(contents['reload.message.extensions'], 'reload.message_extension');
    assert.equal(exts.length, s.message.contents.extensions.length);
    s.message.contents.extensions.forEach((e, i) => {
      const t = obj(exts[i], 'extension');
      assert.equal(num(t['reload.message_extension.type'], 'type'), e.type, 'extension type');
      assert.equal(t['reload.message_extension.critical'], e.critical ? '1' : '0', 'extension critical');
      const content = obj(t['reload.message_extension.content_tree'], 'content');
      assert.equal(num(content['reload.length.32'], 'length'), e.contents.length, 'extension length');
      assert.equal(hexOf(content['reload.opaque.data'], 'contents'), toHex(e.contents), 'extension contents');
    });
    // Every other message has no extensions: a zero 4-byte length.
    for (const [i, x] of sent.entries()) {
      if (x.message.contents.extensions.length > 0) continue;
      const c = obj(views.data[i].reload['reload.message.contents'], 'contents');
      assert.equal(num(obj(c['reload.message.extensions'], 'extensions')['reload.length.32'], 'length'), 0, `${x.label}: extensions`);
    }
  });

  it('reads message code, body length and Kind-IDs of every message (§6.3.3, §14.8)', () => {
    sent.forEach((s, i) => {
      const contents = obj(views.data[i].reload['reload.message.contents'], `${s.label}: contents`);
      assert.equal(num(contents['reload.message.code'], 'code'), MessageCode[s.name], `${s.label}: message_code`);
      const b = body(views.data[i]);
      assert.equal(num(b['reload.length.32'], 'body length'), s.message.contents.body.length, `${s.label}: message_body length`);
      const kinds = [...collect(b, 'reload.kinddata.kind'), ...collect(b, 'reload.kindid')].map((k) => num(k, 'kind'));
      assert.deepEqual(kinds, s.kinds, `${s.label}: Kind-IDs`);
    });
    for (const label of ['error', 'error Error_Generation_Counter_Too_Low']) {
      const { s, d } = byLabel(label);
      const e = obj(body(d)['reload.error_response'], 'error_response');
      const want = label === 'error' ? BODIES.error.errorCode : ERROR_TOO_LOW.errorCode;
      assert.equal(num(e['reload.error_response.code'], 'error_code'), want, `${s.label}: error_code`);
    }
    const tooLow = obj(body(byLabel('error Error_Generation_Counter_Too_Low').d)['reload.error_response'], 'error_response');
    const replicas = collect(tooLow, 'reload.storekindresponse.replicas').flatMap((r) => collect(r, 'reload.nodeid'));
    assert.deepEqual(replicas.map((r) => hexOf(r, 'replica')), BODIES.store_ans.kindResponses[0].replicas.map(toHex), 'StoreAns replicas in error_info');
  });

  it('reads the SipRegistration values of the SIP-REGISTRATION Store and Fetch (RFC 7904 §3.2)', () => {
    const store = obj(body(byLabel('store_req').d)['reload.storereq'], 'storereq');
    assert.equal(hexOf(obj(store['reload.resource'], 'resource')['reload.opaque.data'], 'resource'), toHex(AOR_RESOURCE), 'StoreReq resource');
    assert.equal(num(store['reload.store.replica_number'], 'replica'), BODIES.store_req.replicaNumber, 'replica_number');
    const kd = obj(obj(store['reload.store.kind_data'], 'kind_data')['reload.kinddata'], 'kinddata');
    assert.equal(num(kd['reload.kinddata.kind'], 'kind'), KindId.SIP_REGISTRATION);
    assert.equal(big(kd['reload.generation_counter'], 'generation'), BODIES.store_req.kindData[0].generation, 'generation_counter');
    checkSipStoredData(collect(kd, 'reload.storeddata'), BODIES.store_req.kindData[0].values, 'StoreReq');

    const fetch = obj(body(byLabel('fetch_ans').d)['reload.fetchans'], 'fetchans');
    checkSipStoredData(collect(fetch, 'reload.storeddata'), BODIES.fetch_ans.kindResponses[0].values, 'FetchAns');
  });

  it('reads ICE candidates of Attach and AppAttach (§6.5.1.1, §6.5.2)', () => {
    for (const name of ['attach_req', 'attach_ans', 'app_attach_req', 'app_attach_ans'] as const) {
      const b = body(byLabel(name).d);
      const t = obj(b['reload.attachreqans'] ?? b['reload.appattachreq'] ?? b['reload.appattachans'], `${name} body`);
      const want = BODIES[name];
      const opaque = (key: string): Json => obj(t[key], key)['reload.opaque.string'];
      assert.equal(opaque('reload.ufrag'), want.ufrag, `${name}: ufrag`);
      assert.equal(opaque('reload.password'), want.password, `${name}: password`);
      assert.equal(opaque('reload.role'), want.role, `${name}: role`);
      if ('sendUpdate' in want) assert.equal(t['reload.sendupdate'], want.sendUpdate ? '1' : '0', `${name}: send_update`);
      if ('application' in want) assert.equal(num(t['reload.application'], 'application'), want.application, `${name}: application`);
      checkCandidates(t['reload.icecandidates'], want.candidates, byLabel(name).s.bytes, name);
    }
  });

  it('reads StoredDataSpecifiers of Fetch and Stat (§7.4.2.1)', () => {
    for (const name of ['fetch_req', 'stat_req'] as const) {
      const b = body(byLabel(name).d);
      const req = obj(b[name === 'fetch_req' ? 'reload.fetchreq' : 'reload.statreq'], `${name} body`);
      const specs = obj(req['reload.fetchreq.specifiers'], 'specifiers');
      const got = all(specs['reload.storeddataspecifier']).map((x) => obj(x, 'specifier'));
      const want = BODIES[name].specifiers;
      assert.equal(got.length, want.length, `${name}: number of specifiers`);
      // The bogus keys sit beside the specifiers, one list per dictionary specifier.
      const keyLists = all(specs['reload.storeddataspecifier.keys']).map((k) => collect(k, 'reload.dictionarykey'));
      let dict = 0;
      want.forEach((s, i) => {
        const w = `${name} specifier ${i}`;
        assert.equal(num(got[i]['reload.kinddata.kind'], 'kind'), s.kind, `${w}: kind`);
        assert.equal(big(got[i]['reload.generation_counter'], 'generation'), s.generation, `${w}: generation`);
        const length = s.model === 'array' ? 2 + 8 * s.indices.length
          : s.model === 'dictionary' ? 2 + s.keys.reduce((n, k) => n + 2 + k.length, 0) : 0;
        assert.equal(num(got[i]['reload.length.16'], 'length'), length, `${w}: length`);
        if (s.model === 'dictionary') {
          const keys = (keyLists[dict++] ?? []).map((k) => {
            const key = obj(k, 'key');
            return { length: num(key['reload.length.16'], 'key length'), data: hexOf(key['reload.opaque.data'] ?? key['reload.nodeid'], 'key') };
          });
          const asRfc = keys.length === s.keys.length && keys.every((k, j) => k.data === toHex(s.keys[j]));
          const asQuirk = keys.length === quirkDictionaryKeyCount(s.keys) && keys.every((k) => k.length === 0);
          assert.ok(asRfc || asQuirk, `${w}: keys ${JSON.stringify(keys)} are neither ours nor the tshark 4.0 offset quirk`);
        }
      });
    }
  });

  it('reads StatAns metadata, StoredMetaData starting with the bytes after it (§7.4.3.2)', () => {
    const { d } = byLabel('stat_ans');
    assert.deepEqual(views.jsonExpert.filter((e) => e.frame === d.frame), [], 'expert info in the frame');
    const want = BODIES.stat_ans.kindResponses[0];
    assert.ok('values' in want);
    const metas = collect(body(d), 'reload.storedmetadata');
    assert.equal(metas.length, want.values.length, 'StoredMetaData count');
    want.values.forEach((v, i) => {
      const t = obj(metas[i], 'StoredMetaData');
      assert.equal(v.metadata.model, 'dictionary');
      if (v.metadata.model !== 'dictionary') return;
      assert.equal(tsharkTimeMs(t['reload.storeddata.storage_time'], 'storage_time'), v.storageTime, 'storage_time');
      assert.equal(num(t['reload.storeddata.lifetime'], 'lifetime'), v.lifetime, 'lifetime');
      const value = obj(t['reload.value'], 'value');
      assert.equal(hexOf(obj(value['reload.dictionarykey'], 'key')['reload.nodeid'], 'key'), toHex(v.metadata.key), 'key');
      const md = obj(value['reload.dictionary.value'], 'MetaData');
      assert.equal(md['reload.datavalue.exists'], v.metadata.value.exists ? '1' : '0', 'exists');
      assert.equal(num(md['reload.metadata.value_length'], 'value_length'), v.metadata.value.valueLength, 'MetaData value_length');
      assert.equal(num(md['reload.hash_algorithm'], 'hash_algorithm'), v.metadata.value.hashAlgorithm, 'hash_algorithm');
      assert.equal(hexOf(obj(md['reload.metadata.hash_value'], 'hash')['reload.opaque.data'], 'hash'), toHex(v.metadata.value.hashValue), 'hash_value');
    });
  });

  it('reads the security block of every message (§6.3.4)', () => {
    sent.forEach((s, i) => {
      const sb = obj(views.data[i].reload['reload.security_block'], `${s.label}: security block`);
      const cert = obj(obj(sb['reload.certificates'], 'certificates')['reload.genericcertificate'], 'certificate');
      assert.equal(num(cert['reload.certificate.type'], 'type'), 0, `${s.label}: certificate type`);
      assert.equal(num(cert['reload.length.16'], 'length'), CERT_DER.length, `${s.label}: certificate length`);
      assert.deepEqual(collect(cert, 'x509ce.uniformResourceIdentifier'), [CERT_URI], `${s.label}: certificate read as X.509`);
      const sig = obj(sb['reload.signature'], 'signature');
      const alg = obj(sig['reload.signatureandhashalgorithm'], 'algorithm');
      assert.equal(num(alg['reload.hash_algorithm'], 'hash'), SECURITY.signature.hashAlgorithm, `${s.label}: hash`);
      assert.equal(num(alg['reload.signature_algorithm'], 'sig'), SECURITY.signature.signatureAlgorithm, `${s.label}: signature algorithm`);
      const id = obj(sig['reload.signature.identity'], 'identity');
      assert.equal(num(id['reload.signature.identity.type'], 'identity type'), 1, `${s.label}: identity_type cert_hash`);
      const identity = SECURITY.signature.identity;
      assert.equal(identity.type, 'cert_hash');
      if (identity.type !== 'cert_hash') return;
      const hashes = collect(id, 'reload.signature.identity.value.certificate_hash');
      assert.equal(hexOf(obj(hashes[0], 'hash')['reload.opaque.data'], 'hash'), toHex(identity.hash), `${s.label}: certificate_hash`);
      const value = obj(sig['reload.signature.value'], 'signature_value');
      assert.equal(num(value['reload.length.16'], 'length'), SECURITY.signature.value.length, `${s.label}: signature_value length`);
    });
  });

  it('marks no packet malformed', () => {
    assert.deepEqual(views.jsonMalformed, [], 'frames with _ws.malformed (-T json)');
    assert.equal(views.verbose.match(/\[Malformed Packet/g)?.length ?? 0, 0, 'Malformed Packet in -V output');
  });

  it('raises no expert errors or warnings', () => {
    const serious = views.jsonExpert.filter((e) => Number(e.severity) >= PI_WARN);
    assert.deepEqual(serious, [], 'expert infos of severity warning or error (-T json)');

    // -V: the same, by frame.
    let frame = 0;
    const verboseErrors: ExpertItem[] = [];
    for (const line of views.verbose.split('\n')) {
      const f = /^Frame (\d+):/.exec(line);
      if (f) frame = Number(f[1]);
      const e = /^\s*\[Expert Info \((Error|Warning)\/[^)]*\): (.*)\]$/.exec(line);
      if (e) verboseErrors.push({ frame, severity: e[1], message: e[2] });
    }
    assert.deepEqual(verboseErrors, [], 'Expert Info (Error|Warning) in -V output');

    const z = parseZExpert(views.zExpert);
    assert.deepEqual(z.get('Warnings') ?? [], [], '-z expert warnings');
    assert.deepEqual(z.get('Errors') ?? [], [], '-z expert errors');
  });

  it('shows version 0x0a on every message, labelled "Unknown" by tshark 4.0 (§6.3.2)', () => {
    const lines = views.verbose.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('version (uint8):'));
    assert.equal(lines.length, sent.length, 'version lines');
    for (const l of lines) assert.match(l, QUIRK_VERSION_LABEL);
  });
});
