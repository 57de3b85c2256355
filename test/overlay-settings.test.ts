// What a device takes from its overlay configuration document before it starts (RFC 6940
// §11.1, §11.3, §11.4): bootstrap nodes, a configured bootstrap node starting the overlay,
// clients-permitted, self-signed-permitted, and root certificates beside self-signed ones.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority } from '../src/enroll/index.ts';
import { type OverlayConfiguration, embeddedDefaultConfiguration, toXml } from '../src/reload/config/index.ts';
import { type OverlayDevice, startOverlayDevice } from '../src/run/overlay-device.ts';
import type { ChordPeer } from '../src/topology/chord/chord.ts';
import { silentLogger } from '../src/util/log.ts';
import { OVERLAY, closeAll, startDevice } from './harness/in-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'p2psip-settings-'));
let files = 0;
const own: OverlayDevice[] = [];

function document(change: Partial<OverlayConfiguration>): string {
  const file = join(dir, `overlay${++files}.xml`);
  writeFileSync(file, toXml({ ...embeddedDefaultConfiguration(OVERLAY), ...change }));
  return file;
}

async function start(overlayConfiguration: string, opts: { role?: 'peer' | 'client'; port?: number } = {}): Promise<OverlayDevice> {
  const device = await startOverlayDevice({
    overlay: OVERLAY, role: opts.role ?? 'peer', userName: `flat${files}@${OVERLAY}`, listen: { host: '127.0.0.1', port: opts.port ?? 0 },
    bootstrap: [], dataDir: mkdtempSync(join(dir, 'd')), overlayConfiguration,
  }, { log: silentLogger });
  own.push(device);
  return device;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe('settings from the overlay configuration document', { timeout: 60_000 }, () => {
  after(async () => {
    await Promise.allSettled(own.map((d) => d.stop()));
    await closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a device without --bootstrap joins through the document\'s bootstrap-node', async () => {
    const lobby = await startDevice({ userName: `lobby@${OVERLAY}` });
    const flat = await start(document({ bootstrapNodes: [{ host: '127.0.0.1', port: lobby.listening.port }] }));
    assert.equal(flat.topology.state, 'joined');
    assert.ok((lobby.topology as ChordPeer).table.contains(flat.identity.nodeId));
  });

  it('a configured bootstrap node starts the overlay when no other bootstrap answers', async () => {
    const port = await freePort();
    const unreachable = await freePort();
    const device = await start(document({ bootstrapNodes: [{ host: '127.0.0.1', port }, { host: '127.0.0.1', port: unreachable }] }), { port });
    assert.equal(device.topology.state, 'joined');
    assert.equal((device.topology as ChordPeer).table.successors.length, 0);
  });

  it('a client refuses to run where the document says clients-permitted false', async () => {
    await assert.rejects(start(document({ clientsPermitted: false }), { role: 'client' }), /does not permit clients/);
  });

  it('self-signed-permitted false without a root-cert refuses to start', async () => {
    await assert.rejects(start(document({ selfSignedPermitted: { value: false, digest: 'sha256' } })), /permits no self-signed certificates/);
  });

  it('root certificates beside self-signed-permitted accept both kinds of certificate', async () => {
    const ca = createCertificateAuthority();
    const device = await start(document({ rootCerts: [ca.certificate] }));
    assert.equal((device.status() as { trust: string }).trust, 'ca+self-signed');
  });
});
