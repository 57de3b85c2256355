// An enrolled overlay (CA mode, RFC 6940 §11.3) over real TLS on loopback: devices enrolled
// through the HTTPS enrollment server keep working once it is gone, and a certificate that
// does not chain to the overlay's root is refused, on a link and inside stored data, with the
// data stored before unchanged.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type NodeId, type ResourceId, type StoredData, type StoredDataValue, ErrorCode, KindId, SipRegistration, decode, encode, idEquals, resourceDestination, resourceId, toHex,
} from '../src/codec/index.ts';
import {
  type CertificateAuthority, EnrollmentError, EnrollmentServer, NodeIdRegistry, UserDirectory, addUser, createCertificateAuthority, enrollDevice,
  issueCertificate, issueServerCertificate, loadOrCreateCertificateAuthority, requestCertificate,
} from '../src/enroll/index.ts';
import { ReloadError } from '../src/reload/errors.ts';
import { type NodeIdentity, buildCsr, certificatePem, createSelfSignedIdentity, fromPem, selfSignedNodeId } from '../src/reload/security/index.ts';
import { nodeSecurity } from '../src/reload/security/node-security.ts';
import type { DeviceConfig } from '../src/run/config.ts';
import { type OverlayDevice, startOverlayDevice } from '../src/run/overlay-device.ts';
import type { ChordPeer } from '../src/topology/chord/chord.ts';
import { systemClock } from '../src/util/clock.ts';
import { type Logger, setLogSink } from '../src/util/log.ts';
import { closeAll, startDevice } from './harness/in-process.ts';

const OVERLAY = 'building.example';
const CA_NAME = `${OVERLAY} enrollment CA`;
const FLATS = ['flat1', 'flat2', 'flat3', 'flat4'].map((f) => ({ userName: `${f}@${OVERLAY}`, password: `${f} front door key` }));
const ROGUE_USER = `rogue@${OVERLAY}`;
const REG = KindId.SIP_REGISTRATION;
const ALL_REGISTRATIONS = [{ kind: REG, generation: 0n, model: 'dictionary' as const, keys: [] }];

/** Bounds of every wait in this file. */
const RING_SETTLES_WITHIN_MS = 15_000;
const JOIN_REFUSED_WITHIN_MS = 10_000;
const LINK_VERDICT_WITHIN_MS = 5_000;

/** A forwarding entry (RFC 7904 §3.2): the Storing Peer refuses values that are no SipRegistration. */
const registration = (key: NodeId, s: string): StoredDataValue => ({ model: 'dictionary', key, value: { exists: true, value: encode(SipRegistration, { type: 'uri', uri: s }) } });

/** Settles with `p`, or rejects once `ms` have passed. */
async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no outcome within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitUntil(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await delay(25);
  }
}

async function expectRefused(p: Promise<unknown>, code: number, reason: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ReloadError, String(e));
    assert.equal(e.code, code, e.message);
    // error_info carries the refusing peer's reason as UTF-8 text.
    assert.match(new TextDecoder().decode(e.infoBytes), reason);
    return true;
  });
}

describe('an enrolled overlay (CA mode)', { timeout: 60_000 }, () => {
  let dir: string;
  let ca: CertificateAuthority;
  let server: EnrollmentServer;
  let url: string;
  const devices: OverlayDevice[] = [];
  let peers: OverlayDevice[];
  const enrolledNodeIds: NodeId[] = [];
  /** What the devices' own component loggers wrote (the TLS layer logs each refused peer). */
  const logged: string[] = [];
  const record = (msg: string, fields?: Record<string, unknown>): void => {
    logged.push(JSON.stringify({ msg, ...fields }, (_k, v: unknown) => (v instanceof Error ? v.message : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));
  };
  const recording: Logger = { debug() {}, info: record, warn: record, error: record };
  const rejectedInbound = (reason: string): boolean =>
    logged.some((line) => line.includes('"inbound peer rejected"') && line.includes(`peer certificate rejected: ${reason}`));

  const config = (name: string, userName: string, bootstrap: OverlayDevice[]): DeviceConfig => ({
    overlay: OVERLAY, role: 'peer', listen: { host: '127.0.0.1', port: 0 }, bootstrap: bootstrap.map((d) => d.listening), dataDir: join(dir, name), userName,
  });

  async function start(c: DeviceConfig): Promise<OverlayDevice> {
    const d = await startOverlayDevice(c, { log: recording });
    devices.push(d);
    return d;
  }

  /**
   * Starts a device that must not get in; resolves with the refusal. A device that comes up
   * after all is kept for the cleanup.
   */
  async function expectJoinRefused(c: DeviceConfig): Promise<Error> {
    const starting = startOverlayDevice(c, { log: recording });
    starting.then((d) => void devices.push(d), () => {});
    const outcome = await within(JOIN_REFUSED_WITHIN_MS, starting.then(() => undefined, (e: unknown) => e as Error), 'the join attempt');
    assert.ok(outcome instanceof Error, 'a device whose certificate does not chain to the overlay root joined');
    return outcome;
  }

  /** The identity a device left in its data directory. */
  const identityIn = (dataDir: string): NodeIdentity =>
    fromPem(readFileSync(join(dataDir, 'identity.key'), 'utf8'), readFileSync(join(dataDir, 'identity.crt'), 'utf8'));

  /**
   * Opens a bare TLS connection to `peer` presenting `identity`'s certificate: 'refused' when
   * the peer closes it, 'linked' once the peer holds a link to the certificate's Node-ID.
   */
  function presentCertificate(peer: OverlayDevice, identity: NodeIdentity): Promise<'refused' | 'linked'> {
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: peer.listening.host, port: peer.listening.port, key: identity.privateKeyPem, cert: identity.certificatePem,
        rejectUnauthorized: false, checkServerIdentity: () => undefined, minVersion: 'TLSv1.2',
      });
      const poll = setInterval(() => { if (peer.node.links.get(identity.nodeId)) finish('linked'); }, 20);
      const timer = setTimeout(() => finish(new Error(`no verdict from the peer within ${LINK_VERDICT_WITHIN_MS} ms`)), LINK_VERDICT_WITHIN_MS);
      const onClose = (): void => finish('refused');
      socket.on('error', () => {}); // the refusing peer may reset the connection
      socket.once('close', onClose);
      function finish(verdict: 'refused' | 'linked' | Error): void {
        clearInterval(poll);
        clearTimeout(timer);
        socket.off('close', onClose);
        socket.destroy();
        if (verdict instanceof Error) reject(verdict);
        else resolve(verdict);
      }
    });
  }

  /** The immediate neighbours of every peer are the ones the sorted Node-IDs say. */
  function ringSettled(): boolean {
    if (peers.some((p) => p.topology.state !== 'joined')) return false;
    const ring = [...peers].sort((a, b) => Buffer.compare(a.identity.nodeId, b.identity.nodeId));
    return ring.every((p, i) => {
      const table = (p.topology as ChordPeer).table;
      const succ = ring[(i + 1) % ring.length].identity.nodeId;
      const pred = ring[(i + ring.length - 1) % ring.length].identity.nodeId;
      return table.successors[0] !== undefined && idEquals(table.successors[0], succ)
        && table.predecessors[0] !== undefined && idEquals(table.predecessors[0], pred);
    });
  }

  /** What a Resource-ID holds of SIP-REGISTRATION, as `reader` fetches it; every value verified. */
  async function registrations(reader: OverlayDevice, r: ResourceId): Promise<{ generation: bigint; values: string[] }> {
    const [k] = await reader.data.fetch(r, ALL_REGISTRATIONS);
    assert.equal(k.discarded, 0);
    return {
      generation: k.generation,
      values: k.values.filter((v) => v.signer).map(({ data, signer }) => {
        const v = data.value as Extract<StoredDataValue, { model: 'dictionary' }>;
        return `${signer!.userName} ${toHex(signer!.nodeId)} key=${toHex(v.key)} t=${data.storageTime} ${new TextDecoder().decode(v.value.value)}`;
      }).sort(),
    };
  }

  before(async () => {
    setLogSink((line) => void logged.push(line));
    dir = mkdtempSync(join(tmpdir(), 'p2psip-overlay-ca-'));
    ca = (await loadOrCreateCertificateAuthority(join(dir, 'ca'), { name: CA_NAME })).ca;
    for (const f of FLATS) await addUser(join(dir, 'ca', 'users.json'), f.userName, f.password);
    const tls = issueServerCertificate(ca, { names: [OVERLAY, '127.0.0.1'] });
    server = new EnrollmentServer({
      ca, accounts: new UserDirectory(join(dir, 'ca', 'users.json')), nodeIds: await NodeIdRegistry.open(join(dir, 'ca', 'node-ids.json')),
    }, { overlay: OVERLAY, tls: { key: tls.privateKey, cert: certificatePem(tls.certificate) } });
    await server.listen('127.0.0.1', 0);
    url = server.url();
    for (const [i, f] of FLATS.entries()) {
      const saved = await enrollDevice(join(dir, `flat${i + 1}`), { server: url, roots: [ca.certificate], userName: f.userName, password: f.password, overlay: OVERLAY });
      enrolledNodeIds.push(saved.enrollment.nodeIds[0]);
    }
    const first = await start(config('flat1', FLATS[0].userName, []));
    peers = [first];
    for (let i = 1; i < FLATS.length; i++) peers.push(await start(config(`flat${i + 1}`, FLATS[i].userName, [first])));
  });

  after(async () => {
    const results = await Promise.allSettled(devices.splice(0).map((d) => d.stop()));
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    setLogSink((line) => process.stderr.write(`${line}\n`));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  });

  let baseline: { generation: bigint; values: string[] } | undefined;

  it('four enrolled devices form an overlay in CA mode that keeps working once the enrollment server is closed', async () => {
    for (const [i, p] of peers.entries()) {
      assert.equal((p.status() as { trust: string }).trust, 'ca');
      assert.equal(p.identity.userName, FLATS[i].userName);
      // The Node-ID is the one the CA chose (§11.3), not a hash of the key (§11.3.1).
      assert.deepEqual(p.identity.nodeId, enrolledNodeIds[i]);
      assert.notDeepEqual(p.identity.nodeId, selfSignedNodeId(p.identity.info.spki, 'sha256'));
    }
    await server.close();
    await assert.rejects(requestCertificate({ server: url, roots: [ca.certificate], userName: FLATS[0].userName, password: FLATS[0].password, timeoutMs: 2000 }),
      (e: unknown) => e instanceof EnrollmentError && e.reason === 'network');
    await waitUntil(ringSettled, RING_SETTLES_WITHIN_MS, 'the ring of four settling');

    const [, storer, , reader] = peers;
    const aor = resourceId(FLATS[1].userName);
    await storer.data.store(aor, REG, [registration(storer.identity.nodeId, 'sip:flat2@10.0.0.2')]);
    const [k] = await reader.data.fetch(aor, ALL_REGISTRATIONS);
    assert.equal(k.discarded, 0);
    assert.equal(k.values.length, 1);
    const [{ data, signer }] = k.values;
    assert.ok(signer);
    assert.deepEqual(signer.nodeId, storer.identity.nodeId);
    assert.equal(signer.userName, FLATS[1].userName);
    assert.deepEqual(signer.certificate, storer.identity.certificate);
    assert.deepEqual(decode(SipRegistration, (data.value as Extract<StoredDataValue, { model: 'dictionary' }>).value.value), { type: 'uri', uri: 'sip:flat2@10.0.0.2' });
    baseline = await registrations(peers[2], aor);
    assert.equal(baseline.values.length, 1);
  });

  it('a self-signed device cannot join, and the enrolled peer refuses its certificate on its own side too', async () => {
    assert.ok(baseline, 'needs the running overlay');
    const dataDir = join(dir, 'self-signed');
    const refused = await expectJoinRefused(config('self-signed', `flat9@${OVERLAY}`, [peers[0]]));
    assert.match(refused.message, /could not join: peer certificate rejected/);
    const self = identityIn(dataDir);
    assert.ok(peers.every((p) => !p.node.links.get(self.nodeId)));
    // The joiner refused the peer first; the peer's own check, asked directly, refuses too.
    assert.equal(await presentCertificate(peers[0], self), 'refused');
    assert.ok(rejectedInbound('untrusted_chain'));
    // A certificate from the overlay's root, presented the same way, is linked: the refusal
    // above is the certificate's.
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const issued = issueCertificate(ca, buildCsr(key), { userName: `flat9@${OVERLAY}`, nodeIds: [new Uint8Array(randomBytes(16))], overlay: OVERLAY });
    const genuine = fromPem(key.export({ type: 'pkcs8', format: 'pem' }).toString(), certificatePem(issued));
    assert.equal(await presentCertificate(peers[0], genuine), 'linked');
  });

  it('a device enrolled by another CA of the same name and overlay cannot join', async () => {
    assert.ok(baseline, 'needs the running overlay');
    const other = (await loadOrCreateCertificateAuthority(join(dir, 'other-ca'), { name: CA_NAME })).ca;
    await addUser(join(dir, 'other-ca', 'users.json'), FLATS[0].userName, 'impostor');
    const tls = issueServerCertificate(other, { names: [OVERLAY, '127.0.0.1'] });
    const impostor = new EnrollmentServer({
      ca: other, accounts: new UserDirectory(join(dir, 'other-ca', 'users.json')), nodeIds: await NodeIdRegistry.open(join(dir, 'other-ca', 'node-ids.json')),
    }, { overlay: OVERLAY, tls: { key: tls.privateKey, cert: certificatePem(tls.certificate) } });
    await impostor.listen('127.0.0.1', 0);
    const dataDir = join(dir, 'other-ca-device');
    try {
      await enrollDevice(dataDir, { server: impostor.url(), roots: [other.certificate], userName: FLATS[0].userName, password: 'impostor', overlay: OVERLAY });
    } finally {
      await impostor.close();
    }
    const refused = await expectJoinRefused(config('other-ca-device', FLATS[0].userName, [peers[1]]));
    assert.match(refused.message, /could not join: peer certificate rejected/);
    const foreign = identityIn(dataDir);
    assert.ok(peers.every((p) => !p.node.links.get(foreign.nodeId)));
    assert.equal(await presentCertificate(peers[1], foreign), 'refused');
    // Same issuer name, other key: the chain check finds the name and refuses the signature.
    assert.ok(rejectedInbound('bad_certificate_signature'));
  });

  it('stored data signed under a certificate not chained to the root is Forbidden, and what was stored is unchanged', async () => {
    assert.ok(baseline, 'needs the registration stored by the first test');
    const [, storer, , reader] = peers;
    const aor = resourceId(FLATS[1].userName);
    const send = (at: ResourceId, data: StoredData, certificate: Uint8Array): Promise<unknown> =>
      storer.node.transport.request([resourceDestination(at)], 'store_req', {
        resource: at, replicaNumber: 0, kindData: [{ kind: REG, generation: 0n, values: [data] }],
      }, { certificates: [certificate] });
    const signedBy = (identity: NodeIdentity, at: ResourceId, value: StoredDataValue): StoredData => {
      const storageTime = BigInt(Date.now()) + 10_000n;
      return { storageTime, lifetime: 60, value, signature: nodeSecurity(identity, systemClock).signData(at, REG, storageTime, value) };
    };

    // A self-signed identity writing at its own user's Resource-ID: no chain to the root.
    const rogue = createSelfSignedIdentity({ overlay: OVERLAY, userName: ROGUE_USER });
    const rogueAor = resourceId(ROGUE_USER);
    await expectRefused(send(rogueAor, signedBy(rogue, rogueAor, registration(rogue.nodeId, 'sip:rogue@10.6.6.6')), rogue.certificate),
      ErrorCode.Error_Forbidden, /untrusted_chain/);
    const [nothing] = await reader.data.fetch(rogueAor, ALL_REGISTRATIONS);
    assert.equal(nothing.discarded, 0);
    assert.deepEqual(nothing.values.filter((v) => v.signer), []);

    // A certificate from another CA of the same name, for the storer's own user and Node-ID:
    // every check but the chain would pass, so the chain check alone refuses it.
    const other = createCertificateAuthority({ name: CA_NAME });
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const forgedCert = issueCertificate(other, buildCsr(key), { userName: FLATS[1].userName, nodeIds: [storer.identity.nodeId], overlay: OVERLAY });
    const forged = fromPem(key.export({ type: 'pkcs8', format: 'pem' }).toString(), certificatePem(forgedCert));
    await expectRefused(send(aor, signedBy(forged, aor, registration(storer.identity.nodeId, 'sip:forged@10.6.6.6')), forgedCert),
      ErrorCode.Error_Forbidden, /bad_certificate_signature/);

    assert.deepEqual(await registrations(reader, aor), baseline);
    assert.deepEqual(await registrations(peers[0], aor), baseline);
  });
});

describe('a self-signed overlay (§11.3.1)', { timeout: 30_000 }, () => {
  after(() => closeAll());

  it('two self-signed devices store and fetch', async () => {
    const overlay = 'selfsigned.example';
    const a = await startDevice({ overlay, userName: `flat1@${overlay}` });
    const b = await startDevice({ overlay, userName: `flat2@${overlay}`, bootstrap: [a.listening] });
    for (const d of [a, b]) {
      assert.equal((d.status() as { trust: string }).trust, 'self-signed');
      assert.deepEqual(d.identity.nodeId, selfSignedNodeId(d.identity.info.spki, 'sha256'));
    }
    await waitUntil(() => a.topology.state === 'joined' && b.topology.state === 'joined', RING_SETTLES_WITHIN_MS, 'the ring of two settling');
    const aor = resourceId(`flat1@${overlay}`);
    await a.data.store(aor, REG, [registration(a.identity.nodeId, 'sip:flat1@10.0.1.1')]);
    const [k] = await b.data.fetch(aor, ALL_REGISTRATIONS);
    assert.equal(k.discarded, 0);
    assert.equal(k.values.length, 1);
    assert.deepEqual(k.values[0].signer?.nodeId, a.identity.nodeId);
  });
});
