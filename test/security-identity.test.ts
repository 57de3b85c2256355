// Node identity: the hand-built §11.3 certificate, self-signed trust and the persisted key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex, toHex } from '../src/codec/index.ts';
import { FakeClock } from '../src/util/clock.ts';
import {
  CertificateError, SELF_SIGNED_VALIDITY_MS, SelfSignedTrust, buildCertificate, commonName, createSelfSignedIdentity, der, fromPem,
  loadOrCreateIdentity, parseCertificate, parseReloadNodeUri, reloadNodeUri, selfSignedNodeId,
} from '../src/reload/security/index.ts';

const OVERLAY = 'overlay.example.org';
const USER = 'alice@overlay.example.org';
const clock = new FakeClock();
const ecKey = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
const spkiOf = (cert: Uint8Array) => new Uint8Array(new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' }));

function opensslText(cert: Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-cert-'));
  try {
    writeFileSync(join(dir, 'c.der'), cert);
    return execFileSync('openssl', ['x509', '-inform', 'DER', '-in', join(dir, 'c.der'), '-noout', '-text'], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function expectCertError(fn: () => unknown, reason: string): void {
  assert.throws(fn, (e: unknown) => e instanceof CertificateError && e.reason === reason, `expected CertificateError ${reason}`);
}

/** A self-signed certificate with arbitrary subjectAltName entries, for malformed cases. */
function certWithSan(names: Uint8Array[], key = ecKey()): Uint8Array {
  const alg = der.sequence(der.oid('1.2.840.10045.4.3.2'));
  const ext = der.sequence(der.oid('2.5.29.17'), der.boolean(true), der.octetString(der.sequence(...names)));
  const tbs = der.sequence(
    der.context(0, true, der.unsignedInteger(2)), der.unsignedInteger(7), alg, der.sequence(),
    der.sequence(der.time(clock.wallTime() - 1000), der.time(clock.wallTime() + 1e9)), der.sequence(),
    new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' })), der.context(3, true, der.sequence(ext)),
  );
  return der.sequence(tbs, alg, der.bitString(new Uint8Array(sign('sha256', tbs, key))));
}

test('self-signed certificate: X509Certificate reads it, SAN holds the reload URI and the user name (§11.3)', () => {
  const id = createSelfSignedIdentity({ overlay: OVERLAY, userName: USER, clock });
  const x = new X509Certificate(id.certificate);
  const uri = `reload://0110${toHex(id.nodeId)}@${OVERLAY}/`;
  assert.equal(x.subjectAltName, `URI:${uri}, email:${USER}`);
  assert.ok(!x.subject, 'empty subject');
  assert.deepEqual(id.info.subjectName, fromHex('3000'));
  assert.deepEqual(id.info.issuerName, fromHex('3000'));
  assert.ok(x.verify(x.publicKey));
  assert.ok(x.checkIssued(x), 'self-issued: issuer = subject = empty Name');
  assert.equal(Date.parse(x.validFrom), Math.floor((clock.wallTime() - 3_600_000) / 1000) * 1000);
  assert.equal(Date.parse(x.validTo), Math.floor((clock.wallTime() + SELF_SIGNED_VALIDITY_MS) / 1000) * 1000);
  assert.deepEqual(id.info.nodeIds, [id.nodeId]);
  assert.equal(id.info.userName, USER);
  assert.equal(id.userName, USER);
  assert.equal(id.overlay, OVERLAY);
  assert.deepEqual(id.info.sha256, new Uint8Array(createHash('sha256').update(id.certificate).digest()));
  assert.equal(reloadNodeUri(id.nodeId, OVERLAY), uri);
});

test('openssl x509 -text reads the certificate; subjectAltName is critical (RFC 5280 §4.2.1.6)', () => {
  const id = createSelfSignedIdentity({ overlay: OVERLAY, userName: USER, clock });
  const text = opensslText(id.certificate);
  assert.match(text, /Version: 3/);
  assert.match(text, /ecdsa-with-SHA256/);
  assert.match(text, /Subject Alternative Name: critical/);
  assert.ok(text.includes(`URI:reload://0110${toHex(id.nodeId)}@${OVERLAY}/`), text);
  assert.ok(text.includes(`email:${USER}`));
});

test('Node-ID = high-order 16 bytes of digest(SubjectPublicKeyInfo), sha256 or sha1 (§11.3.1)', () => {
  for (const digest of ['sha256', 'sha1'] as const) {
    const id = createSelfSignedIdentity({ overlay: OVERLAY, userName: USER, clock, digest });
    const spki = spkiOf(id.certificate);
    assert.deepEqual(id.info.spki, spki);
    assert.deepEqual(id.nodeId, new Uint8Array(createHash(digest).update(spki).digest().subarray(0, 16)), digest);
    new SelfSignedTrust({ overlay: OVERLAY, digest }).check(id.info, clock.wallTime());
  }
  // Several Node-IDs: 4-byte big-endian index before the SPKI.
  const spki = fromHex('3059');
  assert.deepEqual(selfSignedNodeId(spki, 'sha256', 2), new Uint8Array(createHash('sha256').update(fromHex('000000023059')).digest().subarray(0, 16)));
});

test('an RSA key gives a sha256WithRSAEncryption certificate that openssl and the trust check accept', () => {
  const privateKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const id = createSelfSignedIdentity({ overlay: OVERLAY, userName: USER, clock, privateKey });
  assert.match(opensslText(id.certificate), /sha256WithRSAEncryption/);
  new SelfSignedTrust({ overlay: OVERLAY }).check(id.info, clock.wallTime());
});

test('validity past 2049 is a GeneralizedTime (RFC 5280 §4.1.2.5) and reads back', () => {
  const id = createSelfSignedIdentity({ overlay: OVERLAY, userName: USER, clock, validityMs: 40 * 365 * 86_400_000 });
  assert.equal(new Date(id.info.notAfterMs).getUTCFullYear(), 2063);
  assert.match(opensslText(id.certificate), /Not After : .* 2063 GMT/);
});

test('the builder also makes CA and CA-issued certificates (for enrollment, §11.3)', () => {
  const caKey = ecKey();
  const caName = commonName('overlay.example.org enrollment CA');
  const now = clock.wallTime();
  const ca = buildCertificate({
    subjectPublicKey: createPublicKey(caKey), issuerPrivateKey: caKey, issuerName: caName, subjectName: caName,
    nodeIds: [], overlay: OVERLAY, notBeforeMs: now, notAfterMs: now + 1e10, ca: { pathLength: 0 },
  });
  const leafKey = ecKey();
  const nodeIds = [randomBytes(16), randomBytes(16)].map((b) => new Uint8Array(b));
  const leaf = buildCertificate({
    subjectPublicKey: createPublicKey(leafKey), issuerPrivateKey: caKey, issuerName: caName,
    nodeIds, overlay: OVERLAY, userName: USER, notBeforeMs: now, notAfterMs: now + 1e9,
  });
  const caX = new X509Certificate(ca);
  assert.equal(caX.ca, true);
  assert.ok(new X509Certificate(leaf).checkIssued(caX));
  assert.ok(new X509Certificate(leaf).verify(caX.publicKey));
  const info = parseCertificate(leaf);
  assert.deepEqual(info.nodeIds, nodeIds);
  assert.deepEqual(info.issuerName, caName);
  assert.match(opensslText(ca), /CA:TRUE, pathlen:0/);
  // Self-signed trust refuses it: not signed by its own key, and two Node-IDs.
  expectCertError(() => new SelfSignedTrust({ overlay: OVERLAY }).check(info, now), 'bad_certificate_signature');
});

test('an unset wall clock (1970) is refused rather than dating a certificate from it', () => {
  assert.throws(() => createSelfSignedIdentity({ overlay: OVERLAY, userName: USER, clock: new FakeClock(0) }), /wall clock/);
});

test('reload node URIs: one node entry only (§11.3, §14.15)', () => {
  const id = new Uint8Array(16).fill(0x42);
  assert.deepEqual(parseReloadNodeUri(`reload://0110${toHex(id)}@${OVERLAY}/`), { nodeId: id, overlay: OVERLAY });
  assert.deepEqual(parseReloadNodeUri(`RELOAD://0110${toHex(id).toUpperCase()}@${OVERLAY}/`).nodeId, id);
  for (const bad of [
    `reload://0110${toHex(id)}@${OVERLAY}`, // no trailing slash
    `reload://0110${toHex(id)}@${OVERLAY}/0001`, // a data specifier: not a node
    `reload://0211${'10'}${toHex(id)}@${OVERLAY}/`, // a resource entry
    `reload://0110${toHex(id)}0110${toHex(id)}@${OVERLAY}/`, // two entries
    `reload://0110${toHex(id).slice(2)}@${OVERLAY}/`, // short Node-ID
    `reload://011@${OVERLAY}/`,
    `sip:0110${toHex(id)}@${OVERLAY}`,
    `reload://0110${toHex(id)}@over lay/`,
  ]) expectCertError(() => parseReloadNodeUri(bad), 'bad_reload_uri');
  assert.throws(() => reloadNodeUri(id, 'bad/overlay'), RangeError);
});

test('malformed certificates throw CertificateError', () => {
  const good = createSelfSignedIdentity({ overlay: OVERLAY, userName: USER, clock }).certificate;
  expectCertError(() => parseCertificate(randomBytes(100)), 'malformed');
  expectCertError(() => parseCertificate(good.subarray(0, good.length - 1)), 'malformed');
  expectCertError(() => parseCertificate(Uint8Array.from([...good, 0])), 'malformed');
  expectCertError(() => parseCertificate(new Uint8Array(0)), 'malformed');
  expectCertError(() => parseCertificate(certWithSan([der.ia5String('reload://zz@x/', 0x86)])), 'bad_reload_uri');
  expectCertError(() => parseCertificate(certWithSan([der.ia5String('bad\x01name', 0x81)])), 'malformed');
  // A DNS name parses, but §11.3 allows no identities besides the URIs and the user name.
  const nodeKey = ecKey();
  const nodeId = selfSignedNodeId(new Uint8Array(createPublicKey(nodeKey).export({ type: 'spki', format: 'der' })), 'sha256');
  const withDns = parseCertificate(certWithSan([der.ia5String(reloadNodeUri(nodeId, OVERLAY), 0x86), der.ia5String('example.org', 0x82)], nodeKey));
  assert.equal(withDns.otherSanEntries, 1);
  expectCertError(() => new SelfSignedTrust({ overlay: OVERLAY }).check(withDns, clock.wallTime()), 'unexpected_identity');
});

test('every single-byte corruption of a certificate parses or throws CertificateError, never anything else', () => {
  const good = createSelfSignedIdentity({ overlay: OVERLAY, userName: USER, clock }).certificate;
  const trust = new SelfSignedTrust({ overlay: OVERLAY });
  let accepted = 0;
  for (let i = 0; i < good.length; i++) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const bad = good.slice();
      bad[i] ^= mask;
      try {
        trust.check(parseCertificate(bad), clock.wallTime());
        accepted++;
      } catch (e) {
        assert.ok(e instanceof CertificateError, `byte ${i} ^ ${mask}: ${String(e)}`);
      }
    }
  }
  assert.equal(accepted, 0, 'no corrupted certificate is trusted');
});

test('self-signed trust refuses a foreign Node-ID, another overlay, several Node-IDs, weak keys, bad timing', () => {
  const trust = new SelfSignedTrust({ overlay: OVERLAY });
  const now = clock.wallTime();
  const key = ecKey();
  const nodeId = selfSignedNodeId(new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' })), 'sha256');
  const make = (over: Partial<Parameters<typeof buildCertificate>[0]>) => parseCertificate(buildCertificate({
    subjectPublicKey: createPublicKey(key), issuerPrivateKey: key, nodeIds: [nodeId], overlay: OVERLAY, userName: USER,
    notBeforeMs: now - 1000, notAfterMs: now + 1e9, ...over,
  }));
  trust.check(make({}), now);
  expectCertError(() => trust.check(make({ nodeIds: [new Uint8Array(16).fill(7)] }), now), 'node_id_mismatch');
  expectCertError(() => trust.check(make({ overlay: 'other.example.org' }), now), 'overlay_mismatch');
  expectCertError(() => trust.check(make({ nodeIds: [] }), now), 'no_node_id');
  expectCertError(() => trust.check(make({ nodeIds: [new Uint8Array(16).fill(1), new Uint8Array(16).fill(2)] }), now), 'multiple_node_ids');
  expectCertError(() => trust.check(make({ issuerPrivateKey: ecKey() }), now), 'bad_certificate_signature');
  expectCertError(() => trust.check(make({}), now + 2e9), 'expired');
  expectCertError(() => trust.check(make({}), now - 1e6), 'not_yet_valid');
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  const weakId = createSelfSignedIdentity({ overlay: OVERLAY, userName: USER, clock, privateKey: weak });
  expectCertError(() => trust.check(weakId.info, now), 'unsupported_key');
});

test('fromPem rebuilds an identity and refuses a key that is not the certificate\'s', () => {
  const id = createSelfSignedIdentity({ overlay: OVERLAY, userName: USER, clock });
  const again = fromPem(id.privateKeyPem, id.certificatePem);
  assert.deepEqual(again.nodeId, id.nodeId);
  assert.deepEqual(again.certificate, id.certificate);
  const other = createSelfSignedIdentity({ overlay: OVERLAY, userName: USER, clock });
  expectCertError(() => fromPem(other.privateKeyPem, id.certificatePem), 'key_mismatch');
  expectCertError(() => fromPem(id.privateKeyPem, 'not a certificate'), 'malformed');
});

test('loadOrCreateIdentity: first run creates the files (key 0600), later runs load the same Node-ID', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-id-'));
  try {
    const opts = { overlay: OVERLAY, userName: USER, clock };
    const first = await loadOrCreateIdentity(join(dir, 'data'), opts);
    const keyFile = join(dir, 'data', 'identity.key');
    const certFile = join(dir, 'data', 'identity.crt');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.match(readFileSync(keyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(readFileSync(certFile, 'utf8'), first.certificatePem);
    const second = await loadOrCreateIdentity(join(dir, 'data'), opts);
    assert.deepEqual(second.nodeId, first.nodeId);
    assert.deepEqual(second.certificate, first.certificate);
    assert.deepEqual(readdirSync(join(dir, 'data')).sort(), ['identity.crt', 'identity.key'], 'no temporary files left');

    // Changed options are an error; the files stay as they were.
    await assert.rejects(loadOrCreateIdentity(join(dir, 'data'), { ...opts, overlay: 'other.example.org' }), (e: unknown) => e instanceof CertificateError && e.reason === 'overlay_mismatch');
    await assert.rejects(loadOrCreateIdentity(join(dir, 'data'), { ...opts, userName: 'bob@overlay.example.org' }), (e: unknown) => e instanceof CertificateError && e.reason === 'user_name_mismatch');
    await assert.rejects(loadOrCreateIdentity(join(dir, 'data'), { ...opts, digest: 'sha1' }), (e: unknown) => e instanceof CertificateError && e.reason === 'node_id_mismatch');
    assert.equal(readFileSync(certFile, 'utf8'), first.certificatePem);

    // A run that stopped after the key: the certificate is remade from it, same Node-ID.
    rmSync(certFile);
    const remade = await loadOrCreateIdentity(join(dir, 'data'), opts);
    assert.deepEqual(remade.nodeId, first.nodeId);

    // An expired certificate is renewed from the same key.
    const later = new FakeClock(clock.wallTime() + SELF_SIGNED_VALIDITY_MS + 86_400_000);
    const renewed = await loadOrCreateIdentity(join(dir, 'data'), { ...opts, clock: later });
    assert.deepEqual(renewed.nodeId, first.nodeId);
    assert.ok(renewed.info.notAfterMs > later.wallTime());
    assert.equal(readFileSync(certFile, 'utf8'), renewed.certificatePem);

    // A certificate without its key is never silently replaced.
    rmSync(keyFile);
    await assert.rejects(loadOrCreateIdentity(join(dir, 'data'), opts), /refusing to replace/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadOrCreateIdentity: two concurrent first runs end with one identity', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-id-'));
  try {
    const opts = { overlay: OVERLAY, userName: USER, clock };
    const [a, b] = await Promise.all([loadOrCreateIdentity(dir, opts), loadOrCreateIdentity(dir, opts)]);
    const c = await loadOrCreateIdentity(dir, opts);
    assert.deepEqual(a.nodeId, b.nodeId);
    assert.deepEqual(c.nodeId, a.nodeId);
    assert.deepEqual(readdirSync(dir).sort(), ['identity.crt', 'identity.key']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
