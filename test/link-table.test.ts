// ConnectionTable: one link per Node-ID, a cap with LRU eviction that spares protected
// links, refusal when all are protected, and the simultaneous-connect tie-break.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type NodeId, toHex } from '../src/codec/index.ts';
import { silentLogger } from '../src/util/log.ts';
import { ConnectionTable, type ConnectionTableInit, type Link } from '../src/link/index.ts';

const id = (n: number): NodeId => new Uint8Array(16).fill(n);

/** The table only needs a Link's identity, direction and close; nothing is sent. */
class FakeLink implements Link {
  static next = 1;
  readonly id = FakeLink.next++;
  readonly remoteCertificate = new Uint8Array(0);
  readonly remote = { host: 'fake', port: 0 };
  readonly stats = { srttMs: undefined, rtoMs: 1000, framesSent: 0, framesReceived: 0, acksReceived: 0, bytesSent: 0, bytesReceived: 0, sendQueueDrops: 0, lastReceivedMs: 0 };
  closeReason: string | undefined;
  onMessage = (): void => {};
  onClose = (_reason: string): void => {};
  constructor(readonly remoteNodeId: NodeId, readonly outbound = true) {}
  get closed(): boolean {
    return this.closeReason !== undefined;
  }
  send(): boolean {
    return !this.closed;
  }
  close(reason: string): void {
    if (this.closed) return;
    this.closeReason = reason;
    this.onClose(reason);
  }
}

function table(init: Partial<ConnectionTableInit> = {}) {
  const t = new ConnectionTable({ log: silentLogger }, { localNodeId: id(0x50), ...init });
  const closed: string[] = [];
  t.onClose = (link, reason) => closed.push(`${toHex(link.remoteNodeId).slice(0, 2)} ${reason}`);
  return { t, closed };
}

test('links are found by Node-ID, listed, removed and reported once when they close', () => {
  const { t, closed } = table();
  const l1 = new FakeLink(id(1));
  const l2 = new FakeLink(id(2));
  assert.equal(t.add(l1), true);
  assert.equal(t.add(l2), true);
  assert.equal(t.add(l1), true, 'adding the held link again is a no-op');
  assert.equal(t.size, 2);
  assert.equal(t.get(id(1)), l1);
  assert.deepEqual([...t], [l1, l2]);
  l2.close('ack timeout');
  l2.close('again');
  assert.equal(t.has(id(2)), false);
  assert.deepEqual(closed, ['02 ack timeout']);
  assert.equal(t.remove(id(1), 'not needed'), true);
  assert.equal(l1.closeReason, 'not needed');
  assert.equal(t.remove(id(1)), false);
  assert.deepEqual(closed, ['02 ack timeout', '01 not needed']);
  const dead = new FakeLink(id(3));
  dead.close('gone');
  assert.equal(t.add(dead), false, 'a closed link is not held');
  assert.equal(t.size, 0);
});

test('over the cap the least recently used link is evicted', () => {
  const { t, closed } = table({ maxLinks: 3 });
  const links = [1, 2, 3].map((n) => new FakeLink(id(n)));
  for (const l of links) t.add(l);
  t.touch(id(1));
  const l4 = new FakeLink(id(4));
  assert.equal(t.add(l4), true);
  assert.equal(links[1].closeReason, 'evicted');
  assert.deepEqual([...t].map((l) => l.remoteNodeId[0]), [3, 1, 4]);
  assert.deepEqual(closed, ['02 evicted']);
  assert.equal(t.stats.evictions, 1);
});

test('protected links are never evicted; when all are protected the new link is refused', () => {
  const guarded = new Set([1, 2]);
  const { t } = table({ maxLinks: 3, isProtected: (n) => guarded.has(n[0]) });
  const links = [1, 2, 3].map((n) => new FakeLink(id(n)));
  for (const l of links) t.add(l);
  assert.equal(t.add(new FakeLink(id(4))), true);
  assert.equal(links[2].closeReason, 'evicted', 'the LRU unprotected link, not links 1 and 2');
  guarded.add(4);
  const l5 = new FakeLink(id(5));
  assert.equal(t.add(l5), false);
  assert.equal(l5.closeReason, 'connection table full');
  assert.equal(t.stats.refusals, 1);
  assert.equal(t.stats.evictions, 1);
  assert.deepEqual([...t].map((l) => l.remoteNodeId[0]), [1, 2, 4]);
});

test('two links to one Node-ID: the one whose initiator has the smaller Node-ID survives', () => {
  // Local 0x50, remote 0x10: the remote initiated the inbound link and is smaller.
  for (const order of ['outbound first', 'inbound first']) {
    const { t, closed } = table();
    const out = new FakeLink(id(0x10), true);
    const inb = new FakeLink(id(0x10), false);
    const [first, second] = order === 'outbound first' ? [out, inb] : [inb, out];
    t.add(first);
    assert.equal(t.add(second), second === inb, order);
    assert.equal(t.get(id(0x10)), inb, order);
    assert.equal(out.closeReason, 'duplicate link');
    assert.equal(inb.closed, false);
    assert.equal(t.stats.replacements, 1);
    assert.deepEqual(closed, order === 'outbound first' ? ['10 duplicate link'] : []);
  }
  // Remote 0x90 is larger: this node's own outbound link survives.
  const { t } = table();
  const out = new FakeLink(id(0x90), true);
  const inb = new FakeLink(id(0x90), false);
  t.add(inb);
  t.add(out);
  assert.equal(t.get(id(0x90)), out);
  assert.equal(inb.closeReason, 'duplicate link');
});

test('a second link with the same initiator replaces the older one', () => {
  const { t } = table();
  const old = new FakeLink(id(7), true);
  const fresh = new FakeLink(id(7), true);
  t.add(old);
  assert.equal(t.add(fresh), true);
  assert.equal(old.closeReason, 'duplicate link');
  assert.equal(t.get(id(7)), fresh);
  assert.equal(t.size, 1);
  old.close('late');
  assert.equal(t.get(id(7)), fresh, 'the replaced link closing does not remove its successor');
});

test('closeAll closes and reports every link', () => {
  const { t, closed } = table();
  const links = [1, 2].map((n) => new FakeLink(id(n)));
  for (const l of links) t.add(l);
  t.closeAll('shutdown');
  t.closeAll('shutdown');
  assert.equal(t.size, 0);
  assert.deepEqual(links.map((l) => l.closeReason), ['shutdown', 'shutdown']);
  assert.deepEqual(closed, ['01 shutdown', '02 shutdown']);
});
