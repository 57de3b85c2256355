// ConfigUpdate over real TLS links (RFC 6940 §6.5.4, §11.1): a newer configuration signed
// by the configuration signer reaches every peer and is kept on flash; an unsigned one, or
// one signed by anybody else, is refused everywhere and nothing changes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, nodeDestination } from '../src/codec/index.ts';
import { type OverlayConfiguration, defineKind, embeddedDefaultConfiguration, signConfiguration, toXml } from '../src/reload/config/index.ts';
import { ReloadError } from '../src/reload/errors.ts';
import { createSelfSignedIdentity } from '../src/reload/security/identity.ts';
import type { OverlayDevice } from '../src/run/overlay-device.ts';
import { OVERLAY, closeAll, startDevice } from './harness/in-process.ts';
import { eventually } from './harness/memory-overlay.ts';

describe('ConfigUpdate', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-config-'));
  const operator = createSelfSignedIdentity({ overlay: OVERLAY, userName: `operator@${OVERLAY}` });
  const rogue = createSelfSignedIdentity({ overlay: OVERLAY, userName: `rogue@${OVERLAY}` });
  const first: OverlayConfiguration = { ...embeddedDefaultConfiguration(OVERLAY, { configurationSigners: [operator.nodeId] }), sequence: 1 };
  const version = (sequence: number, maxCount: number): OverlayConfiguration => ({
    ...first, sequence, kinds: first.kinds.map((k) => (k.name === 'SIP-REGISTRATION'
      ? defineKind({ name: k.name, dataModel: k.dataModel, accessControl: k.accessControl, maxCount, maxSize: k.maxSize })
      : k)),
  });
  const devices: OverlayDevice[] = [];
  const sequences = (): number[] => devices.map((d) => d.configuration.sequence);

  before(async () => {
    const file = join(dir, 'overlay.xml');
    writeFileSync(file, signConfiguration(toXml(first), operator));
    devices.push(await startDevice({ overlayConfiguration: file, userName: `flat0@${OVERLAY}` }));
    for (let i = 1; i < 5; i++) devices.push(await startDevice({ overlayConfiguration: file, userName: `flat${i}@${OVERLAY}`, bootstrap: [devices[0].listening] }));
  });
  after(async () => {
    await closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every peer starts with the signed configuration\'s sequence in its headers', () => {
    assert.deepEqual(sequences(), [1, 1, 1, 1, 1]);
    assert.ok(devices.every((d) => d.node.transport.configurationSequence === 1));
  });

  it('a newer configuration signed by the configuration signer reaches every peer, with its Kinds', async () => {
    const decision = await devices[2].configuration.offer(signConfiguration(toXml(version(2, 8)), operator));
    assert.ok(decision.accepted);
    await eventually(() => sequences().every((s) => s === 2), 10_000, () => JSON.stringify(sequences()));
    assert.ok(devices.every((d) => d.kinds.byName('SIP-REGISTRATION')?.maxCount === 8));
    assert.ok(devices.every((d) => d.node.transport.configurationSequence === 2));
    // The overlay still works under the new sequence.
    const answer = await devices[4].node.transport.request([nodeDestination(devices[1].identity.nodeId)], 'ping_req', { padding: new Uint8Array(0) });
    assert.ok(answer.signer.length > 0);
  });

  it('an unsigned configuration is refused, by the device and by a peer it is pushed to', async () => {
    const unsigned = toXml(version(3, 4));
    const decision = await devices[1].configuration.offer(unsigned);
    assert.equal(decision.accepted, false);
    await assert.rejects(
      devices[3].node.transport.request([nodeDestination(devices[0].identity.nodeId)], 'config_update_req', { type: 'config', configData: new TextEncoder().encode(unsigned) }),
      (e: unknown) => e instanceof ReloadError && e.code === ErrorCode.Error_Forbidden,
    );
    assert.deepEqual(sequences(), [2, 2, 2, 2, 2]);
  });

  it('a configuration signed by someone who is not a configuration signer is refused everywhere', async () => {
    const forged = signConfiguration(toXml(version(3, 4)), rogue);
    const decision = await devices[0].configuration.offer(forged);
    assert.equal(decision.accepted, false);
    if (!decision.accepted) assert.equal(decision.reason, 'not_a_signer');
    for (const target of devices.slice(1)) {
      await assert.rejects(
        devices[0].node.transport.request([nodeDestination(target.identity.nodeId)], 'config_update_req', { type: 'config', configData: new TextEncoder().encode(forged) }),
        (e: unknown) => e instanceof ReloadError && e.code === ErrorCode.Error_Forbidden,
      );
    }
    assert.deepEqual(sequences(), [2, 2, 2, 2, 2]);
    assert.ok(devices.every((d) => d.kinds.byName('SIP-REGISTRATION')?.maxCount === 8));
  });
});
