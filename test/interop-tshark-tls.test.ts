// Interop tier: Wireshark reads a live RELOAD-over-TLS link. Two peers on loopback, the first
// listening on 127.0.0.2:6084 (RELOAD's port; 127.0.0.2 leaves 127.0.0.1:6084 to a device),
// join, Ping and Update each other while tshark captures. With the TLS key log tshark decrypts
// the capture, and every frame on the link must come out as RELOAD, exactly as sent.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FramedMessage, FrameReader, MessageCode, decodeMessage, nodeDestination, toHex } from '../src/codec/index.ts';
import type { OverlayDevice } from '../src/run/overlay-device.ts';
import { ChordPeer } from '../src/topology/chord/chord.ts';
import { closeAll, startDevice } from './harness/in-process.ts';

const TSHARK = 'tshark';
const probe = spawnSync(TSHARK, ['--version'], { encoding: 'utf8', timeout: 10_000 });
const SKIP = (probe.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
  ? 'tshark is not on PATH: install Wireshark\'s tshark to run the interop tier'
  : false;

const HOST = '127.0.0.2';
const PORT = 6084;
const LUA = fileURLToPath(new URL('./interop/reload-tls.lua', import.meta.url));
const WAIT_MS = 15_000;
/** Wireshark's PI_WARN and PI_ERROR expert severities. */
const PI_WARN = 0x00600000;
const PI_ERROR = 0x00800000;

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const all = (v: Json | undefined): Json[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const obj = (v: Json | undefined): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {});

/** Every object-or-value under `key` anywhere below `v`, in document order. */
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

// ---------------------------------------------------------------------------------------------
// Capture.

/** Starts tshark on loopback; resolves once it says it is capturing. */
function startCapture(file: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(TSHARK, ['-i', 'lo', '-f', `host ${HOST} and tcp port ${PORT}`, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tshark did not start capturing within ${WAIT_MS} ms: ${stderr}`));
    }, WAIT_MS);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('Capturing on')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      // Capturing on an interface needs root or CAP_NET_RAW/CAP_NET_ADMIN for dumpcap.
      reject(new Error(`tshark exited (${code}) before capturing on lo: ${stderr}`));
    });
  });
}

/** SIGINT makes tshark finish the file; SIGKILL only if it does not exit in time. */
async function stopCapture(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), WAIT_MS);
  await exited;
  clearTimeout(timer);
}

function runTshark(args: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(TSHARK, args, { encoding: 'utf8', timeout: 30_000, maxBuffer: 256 * 1024 * 1024, env });
  if (r.error) throw r.error;
  // stderr carries the "Running as user root" banner; only the exit status means failure.
  assert.equal(r.status, 0, `tshark ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Another run of this test may hold 127.0.0.2:6084 for a moment: wait for it, bounded. */
async function startListener(chord: { updateIntervalMs: number }): Promise<OverlayDevice> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      return await startDevice({ listen: { host: HOST, port: PORT }, chord });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function waitFor(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---------------------------------------------------------------------------------------------
// What tshark shows, and what the decrypted stream holds.

interface Dissected {
  frame: number;
  /** True when sent by the peer on port 6084. */
  fromListener: boolean;
  /** `data <sequence> <message hex>` or `ack <ack_sequence> <received>`. */
  key: string;
  /** For data frames: tshark's RELOAD layer and our own decoding of the same bytes. */
  reload?: Obj;
  bytes?: Uint8Array;
}

interface Views {
  frames: Dissected[];
  records: Obj[];
  expert: { frame: number; severity: number; keys: string[]; message: string }[];
  malformed: number[];
  /** The decrypted byte stream of each direction (`-z follow,tls,raw`). */
  streams: Uint8Array[];
}

function frameKey(f: FramedMessage): string {
  return f.type === 'data' ? `data ${f.sequence} ${toHex(f.message)}` : `ack ${f.ackSequence} ${f.received}`;
}

/**
 * tshark's views of the one TCP connection from `clientPort` to the listener; another run of
 * this test a moment earlier may have left its own connection in the capture.
 */
function readViews(pcap: string, keys: string, clientPort: number, env: NodeJS.ProcessEnv): Views {
  const common = ['-r', pcap, '-n', '-o', `tls.keylog_file:${keys}`, '-X', `lua_script:${LUA}`];
  const packets = JSON.parse(runTshark([...common, '-T', 'json', '--no-duplicate-keys'], env)) as Json[];
  const views: Views = { frames: [], records: [], expert: [], malformed: [], streams: [] };
  let stream: string | undefined;
  for (const p of packets) {
    const layers = obj(obj(obj(p)._source).layers);
    const tcp = obj(layers.tcp);
    if (!all(tcp['tcp.port']).includes(String(clientPort))) continue;
    stream ??= String(tcp['tcp.stream']);
    assert.equal(tcp['tcp.stream'], stream, `one TCP connection from port ${clientPort}`);
    const frame = Number(obj(layers.frame)['frame.number']);
    const fromListener = tcp['tcp.srcport'] === String(PORT);
    for (const e of collect(layers, '_ws.expert')) {
      const x = obj(e);
      views.expert.push({
        frame, severity: Number(x['_ws.expert.severity']), message: String(x['_ws.expert.message']),
        keys: Object.keys(x).filter((k) => !k.startsWith('_ws.expert')),
      });
    }
    if (collect(layers, '_ws.malformed').length > 0) views.malformed.push(frame);
    views.records.push(...collect(layers, 'tls.record').map(obj));
    const reloads = all(layers.reload).map(obj);
    let r = 0;
    for (const f of all(layers['reload-framing']).map(obj)) {
      if (f['reload_framing.type'] === '129') {
        views.frames.push({ frame, fromListener, key: `ack ${f['reload_framing.ack_sequence']} ${Number(f['reload_framing.received'])}` });
        continue;
      }
      const data = String(obj(f['reload_framing.message'])['reload_framing.message.data'] ?? '').replace(/:/g, '');
      views.frames.push({
        frame, fromListener, key: `data ${f['reload_framing.sequence']} ${data}`, reload: reloads[r++], bytes: Buffer.from(data, 'hex'),
      });
    }
    assert.equal(r, reloads.length, `frame ${frame}: RELOAD messages without a data frame`);
  }
  // One line per decrypted record, the second node's indented by a tab.
  assert.ok(stream !== undefined, `no packets from port ${clientPort} in the capture`);
  const follow = runTshark([...common, '-q', '-z', `follow,tls,raw,${stream}`], env).split('\n');
  const hex: string[][] = [[], []];
  let body = false;
  for (const line of follow) {
    if (line.startsWith('Node 1:')) { body = true; continue; }
    if (!body || line.trim() === '') continue;
    if (line.startsWith('=')) break;
    hex[line.startsWith('\t') ? 1 : 0].push(line.trim());
  }
  views.streams = hex.map((h) => new Uint8Array(Buffer.from(h.join(''), 'hex')));
  return views;
}

// ---------------------------------------------------------------------------------------------

describe('tshark decrypts and dissects a live RELOAD-over-TLS link', { skip: SKIP, timeout: 60_000 }, () => {
  let dir = '';
  let capture: ChildProcess | undefined;
  let views: Views;
  let listenerId = '';
  let joinerId = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'reload-tshark-tls-'));
    // A private configuration directory: no user preference can change the dissection.
    const env = { ...process.env, WIRESHARK_CONFIG_DIR: dir };
    const pcap = join(dir, 'link.pcapng');
    const keys = join(dir, 'tls-keys.txt');
    capture = await startCapture(pcap, env);

    // TlsTransport reads SSLKEYLOGFILE when it is built; both peers append to one key log.
    const saved = process.env.SSLKEYLOGFILE;
    process.env.SSLKEYLOGFILE = keys;
    let listener: OverlayDevice;
    let joiner: OverlayDevice;
    try {
      const chord = { updateIntervalMs: 200 };
      listener = await startListener(chord);
      joiner = await startDevice({ bootstrap: [listener.listening], chord });
    } finally {
      if (saved === undefined) delete process.env.SSLKEYLOGFILE;
      else process.env.SSLKEYLOGFILE = saved;
    }
    listenerId = toHex(listener.identity.nodeId);
    joinerId = toHex(joiner.identity.nodeId);
    // The joining peer's end of its link: which connection in the capture is ours.
    const clientPort = listener.node.links.get(joiner.identity.nodeId)!.remote.port;
    for (let i = 0; i < 3; i++) {
      await joiner.node.transport.request([nodeDestination(listener.identity.nodeId)], 'ping_req', { padding: new Uint8Array(0) });
      await listener.node.transport.request([nodeDestination(joiner.identity.nodeId)], 'ping_req', { padding: new Uint8Array(16) });
    }
    // Periodic Updates both ways (§10.7.4.1).
    await waitFor('periodic Updates', () => [listener, joiner].every((d) => d.topology instanceof ChordPeer && d.topology.counters.updatesReceived >= 3));
    await closeAll();
    // Let the last segments (Leave, FIN) reach the capture before it stops.
    await new Promise((r) => setTimeout(r, 300));
    await stopCapture(capture);
    views = readViews(pcap, keys, clientPort, env);
    assert.match(readFileSync(keys, 'utf8'), /^CLIENT_TRAFFIC_SECRET_0 /m, 'TLS 1.3 key log written');
  });

  after(async () => {
    if (capture) await stopCapture(capture);
    await closeAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('decrypts every TLS application-data record with the key log', () => {
    const appData = views.records.filter((r) => r['tls.record.opaque_type'] === '23');
    assert.ok(appData.length > 20, `${appData.length} encrypted records`);
    // Undecrypted records show no inner content type.
    assert.equal(appData.filter((r) => r['tls.record.content_type'] === undefined).length, 0, 'records tshark could not decrypt');
    const inner = appData.filter((r) => r['tls.record.content_type'] === '23');
    assert.ok(inner.length > 20, 'decrypted application data');
    assert.ok(views.streams.every((s) => s.length > 0), 'decrypted bytes in both directions');
  });

  it('dissects every frame of the decrypted stream, in order, as RELOAD framing (§6.6.2)', () => {
    const sent = views.streams.map((s) => {
      const reader = new FrameReader({ maxMessageSize: 5000 });
      const frames = reader.push(s).map(frameKey);
      assert.equal(reader.buffered, 0, 'the stream ends on a frame boundary');
      return frames;
    });
    // The joining peer opened the link and spoke first (its Attach, §10.5); the listener's
    // first frame is the ACK of it. That tells the two directions apart.
    const joinerSide = sent.findIndex((frames) => frames[0]?.startsWith('data 0 '));
    assert.ok(joinerSide >= 0 && !sent[1 - joinerSide][0]?.startsWith('data 0 '), 'exactly one side opens with data frame 0');
    const fromJoiner = sent[joinerSide];
    const fromListener = sent[1 - joinerSide];
    assert.ok(fromJoiner.length > 10 && fromListener.length > 10, `${fromJoiner.length} and ${fromListener.length} frames`);
    const dissected = (listener: boolean): string[] => views.frames.filter((f) => f.fromListener === listener).map((f) => f.key);
    assert.deepEqual(dissected(true), fromListener, 'frames from the listener');
    assert.deepEqual(dissected(false), fromJoiner, 'frames from the joining peer');
  });

  it('reads the join, Pings and Updates by message code, each request answered (§10.5, §6.5.3)', () => {
    const data = views.frames.filter((f) => f.reload);
    const codes = new Set<number>();
    const requests = new Map<string, { code: number; fromListener: boolean }>();
    const answered = new Set<string>();
    const destinations = new Set<string>();
    for (const f of data) {
      const contents = obj(f.reload!['reload.message.contents']);
      const code = Number(contents['reload.message.code']);
      const ours = decodeMessage(f.bytes!);
      assert.equal(code, ours.contents.code, `frame ${f.frame}: tshark's message code`);
      const txid = String(obj(f.reload!['reload.forwarding'])['reload.forwarding.trans_id']);
      assert.equal(BigInt(txid), ours.header.transactionId, `frame ${f.frame}: transaction_id`);
      codes.add(code);
      const first = ours.header.destinationList[0];
      if (first?.type === 'node') destinations.add(toHex(first.id));
      if (code !== MessageCode.error && (code & 1) === 1) requests.set(txid, { code, fromListener: f.fromListener });
      else {
        const req = requests.get(txid);
        if (req && code === req.code + 1 && req.fromListener !== f.fromListener) answered.add(txid);
      }
    }
    assert.ok(!codes.has(MessageCode.error), 'no error answers');
    const names = ['attach_req', 'attach_ans', 'join_req', 'join_ans', 'update_req', 'update_ans', 'ping_req', 'ping_ans'] as const;
    for (const n of names) assert.ok(codes.has(MessageCode[n]), `${n} (0x${MessageCode[n].toString(16)}) on the wire`);
    // What the peers waited for before stopping is answered on the link; a periodic Update or
    // a Leave may meet a peer that has already closed.
    const awaited = new Set<number>([MessageCode.attach_req, MessageCode.join_req, MessageCode.ping_req]);
    for (const [txid, req] of requests) {
      if (awaited.has(req.code)) assert.ok(answered.has(txid), `request 0x${req.code.toString(16)} ${txid} answered on the link`);
    }
    for (const fromListener of [true, false]) {
      const updates = [...requests].filter(([txid, r]) => r.code === MessageCode.update_req && r.fromListener === fromListener && answered.has(txid));
      assert.ok(updates.length >= 3, `${updates.length} Updates from the ${fromListener ? 'listener' : 'joining peer'} answered`);
    }
    assert.ok(destinations.has(listenerId) && destinations.has(joinerId), 'messages addressed to both peers by Node-ID');
  });

  it('marks nothing malformed and raises no expert errors', () => {
    assert.deepEqual(views.malformed, [], 'frames with _ws.malformed');
    assert.deepEqual(views.expert.filter((e) => e.severity >= PI_ERROR), [], 'expert errors');
    // TCP's own warnings (a reset from a socket closed with unread bytes, D-SACK or
    // retransmissions on a loaded machine) are the kernel's timing, not RELOAD's or TLS's.
    const warnings = views.expert.filter((e) => e.severity >= PI_WARN && !(e.keys.length > 0 && e.keys.every((k) => k.startsWith('tcp.'))));
    assert.deepEqual(warnings, [], 'expert warnings from TLS or RELOAD');
  });
});
