// The node's links after close: a connect-back or an accept still in flight when the node
// closes must not open a link, or the peer keeps a link whose frames are ACKed while the
// closed transport drops every message, and never notices the node is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryLinkPair } from '../src/link/memory-link.ts';
import { Links } from '../src/reload/links.ts';
import { ReloadNode } from '../src/reload/node.ts';
import { selfSignedSecurity } from '../src/run/overlay-device.ts';
import { FakeClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import { OVERLAY, identity, settle } from './harness/memory-overlay.ts';

test('a closed link table opens no link and takes none', async () => {
  const clock = new FakeClock();
  let connects = 0;
  const connector = {
    connect: async () => {
      connects++;
      return memoryLinkPair({ clock }, { nodeId: identity(0).nodeId }, { nodeId: identity(1).nodeId })[0];
    },
  };
  const links = new Links({ clock, log: silentLogger, connector }, { selfId: identity(0).nodeId });
  links.closeAll('node closed');
  await assert.rejects(links.connect({ host: '192.0.2.1', port: 1 }), /node closed/);
  assert.equal(connects, 0);
  const [mine, theirs] = memoryLinkPair({ clock }, { nodeId: identity(0).nodeId }, { nodeId: identity(1).nodeId });
  let remoteClosed = false;
  theirs.onClose = () => { remoteClosed = true; };
  theirs.onMessage = () => {};
  assert.equal(links.add(mine), false);
  assert.equal(mine.closed, true);
  assert.equal(links.size, 0);
  await settle();
  assert.equal(remoteClosed, true, 'the other end sees the link go');
});

test('a closed ReloadNode closes a link accepted after close', async () => {
  const clock = new FakeClock();
  const node = new ReloadNode(
    { clock, log: silentLogger, security: selfSignedSecurity(identity(0), clock), connector: { connect: () => Promise.reject(new Error('unused')) } },
    { overlay: OVERLAY, advertised: { host: '192.0.2.1', port: 1 } },
  );
  node.close();
  const [, inbound] = memoryLinkPair({ clock }, { nodeId: identity(1).nodeId }, { nodeId: identity(0).nodeId });
  node.acceptLink(inbound);
  assert.equal(inbound.closed, true);
  assert.equal(node.links.size, 0);
});
