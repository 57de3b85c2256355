// AppAttach plumbing (RFC 6940 §6.5.2): dispatch by Application-ID over a real two-peer
// overlay; an application nobody registered gets Error_Not_Found.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AppAttach, ApplicationId, ErrorCode, type IceCandidate, nodeDestination, OverlayLinkType } from '../src/codec/index.ts';
import { ReloadError } from '../src/reload/errors.ts';
import { type OverlayDevice, startOverlayDevice } from '../src/run/overlay-device.ts';
import { silentLogger } from '../src/util/log.ts';

const dir = mkdtempSync(join(tmpdir(), 'p2psip-appattach-'));
let a: OverlayDevice;
let b: OverlayDevice;

const sipCandidate = (port: number): IceCandidate => ({
  addrPort: { type: 'ipv4', address: '127.0.0.1', port }, overlayLink: OverlayLinkType['TLS-TCP-FH-NO-ICE'], foundation: 's', priority: 1, type: 'host', extensions: [],
});

before(async () => {
  const base = { overlay: 'building.example', role: 'peer' as const, listen: { host: '127.0.0.1', port: 0 }, userName: 'x@building.example' };
  a = await startOverlayDevice({ ...base, bootstrap: [], dataDir: join(dir, 'a') }, { log: silentLogger });
  b = await startOverlayDevice({ ...base, bootstrap: [{ host: '127.0.0.1', port: a.listening.port }], dataDir: join(dir, 'b') }, { log: silentLogger });
});

after(async () => {
  await b?.stop();
  await a?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('an AppAttach reaches the application registered for its Application-ID', async () => {
  const seen: AppAttach[] = [];
  b.node.application(ApplicationId.SIP, { candidates: () => [sipCandidate(5070)], attached: (req) => seen.push(req) });
  a.node.application(ApplicationId.SIP, { candidates: () => [sipCandidate(5080)], attached: () => {} });
  const { answer, signer } = await a.node.appAttach([nodeDestination(b.identity.nodeId)], ApplicationId.SIP);
  assert.deepEqual(signer[0], b.identity.nodeId);
  assert.equal(answer.application, ApplicationId.SIP);
  assert.equal(answer.role, 'active');
  assert.deepEqual(answer.candidates, [sipCandidate(5070)]);
  await new Promise((r) => setImmediate(r));
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0].candidates, [sipCandidate(5080)]);
});

test('an Application-ID nobody registered is Error_Not_Found', async () => {
  await assert.rejects(
    a.node.appAttach([nodeDestination(b.identity.nodeId)], 61441),
    (e) => e instanceof ReloadError && e.code === ErrorCode.Error_Not_Found,
  );
});
