// The device's state on flash (src/device/flash-*.ts): identity (with its PEM copies, the
// migration from them and the corruption policy), the overlay configuration document, the
// remembered bootstrap peers (RFC 6940 §11.4) and the device settings.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SavedConfiguration } from '../src/device/flash-configuration.ts';
import { FlashIdentity, IdentityUnreadableError, identityRecordOf } from '../src/device/flash-identity.ts';
import { RememberedPeers, linkedPeerEndpoints } from '../src/device/flash-peers.ts';
import { DeviceSettings } from '../src/device/flash-settings.ts';
import { openDeviceFlash } from '../src/device/flash-state.ts';
import { FlashStore } from '../src/device/flash-store.ts';
import { createCertificateAuthority, issueCertificate } from '../src/enroll/certificate-authority.ts';
import { embeddedDefaultConfiguration } from '../src/reload/config/index.ts';
import { toHex } from '../src/codec/index.ts';
import { CaTrust, SELF_SIGNED_VALIDITY_MS, SelfSignedTrust, buildCsr, certificatePem, loadOrCreateIdentity } from '../src/reload/security/index.ts';
import type { DeviceConfig } from '../src/run/config.ts';
import { bootstrapsOf } from '../src/run/overlay-settings.ts';
import { FakeClock } from '../src/util/clock.ts';
import type { Logger } from '../src/util/log.ts';
import { until } from './harness/wait.ts';

const OVERLAY = 'building.example';
const USER = 'door@building.example';

function recorder(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const add = (level: string) => (msg: string, fields?: Record<string, unknown>): void => void lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
  return { log: { debug() {}, info: add('info'), warn: add('warn'), error: add('error') }, lines };
}

interface Fixture {
  dir: string;
  clock: FakeClock;
  lines: string[];
  log: Logger;
  /** A fresh store and identity on the directory, as a new process would have. */
  identity(): Promise<FlashIdentity>;
  store(): Promise<FlashStore>;
}

async function withDir(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-flash-state-'));
  const clock = new FakeClock(Date.now());
  const { log, lines } = recorder();
  const store = (): Promise<FlashStore> => FlashStore.open({ log, clock }, { dir });
  try {
    await fn({ dir, clock, lines, log, store, identity: async () => new FlashIdentity({ store: await store(), log, clock }) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function damage(file: string): void {
  if (existsSync(file)) truncateSync(file, 5);
}

const opts = (clock: FakeClock, extra: object = {}): { overlay: string; userName: string; clock: FakeClock } => ({ overlay: OVERLAY, userName: USER, clock, ...extra });

describe('identity on flash', () => {
  it('first run: one 0600 record plus the PEM copies; later runs load it without writing', () => withDir(async (f) => {
    const first = await (await f.identity()).loadOrCreate(opts(f.clock));
    const record = join(f.dir, 'identity.cbor');
    assert.equal(statSync(record).mode & 0o777, 0o600);
    assert.equal(statSync(join(f.dir, 'identity.key')).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(f.dir, 'identity.crt'), 'utf8'), first.certificatePem);
    const before = readdirSync(f.dir).sort().map((n) => [n, statSync(join(f.dir, n)).mtimeMs, statSync(join(f.dir, n)).ino]);
    const second = await (await f.identity()).loadOrCreate(opts(f.clock));
    assert.equal(toHex(second.nodeId), toHex(first.nodeId));
    const after = readdirSync(f.dir).sort().map((n) => [n, statSync(join(f.dir, n)).mtimeMs, statSync(join(f.dir, n)).ino]);
    assert.deepEqual(after, before, 'nothing rewritten');
  }));

  it('PEM files of an earlier version are migrated once, and kept', () => withDir(async (f) => {
    const legacy = await loadOrCreateIdentity(f.dir, opts(f.clock));
    const keyText = readFileSync(join(f.dir, 'identity.key'), 'utf8');
    const id = await (await f.identity()).loadOrCreate(opts(f.clock));
    assert.equal(toHex(id.nodeId), toHex(legacy.nodeId));
    assert.ok(existsSync(join(f.dir, 'identity.cbor')));
    assert.equal(readFileSync(join(f.dir, 'identity.key'), 'utf8'), keyText, 'the old key file is left as it was');
    assert.ok(f.lines.some((l) => l.includes('identity moved to its flash record')));
  }));

  it('a lone identity.key (a first run stopped between the files) keeps its Node-ID', () => withDir(async (f) => {
    const legacy = await loadOrCreateIdentity(f.dir, opts(f.clock));
    rmSync(join(f.dir, 'identity.crt'));
    const id = await (await f.identity()).loadOrCreate(opts(f.clock));
    assert.equal(toHex(id.nodeId), toHex(legacy.nodeId));
  }));

  it('an expired self-signed certificate is renewed into the record and its copy', () => withDir(async (f) => {
    const first = await (await f.identity()).loadOrCreate(opts(f.clock));
    const later = new FakeClock(f.clock.wallTime() + SELF_SIGNED_VALIDITY_MS + 86_400_000);
    const renewed = await (await f.identity()).loadOrCreate(opts(later));
    assert.equal(toHex(renewed.nodeId), toHex(first.nodeId));
    assert.ok(renewed.info.notAfterMs > later.wallTime());
    assert.equal((await (await f.store()).read('identity'))?.sequence, 2);
    assert.equal(readFileSync(join(f.dir, 'identity.crt'), 'utf8'), renewed.certificatePem);
  }));

  it('the same checks as loadOrCreateIdentity: another overlay or user name is refused', () => withDir(async (f) => {
    await (await f.identity()).loadOrCreate(opts(f.clock));
    await assert.rejects((await f.identity()).loadOrCreate(opts(f.clock, { overlay: 'other.example' })), /identity\.cbor is for overlay building\.example/);
    await assert.rejects((await f.identity()).loadOrCreate(opts(f.clock, { userName: 'bob@building.example' })), /is for user/);
  }));

  it('both record copies damaged, PEM copies good: recovered from them, same Node-ID', () => withDir(async (f) => {
    const first = await (await f.identity()).loadOrCreate(opts(f.clock));
    await (await f.identity()).loadOrCreate(opts(new FakeClock(f.clock.wallTime() + SELF_SIGNED_VALIDITY_MS + 1))); // a .bak exists
    damage(join(f.dir, 'identity.cbor'));
    damage(join(f.dir, 'identity.cbor.bak'));
    const later = new FakeClock(f.clock.wallTime() + SELF_SIGNED_VALIDITY_MS + 2);
    const id = await (await f.identity()).loadOrCreate(opts(later));
    assert.equal(toHex(id.nodeId), toHex(first.nodeId));
    assert.ok(f.lines.some((l) => l.startsWith('warn') && l.includes('recovered the identity from')));
    assert.ok((await (await f.store()).read('identity'))?.value, 'the record is good again');
  }));

  it('record damaged and identity.crt gone, identity.key good: certified again, same Node-ID', () => withDir(async (f) => {
    const first = await (await f.identity()).loadOrCreate(opts(f.clock));
    damage(join(f.dir, 'identity.cbor'));
    rmSync(join(f.dir, 'identity.crt'));
    const id = await (await f.identity()).loadOrCreate(opts(f.clock));
    assert.equal(toHex(id.nodeId), toHex(first.nodeId));
    assert.ok(f.lines.some((l) => l.startsWith('warn') && l.includes('certified again')));
  }));

  it('self-signed, everything damaged: moved aside as .corrupt-<time>, a new identity, a loud message', () => withDir(async (f) => {
    const first = await (await f.identity()).loadOrCreate(opts(f.clock));
    damage(join(f.dir, 'identity.cbor'));
    writeFileSync(join(f.dir, 'identity.key'), 'not a key');
    const trust = new SelfSignedTrust({ overlay: OVERLAY });
    const id = await (await f.identity()).loadOrCreate(opts(f.clock, { trust }));
    assert.notEqual(toHex(id.nodeId), toHex(first.nodeId));
    const names = readdirSync(f.dir);
    assert.ok(names.some((n) => /^identity\.cbor\.corrupt-\d{8}T\d{6}Z$/.test(n)), names.join(' '));
    assert.ok(names.some((n) => /^identity\.key\.corrupt-/.test(n)), names.join(' '));
    const loud = f.lines.find((l) => l.startsWith('error'));
    assert.match(loud ?? '', /unreadable.*NEW self-signed identity.*new Node-ID/);
    // And it is a normal identity from then on.
    assert.equal(toHex((await (await f.identity()).loadOrCreate(opts(f.clock))).nodeId), toHex(id.nodeId));
  }));

  it('CA-issued, everything damaged: a clear error to enroll again, nothing changed; enrolling moves it aside', () => withDir(async (f) => {
    const ca = createCertificateAuthority({ clock: f.clock });
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const nodeId = new Uint8Array(16).fill(7);
    const cert = issueCertificate(ca, buildCsr(key), { userName: USER, nodeIds: [nodeId], overlay: OVERLAY, clock: f.clock });
    await (await f.identity()).saveEnrollment({ key: new Uint8Array(key.export({ type: 'pkcs8', format: 'der' })), certificate: cert, roots: [ca.certificate] }, true);
    const trust = new CaTrust({ roots: [ca.certificate], overlay: OVERLAY });
    const state = await (await f.identity()).enrollmentState();
    assert.deepEqual(state, { roots: [ca.certificate], hasCertificate: true });
    assert.equal(toHex((await (await f.identity()).loadOrCreate(opts(f.clock, { trust }))).nodeId), toHex(nodeId));
    assert.match(readFileSync(join(f.dir, 'root-cert.pem'), 'utf8'), /BEGIN CERTIFICATE/);

    damage(join(f.dir, 'identity.cbor'));
    rmSync(join(f.dir, 'identity.key'));
    const before = readdirSync(f.dir).sort();
    // Even where the overlay would take a self-signed identity, an enrolled device does not
    // silently become one.
    await assert.rejects((await f.identity()).loadOrCreate(opts(f.clock)), (e: unknown) => {
      assert.ok(e instanceof IdentityUnreadableError);
      assert.match(e.message, /identity\.cbor: is damaged.*issued by the enrollment CA, so only the CA can replace it.*p2psip enroll/);
      return true;
    });
    assert.deepEqual(readdirSync(f.dir).sort(), before, 'nothing moved or made');
    // What `p2psip enroll` does first: the damaged record goes aside, a new key is made.
    assert.equal(await (await f.identity()).keyForEnrollment(), undefined);
    assert.ok(readdirSync(f.dir).some((n) => n.startsWith('identity.cbor.corrupt-')));
  }));

  it('an overlay that accepts no self-signed identity: damage is a clear error, not a new identity', () => withDir(async (f) => {
    await (await f.identity()).loadOrCreate(opts(f.clock));
    damage(join(f.dir, 'identity.cbor'));
    rmSync(join(f.dir, 'identity.key'));
    rmSync(join(f.dir, 'identity.crt'));
    const trust = new CaTrust({ roots: [createCertificateAuthority({ clock: f.clock }).certificate], overlay: OVERLAY });
    await assert.rejects((await f.identity()).loadOrCreate(opts(f.clock, { trust })), (e: unknown) => e instanceof IdentityUnreadableError && /accepts no self-signed identity/.test(e.message));
  }));

  it('PEM copies written after the record (an older `p2psip enroll`) are taken in; older ones are rewritten', () => withDir(async (f) => {
    const self = await (await f.identity()).loadOrCreate(opts(f.clock));
    const ca = createCertificateAuthority({ clock: f.clock });
    const nodeId = new Uint8Array(16).fill(9);
    const issued = issueCertificate(ca, buildCsr(self.privateKey), { userName: USER, nodeIds: [nodeId], overlay: OVERLAY, clock: f.clock });
    const crt = join(f.dir, 'identity.crt');
    const future = new Date(Date.now() + 60_000);
    writeFileSync(crt, certificatePem(issued));
    utimesSync(crt, future, future);
    const id = await (await f.identity()).loadOrCreate(opts(f.clock));
    assert.equal(toHex(id.nodeId), toHex(nodeId));
    assert.deepEqual((await (await f.store()).read('identity', identityRecordOf))?.value.certificate, issued);
    assert.ok(f.lines.some((l) => l.includes('taken into the record')));
  }));

  it('a PEM copy older than the record that differs from it is rewritten from the record', () => withDir(async (f) => {
    const self = await (await f.identity()).loadOrCreate(opts(f.clock));
    const crt = join(f.dir, 'identity.crt');
    const other = createCertificateAuthority({ clock: f.clock });
    writeFileSync(crt, certificatePem(other.certificate));
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(crt, past, past);
    const id = await (await f.identity()).loadOrCreate(opts(f.clock));
    assert.equal(toHex(id.nodeId), toHex(self.nodeId));
    assert.equal(readFileSync(crt, 'utf8'), self.certificatePem);
  }));
});

describe('overlay configuration on flash', () => {
  it('saved, loaded, and not rewritten when unchanged', () => withDir(async (f) => {
    const saved = new SavedConfiguration({ store: await f.store(), log: f.log });
    assert.equal(await saved.load(), undefined);
    await saved.save('<overlay>1</overlay>');
    const file = join(f.dir, 'overlay-configuration.cbor');
    const { ino, mtimeMs } = statSync(file);
    await saved.save('<overlay>1</overlay>');
    assert.deepEqual([statSync(file).ino, statSync(file).mtimeMs], [ino, mtimeMs]);
    assert.equal(await new SavedConfiguration({ store: await f.store(), log: f.log }).load(), '<overlay>1</overlay>');
  }));

  it('overlay-config.xml of an earlier version is migrated once', () => withDir(async (f) => {
    writeFileSync(join(f.dir, 'overlay-config.xml'), '<legacy/>');
    const saved = new SavedConfiguration({ store: await f.store(), log: f.log });
    assert.equal(await saved.load(), '<legacy/>');
    assert.deepEqual((await (await f.store()).read('overlay-configuration'))?.value, { xml: '<legacy/>' });
    await saved.save('<newer/>');
    assert.equal(await new SavedConfiguration({ store: await f.store(), log: f.log }).load(), '<newer/>', 'the record wins over the old file');
  }));

  it('both copies damaged: moved aside, the device starts without it, and says so', () => withDir(async (f) => {
    const saved = new SavedConfiguration({ store: await f.store(), log: f.log });
    await saved.save('<a/>');
    damage(join(f.dir, 'overlay-configuration.cbor'));
    assert.equal(await saved.load(), undefined);
    assert.ok(f.lines.some((l) => l.startsWith('error') && l.includes('--overlay-config document or the embedded default')));
    assert.ok(readdirSync(f.dir).some((n) => n.startsWith('overlay-configuration.cbor.corrupt-')));
  }));
});

describe('remembered bootstrap peers (§11.4)', () => {
  const ep = (i: number): { host: string; port: number } => ({ host: `10.0.0.${i}`, port: 6084 });

  it('written when the set changes, at most once per interval, pending changes at close', () => withDir(async (f) => {
    const store = await f.store();
    const sequence = async (): Promise<number> => (await store.read('bootstrap-peers'))?.sequence ?? 0;
    const peers = await RememberedPeers.open({ store, log: f.log, clock: f.clock }, { writeIntervalMs: 60_000 });
    assert.deepEqual(peers.rememberedPeers(), []);
    peers.rememberPeers([ep(1), ep(2)]);
    await until('first write', async () => (await sequence()) === 1);
    peers.rememberPeers([ep(2), ep(1)]);
    await peers.flush();
    assert.equal(await sequence(), 1, 'same set, other order: not written');
    peers.rememberPeers([ep(3)]);
    assert.deepEqual(peers.rememberedPeers(), [ep(3), ep(2), ep(1)], 'newest first');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await sequence(), 1, 'inside the interval: not yet');
    f.clock.advance(60_000);
    await until('write at the end of the interval', async () => (await sequence()) === 2);
    peers.rememberPeers(Array.from({ length: 15 }, (_, i) => ep(100 + i)));
    assert.equal(peers.rememberedPeers().length, 10, 'RFC 6940 §11.4: about ten');
    await peers.close();
    assert.equal(await sequence(), 3, 'close writes what is pending');
    peers.rememberPeers([ep(200)]);
    const again = await RememberedPeers.open({ store: await f.store(), log: f.log, clock: f.clock });
    assert.deepEqual(again.rememberedPeers(), Array.from({ length: 10 }, (_, i) => ep(100 + i)));
  }));

  it('track() samples the linked peers: their Attach addresses, or where we dialled them', () => withDir(async (f) => {
    const peers = await RememberedPeers.open({ store: await f.store(), log: f.log, clock: f.clock });
    const id = (b: number): Uint8Array => new Uint8Array(16).fill(b);
    let links = [
      { remoteNodeId: id(1), remote: { host: '10.0.0.1', port: 40000 }, outbound: false },
      { remoteNodeId: id(2), remote: { host: '10.0.0.2', port: 6084 }, outbound: true },
      { remoteNodeId: id(3), remote: { host: '10.0.0.3', port: 41000 }, outbound: false },
    ];
    const node = { links: { all: () => links }, endpointOf: (n: Uint8Array) => (n[0] === 1 ? { host: '10.0.0.1', port: 6084 } : undefined) };
    peers.track(() => linkedPeerEndpoints(node), 1000);
    assert.deepEqual(peers.rememberedPeers(), [{ host: '10.0.0.1', port: 6084 }, { host: '10.0.0.2', port: 6084 }], 'an inbound link\'s ephemeral port is not kept');
    links = [{ remoteNodeId: id(4), remote: { host: '10.0.0.4', port: 6084 }, outbound: true }];
    f.clock.advance(1000);
    assert.equal(peers.rememberedPeers()[0].host, '10.0.0.4');
    await peers.close();
  }));

  it('a damaged record costs only the list', () => withDir(async (f) => {
    const store = await f.store();
    await store.write('bootstrap-peers', { peers: [ep(1)] });
    damage(join(f.dir, 'bootstrap-peers.cbor'));
    const peers = await RememberedPeers.open({ store, log: f.log, clock: f.clock });
    assert.deepEqual(peers.rememberedPeers(), []);
    assert.ok(f.lines.some((l) => l.startsWith('warn') && l.includes('starting without remembered peers')));
  }));

  it('join order: configured bootstraps first, then remembered peers, never ourselves', () => {
    const config: DeviceConfig = { overlay: OVERLAY, role: 'peer', listen: { host: '127.0.0.1', port: 0 }, bootstrap: [], dataDir: '', userName: USER };
    const self = { host: '127.0.0.1', port: 7000 };
    const bare = { configuration: embeddedDefaultConfiguration(OVERLAY) };
    assert.deepEqual(bootstrapsOf(config, bare, self, [ep(1), self]), { bootstraps: [ep(1)], first: true });
    const withNodes = { configuration: { ...bare.configuration, bootstrapNodes: [ep(5)] } };
    assert.deepEqual(bootstrapsOf(config, withNodes, self, [ep(5), ep(1)]), { bootstraps: [ep(5), ep(1)], first: false });
    assert.deepEqual(bootstrapsOf({ ...config, bootstrap: [ep(9)] }, withNodes, self, [ep(1)]), { bootstraps: [ep(9), ep(1)], first: false });
    assert.deepEqual(bootstrapsOf(config, bare, self), { bootstraps: [], first: true }, 'nothing remembered: as before');
  });
});

describe('device settings', () => {
  it('get/set of JSON data, written only when it changes, kept across opens', () => withDir(async (f) => {
    const store = await f.store();
    const settings = await DeviceSettings.open({ store, log: f.log });
    assert.deepEqual(settings.get(), {});
    assert.equal(await settings.set('door', { strikeMs: 3000, code: '1234' }), true);
    assert.equal(await settings.set('door', { code: '1234', strikeMs: 3000 }), false, 'same value');
    assert.equal(await settings.set('volume', 0.5), true);
    assert.deepEqual(settings.get('door'), { strikeMs: 3000, code: '1234' });
    const copy = settings.get('door') as { strikeMs: number };
    copy.strikeMs = 1;
    assert.deepEqual(settings.get('door'), { strikeMs: 3000, code: '1234' }, 'callers get copies');
    assert.equal(await settings.set('volume', undefined), true);
    const reopened = await DeviceSettings.open({ store: await f.store(), log: f.log });
    assert.deepEqual(reopened.get(), { door: { strikeMs: 3000, code: '1234' } });
    assert.equal((await store.read('settings'))?.sequence, 3);
  }));

  it('refuses what is not JSON data or too big, changing nothing', () => withDir(async (f) => {
    const settings = await DeviceSettings.open({ store: await f.store(), log: f.log }, { maxBytes: 100 });
    await assert.rejects(settings.set('n', Number.NaN), TypeError);
    await assert.rejects(settings.set('d', new Date() as never), TypeError);
    await assert.rejects(settings.set('big', 'x'.repeat(200)), RangeError);
    assert.deepEqual(settings.get(), {});
    assert.equal(existsSync(join(f.dir, 'settings.cbor')), false);
  }));

  it('both copies damaged: defaults, the files moved aside, an error logged', () => withDir(async (f) => {
    const store = await f.store();
    await store.write('settings', { a: 1 });
    damage(join(f.dir, 'settings.cbor'));
    const settings = await DeviceSettings.open({ store, log: f.log });
    assert.deepEqual(settings.get(), {});
    assert.ok(f.lines.some((l) => l.startsWith('error') && l.includes('start from their defaults')));
  }));
});

describe('the device flash, opened together', () => {
  it('openDeviceFlash gives every record of a data directory', () => withDir(async (f) => {
    mkdirSync(join(f.dir, 'sub'));
    const flash = await openDeviceFlash(join(f.dir, 'sub'), { clock: f.clock, log: f.log });
    await flash.settings.set('x', 1);
    flash.peers.rememberPeers([{ host: '10.0.0.1', port: 6084 }]);
    await flash.configuration.save('<c/>');
    const id = await flash.identity.loadOrCreate(opts(f.clock));
    await flash.close();
    assert.deepEqual(readdirSync(join(f.dir, 'sub')).filter((n) => n.endsWith('.cbor')).sort(),
      ['bootstrap-peers.cbor', 'identity.cbor', 'overlay-configuration.cbor', 'settings.cbor']);
    const again = await openDeviceFlash(join(f.dir, 'sub'), { clock: f.clock, log: f.log });
    assert.deepEqual(again.peers.rememberedPeers(), [{ host: '10.0.0.1', port: 6084 }]);
    assert.equal(toHex((await again.identity.loadOrCreate(opts(f.clock))).nodeId), toHex(id.nodeId));
    await again.close();
  }));
});
