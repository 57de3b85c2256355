// LAN discovery on real multicast sockets, between processes: a network namespace of our own
// whose loopback carries multicast (the host's lo often lacks the MULTICAST flag), and one
// LanDiscovery per child process (test/fixtures/lan-discovery-peer.ts) speaking mDNS on
// 224.0.0.251:5353 (RFC 6762 §3).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { DiscoveredPeer } from '../src/device/lan-discovery.ts';

const NS = `p2psip-mdns-${process.pid}`;
const FIXTURE = 'test/fixtures/lan-discovery-peer.ts';
const OVERLAY = 'building.example';
const ID_A = 'a1'.repeat(16);
const ID_B = 'b2'.repeat(16);
const ID_C = 'c3'.repeat(16);

function ip(...args: string[]): { ok: boolean; why: string; missing: boolean } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  return { ok: r.status === 0, why: (r.stderr || r.error?.message || '').trim(), missing };
}

// The only reason to skip: no network namespaces here (no iproute2, or no CAP_SYS_ADMIN).
const created = ip('netns', 'add', NS);
const SKIP = created.missing
  ? 'the ip command (iproute2) is not installed: network namespaces are unavailable'
  : created.ok ? false : `ip netns is unavailable here (${created.why}): needs root or CAP_SYS_ADMIN`;
let nsExists = created.ok;
function deleteNamespace(): void {
  if (nsExists) ip('netns', 'del', NS);
  nsExists = false;
}
// Even if the runner dies before `after`, the namespace does not outlive us.
process.once('exit', deleteNamespace);

interface Child {
  name: string;
  proc: ChildProcess;
  events: Record<string, any>[];
  send(line: string): void;
  next(event: string, match?: (e: Record<string, any>) => boolean, timeoutMs?: number): Promise<Record<string, any>>;
  exited: Promise<number | null>;
}

const children: Child[] = [];

function start(name: string, init: { overlay: string; nodeId: string; port?: number }): Child {
  const proc = spawn('ip', ['netns', 'exec', NS, process.execPath, '--import', 'tsx', FIXTURE, JSON.stringify(init)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const events: Record<string, any>[] = [];
  const waiting = new Set<() => void>();
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    try { events.push(JSON.parse(line) as Record<string, any>); } catch { return; }
    for (const w of [...waiting]) w();
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => { resolve(code); for (const w of [...waiting]) w(); }));
  const child: Child = {
    name, proc, events, exited,
    send: (line) => { proc.stdin!.write(`${line}\n`); },
    next(event, match = () => true, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const e = events.find((x) => x.event === event && match(x));
          if (e) { done(); resolve(e); } else if (proc.exitCode !== null || proc.signalCode !== null) {
            done(); reject(new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) before "${event}": ${stderr}`));
          }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`${name}: no "${event}" within ${timeoutMs} ms: ${stderr}`)); }, timeoutMs);
        const done = (): void => { clearTimeout(timer); waiting.delete(check); };
        waiting.add(check);
        check();
      });
    },
  };
  children.push(child);
  return child;
}

/** Asks a child to discover and returns what it found. */
async function discover(c: Child, ms: number): Promise<DiscoveredPeer[]> {
  const before = c.events.length;
  c.send(`discover ${ms}`);
  const e = await c.next('discover', (x) => c.events.indexOf(x) >= before, ms + 10_000);
  return e.peers as DiscoveredPeer[];
}

describe('LAN discovery between processes over real multicast (network namespace)', { skip: SKIP, timeout: 60_000 }, () => {
  let a: Child;
  let b: Child;
  let c: Child;

  before(() => {
    for (const args of [['link', 'set', 'lo', 'up'], ['link', 'set', 'lo', 'multicast', 'on'], ['route', 'add', '224.0.0.0/4', 'dev', 'lo']]) {
      const r = ip('-n', NS, ...args);
      assert.ok(r.ok, `ip -n ${NS} ${args.join(' ')}: ${r.why}`);
    }
  });

  after(async () => {
    for (const ch of children) {
      if (ch.proc.exitCode === null && ch.proc.signalCode === null && ch.proc.pid !== undefined) {
        try { process.kill(ch.proc.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
    await Promise.all(children.map((ch) => ch.exited));
    deleteNamespace();
  });

  it('a browsing client finds an advertising peer of its overlay: Node-ID, port, address', async () => {
    b = start('B (client, browses only)', { overlay: OVERLAY, nodeId: ID_B });
    await b.next('ready');
    a = start('A (peer)', { overlay: OVERLAY, nodeId: ID_A, port: 7001 });
    c = start('C (peer of another overlay)', { overlay: 'other.example', nodeId: ID_C, port: 7002 });
    await Promise.all([a.next('ready'), c.next('ready')]);
    const found = (await b.next('discovered', (e) => e.peer.nodeId === ID_A, 8000)).peer as DiscoveredPeer;
    assert.deepEqual({ host: found.host, port: found.port, nodeId: found.nodeId, overlay: found.overlay }, { host: '127.0.0.1', port: 7001, nodeId: ID_A, overlay: OVERLAY });
  });

  it('a peer of another overlay is ignored, and nobody finds itself', async () => {
    const [byB, byA, byC] = await Promise.all([discover(b, 2500), discover(a, 2500), discover(c, 2500)]);
    assert.deepEqual(byB.map((p) => p.nodeId), [ID_A]);
    assert.deepEqual(byA, [], 'A: B does not advertise, C is of another overlay, A is itself');
    assert.deepEqual(byC, [], 'C: A is of another overlay');
    assert.ok(!b.events.some((e) => e.peer?.nodeId === ID_C), 'B never reported C');
  });

  it('garbage on the mDNS port is dropped without harm', async () => {
    const script = `
      const s = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: true });
      const grams = [Buffer.from([0xde, 0xad]), Buffer.from('000084000000000500000000', 'hex'), Buffer.alloc(600, 0xff)];
      let left = grams.length;
      for (const g of grams) s.send(g, 5353, '224.0.0.251', () => { if (--left === 0) s.close(); });`;
    const sender = spawnSync('ip', ['netns', 'exec', NS, process.execPath, '-e', script], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(sender.status, 0, sender.stderr);
    const before = b.events.length;
    b.send('counters');
    const counters = (await b.next('counters', (e) => b.events.indexOf(e) >= before)).counters as Record<string, number>;
    assert.ok(counters.malformed >= 1, `malformed ${counters.malformed}`);
    assert.deepEqual((await discover(b, 1500)).map((p) => p.nodeId), [ID_A], 'B still works');
    for (const ch of [a, b, c]) assert.equal(ch.proc.exitCode, null, `${ch.name} is alive`);
  });

  it('a peer that closes says goodbye and is removed from the others\' tables', async () => {
    a.send('close');
    await a.next('closed');
    const lost = await b.next('lost', (e) => e.peer.nodeId === ID_A, 5000);
    assert.equal(lost.peer.port, 7001);
    assert.deepEqual(await discover(b, 1000), []);
    assert.equal(await a.exited, 0, 'A exits by itself once closed: no socket or timer left behind');
  });
});
