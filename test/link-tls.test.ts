// TlsTransport over real TLS on 127.0.0.1: mutual certificate authentication, framed
// messages both ways, rejection paths, peer death, key log and simultaneous connect.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { fromHex, type NodeId, toHex } from '../src/codec/index.ts';
import { systemClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import { ConnectionTable, type Link, TlsTransport, type TlsTransportInit } from '../src/link/index.ts';

interface Identity {
  nodeId: NodeId;
  key: string;
  cert: string;
  der: Uint8Array;
}

let dir: string;
const ids: Record<'a' | 'b' | 'c', Identity> = {} as never;

/** A self-signed certificate carrying the Node-ID in a reload:// SAN URI (§11.3). */
function makeIdentity(name: string, nodeHex: string): Identity {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/', '-days', '1',
    '-addext', `subjectAltName=URI:reload://0110${nodeHex}@test.example/`, '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  const pem = readFileSync(cert, 'utf8');
  return { nodeId: fromHex(nodeHex), key: readFileSync(key, 'utf8'), cert: pem, der: new Uint8Array(new X509Certificate(pem).raw) };
}

/** Stand-in for the identity module: the Node-ID is the SAN URI's single node destination. */
function verifyPeer(der: Uint8Array): NodeId {
  const san = new X509Certificate(der).subjectAltName ?? '';
  const m = /URI:reload:\/\/0110([0-9a-f]{32})@/.exec(san);
  if (!m) throw new Error('no reload URI with a Node-ID');
  return fromHex(m[1]);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'link-tls-'));
  ids.a = makeIdentity('a', '11'.repeat(16));
  ids.b = makeIdentity('b', '22'.repeat(16));
  ids.c = makeIdentity('c', '33'.repeat(16));
});

after(() => rmSync(dir, { recursive: true, force: true }));

const transports: TlsTransport[] = [];
function transport(id: Identity, extra: Partial<TlsTransportInit> = {}): TlsTransport {
  const t = new TlsTransport({ clock: systemClock, log: silentLogger }, { key: id.key, cert: id.cert, verifyPeer, ...extra });
  transports.push(t);
  return t;
}
async function closeAll(): Promise<void> {
  await Promise.all(transports.splice(0).map((t) => t.close()));
}

async function waitFor(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function nextLink(t: TlsTransport): Promise<Link> {
  return new Promise((resolve) => (t.onLink = resolve));
}

const msg = (i: number): Uint8Array => new TextEncoder().encode(`message ${i}`);

test('both directions carry 100 messages in order over mutually authenticated TLS', async () => {
  const server = transport(ids.b);
  const client = transport(ids.a, { key: createPrivateKey(ids.a.key) });
  const at = await server.listen('127.0.0.1', 0);
  assert.ok(at.port > 0);
  const inbound = nextLink(server);
  const out = await client.connect(at, ids.b.nodeId);
  const inb = await inbound;
  assert.deepEqual([toHex(out.remoteNodeId), out.outbound], [toHex(ids.b.nodeId), true]);
  assert.deepEqual([toHex(inb.remoteNodeId), inb.outbound], [toHex(ids.a.nodeId), false]);
  assert.deepEqual(out.remoteCertificate, ids.b.der);
  assert.deepEqual(inb.remoteCertificate, ids.a.der);
  assert.equal(inb.remote.host, '127.0.0.1');

  const atServer: Uint8Array[] = [];
  const atClient: Uint8Array[] = [];
  inb.onMessage = (m) => atServer.push(m);
  out.onMessage = (m) => atClient.push(m);
  // Batches below the send queue cap (64 unacknowledged frames), each waiting for its ACKs.
  for (let i = 0; i < 100; i++) {
    assert.equal(out.send(msg(i)), true);
    assert.equal(inb.send(msg(1000 + i)), true);
    if (i % 25 === 24) await waitFor('ACKs', () => out.stats.acksReceived === i + 1 && inb.stats.acksReceived === i + 1);
  }
  await waitFor('200 messages', () => atServer.length === 100 && atClient.length === 100);
  assert.deepEqual(atServer, Array.from({ length: 100 }, (_, i) => msg(i)));
  assert.deepEqual(atClient, Array.from({ length: 100 }, (_, i) => msg(1000 + i)));
  await waitFor('all ACKs', () => out.stats.acksReceived === 100 && inb.stats.acksReceived === 100);
  assert.ok(out.stats.srttMs !== undefined && out.stats.rtoMs >= 200);

  const closed: string[] = [];
  inb.onClose = (r) => closed.push(r);
  out.close('bye');
  await waitFor('server side close', () => closed.length === 1);
  await closeAll();
});

test('a peer proving another Node-ID than expected is rejected', async () => {
  const server = transport(ids.c);
  const client = transport(ids.a);
  const at = await server.listen('127.0.0.1', 0);
  server.onLink = () => {};
  await assert.rejects(client.connect(at, ids.b.nodeId), /expected 2222/);
  assert.equal(client.stats.peersRejected, 1);
  await closeAll();
});

test('a client without a certificate is rejected by the server', async () => {
  const server = transport(ids.b);
  const at = await server.listen('127.0.0.1', 0);
  let links = 0;
  server.onLink = () => links++;
  const socket = tls.connect({ host: at.host, port: at.port, rejectUnauthorized: false });
  socket.on('error', () => {});
  await new Promise((r) => socket.once('close', r));
  assert.equal(links, 0);
  assert.equal(server.stats.peersRejected, 1);
  await closeAll();
});

test('a client whose certificate fails verifyPeer is rejected; so is a server', async () => {
  const strict = (der: Uint8Array): NodeId => {
    const id = verifyPeer(der);
    if (toHex(id) === toHex(ids.a.nodeId)) throw new Error('not enrolled');
    return id;
  };
  const server = transport(ids.b, { verifyPeer: strict });
  const at = await server.listen('127.0.0.1', 0);
  let links = 0;
  server.onLink = () => links++;
  const client = transport(ids.a);
  // TLS 1.3 finishes the client's side first: it may get a link that closes at once.
  const link = await client.connect(at).catch(() => undefined);
  if (link) await waitFor('rejected link to close', () => link.closed);
  assert.equal(links, 0);
  assert.equal(server.stats.peersRejected, 1);

  const other = transport(ids.a);
  const at2 = await other.listen('127.0.0.1', 0);
  const picky = transport(ids.b, { verifyPeer: strict });
  await assert.rejects(picky.connect(at2), /not enrolled/);
  await closeAll();
});

test('a killed peer is noticed at once', async () => {
  const server = transport(ids.b);
  const at = await server.listen('127.0.0.1', 0);
  const inbound = nextLink(server);
  const raw = tls.connect({ host: at.host, port: at.port, key: ids.a.key, cert: ids.a.cert, rejectUnauthorized: false });
  raw.on('error', () => {});
  const link = await inbound;
  const reasons: string[] = [];
  link.onClose = (r) => reasons.push(r);
  link.onMessage = () => {};
  const killedAt = Date.now();
  raw.destroy();
  await waitFor('close', () => reasons.length === 1, 1000);
  assert.ok(Date.now() - killedAt < 500);
  assert.match(reasons[0], /remote closed|socket closed|socket error/);
  await closeAll();
});

test('handshakes that never finish time out on both sides', async () => {
  const silent: Server = createServer((s) => s.resume()); // reading, so it sees the close
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  const client = transport(ids.a, { handshakeTimeoutMs: 200 });
  await assert.rejects(client.connect({ host: '127.0.0.1', port }), /handshake timeout/);
  assert.equal(client.stats.handshakeFailures, 0, 'a timeout is not a failed certificate check');
  await new Promise((r) => silent.close(r));

  const server = transport(ids.b, { handshakeTimeoutMs: 200 });
  const at = await server.listen('127.0.0.1', 0);
  const mute = tcpConnect(at.port, at.host);
  mute.on('error', () => {});
  mute.resume();
  await new Promise((r) => mute.once('close', r));
  assert.equal(server.stats.handshakeFailures, 1);
  await closeAll();
});

test('TLS key log lines are appended to keylogFile', async () => {
  const keylogFile = join(dir, 'keys.log');
  const server = transport(ids.b, { keylogFile });
  const client = transport(ids.a, { keylogFile });
  const at = await server.listen('127.0.0.1', 0);
  server.onLink = () => {};
  await client.connect(at, ids.b.nodeId);
  await closeAll();
  const lines = readFileSync(keylogFile, 'utf8').trim().split('\n');
  assert.ok(lines.some((l) => /^(CLIENT_RANDOM|CLIENT_HANDSHAKE_TRAFFIC_SECRET) /.test(l)), lines[0]);
});

test('close is idempotent and closes the listener and every link', async () => {
  const server = transport(ids.b);
  const client = transport(ids.a);
  const at = await server.listen('127.0.0.1', 0);
  const inbound = nextLink(server);
  const out = await client.connect(at);
  const inb = await inbound;
  const p = server.close();
  assert.equal(server.close(), p);
  await p;
  assert.equal(inb.closed, true);
  await waitFor('client side close', () => out.closed);
  await assert.rejects(server.connect(at), /transport closed/);
  await assert.rejects(client.connect(at), /ECONNREFUSED/);
  await closeAll();
});

test('simultaneous connects in both directions resolve to one shared link', async () => {
  const a = transport(ids.a);
  const b = transport(ids.b);
  const tables = new Map<TlsTransport, ConnectionTable>();
  const received: string[] = [];
  for (const [t, id] of [[a, ids.a], [b, ids.b]] as const) {
    const table = new ConnectionTable({ log: silentLogger }, { localNodeId: id.nodeId });
    tables.set(t, table);
    t.onLink = (link) => {
      link.onMessage = (m) => received.push(`${toHex(id.nodeId).slice(0, 2)} got ${new TextDecoder().decode(m)}`);
      table.add(link);
    };
  }
  const [atA, atB] = await Promise.all([a.listen('127.0.0.1', 0), b.listen('127.0.0.1', 0)]);
  const [ab, ba] = await Promise.all([a.connect(atB, ids.b.nodeId), b.connect(atA, ids.a.nodeId)]);
  ab.onMessage = (m) => received.push(`11 got ${new TextDecoder().decode(m)}`);
  ba.onMessage = (m) => received.push(`22 got ${new TextDecoder().decode(m)}`);
  tables.get(a)!.add(ab);
  tables.get(b)!.add(ba);
  const tableA = tables.get(a)!;
  const tableB = tables.get(b)!;
  await waitFor('one link on each side', () => ba.closed && tableA.has(ids.b.nodeId) && tableB.has(ids.a.nodeId));
  const heldA = tableA.get(ids.b.nodeId)!;
  const heldB = tableB.get(ids.a.nodeId)!;
  // 11.. < 22..: the connection A initiated wins on both sides.
  assert.equal(heldA, ab);
  assert.equal(heldA.outbound, true);
  assert.equal(heldB.outbound, false);
  assert.equal(tableA.size + tableB.size, 2);
  assert.equal(tableA.stats.replacements + tableB.stats.replacements, 2, 'each side dropped its other link');
  heldA.send(new TextEncoder().encode('ping'));
  heldB.send(new TextEncoder().encode('pong'));
  await waitFor('messages over the shared link', () => received.length === 2);
  assert.deepEqual(received.sort(), ['11 got pong', '22 got ping']);
  await closeAll();
});
