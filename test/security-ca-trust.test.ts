// CA-mode trust (RFC 6940 §11.3, §13.3): certificates that chain to a root-cert, with PKIX
// BasicConstraints checks, and only reload:// URIs and one user name in the subjectAltName.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { type KeyObject, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageContents, decodeMessage, encode, encodeMessageWithContents, toHex } from '../src/codec/index.ts';
import { FakeClock } from '../src/util/clock.ts';
import {
  CaTrust, CertificateCache, CertificateError, MessageSigner, MessageVerifier, VerificationError, buildCertificate, buildCsr, certificatePem,
  commonName, createSelfSignedIdentity, der, fromPem, loadOrCreateIdentity, parseCertificate, reloadNodeUri,
} from '../src/reload/security/index.ts';
import { OVERLAY, messageFor } from './fixtures/samples.ts';
import { type CertificateAuthority, createCertificateAuthority, issueCertificate } from '../src/enroll/certificate-authority.ts';

const USER = 'alice@overlay.example.org';
const DAY = 86_400_000;
const clock = new FakeClock();
const ecKey = (): KeyObject => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
const nodeId = (): Uint8Array => new Uint8Array(randomBytes(16));

function expectCertError(fn: () => unknown, reason: string): void {
  assert.throws(fn, (e: unknown) => e instanceof CertificateError && e.reason === reason, `expected CertificateError ${reason}`);
}

function leafFrom(ca: CertificateAuthority, opts: { overlay?: string; nodeIds?: Uint8Array[]; at?: FakeClock; validityMs?: number; key?: KeyObject } = {}): Uint8Array {
  const key = opts.key ?? ecKey();
  return issueCertificate(ca, buildCsr(key), {
    userName: USER, nodeIds: opts.nodeIds ?? [nodeId()], overlay: opts.overlay ?? OVERLAY, clock: opts.at ?? clock, validityMs: opts.validityMs,
  });
}

/** A leaf under `root` with arbitrary subjectAltName entries. */
function issuedWithSan(names: Uint8Array[]): Uint8Array {
  const alg = der.sequence(der.oid('1.2.840.10045.4.3.2'));
  const ext = der.sequence(der.oid('2.5.29.17'), der.boolean(true), der.octetString(der.sequence(...names)));
  const tbs = der.sequence(
    der.context(0, true, der.unsignedInteger(2)), der.unsignedInteger(9), alg, root.info.subjectName,
    der.sequence(der.time(clock.wallTime() - DAY), der.time(clock.wallTime() + DAY)), der.sequence(),
    new Uint8Array(createPublicKey(ecKey()).export({ type: 'spki', format: 'der' })), der.context(3, true, der.sequence(ext)),
  );
  return der.sequence(tbs, alg, der.bitString(new Uint8Array(sign('sha256', tbs, root.privateKey))));
}

const root = createCertificateAuthority({ name: 'test root', clock });
const trust = new CaTrust({ roots: [root.certificate], overlay: OVERLAY });
const now = clock.wallTime();

test('CaTrust accepts a leaf issued by a root-cert: empty subject, reload URIs, one rfc822Name (§11.3)', () => {
  const ids = [nodeId(), nodeId(), nodeId()];
  const info = parseCertificate(leafFrom(root, { nodeIds: ids }));
  assert.equal(info.subjectName.length, 2, 'empty subject');
  assert.deepEqual(info.nodeIds, ids);
  assert.equal(info.userName, USER);
  assert.equal(root.info.basicConstraints?.ca, true);
  trust.check(info, now);
  // Overlay names compare without case, as DNS names do.
  new CaTrust({ roots: [root.certificate], overlay: OVERLAY.toUpperCase() }).check(info, now);
});

test('CaTrust accepts a leaf via an intermediate given to the constructor or added later', () => {
  const intermediate = createCertificateAuthority({ name: 'test intermediate', parent: root, clock });
  assert.equal(intermediate.info.basicConstraints?.pathLength, 0);
  const info = parseCertificate(leafFrom(intermediate));
  new CaTrust({ roots: [root.certificate], intermediates: [intermediate.certificate], overlay: OVERLAY }).check(info, now);

  const later = new CaTrust({ roots: [root.certificate], overlay: OVERLAY });
  expectCertError(() => later.check(info, now), 'untrusted_chain');
  assert.equal(later.addIntermediate(intermediate.certificate), true);
  assert.equal(later.addIntermediate(intermediate.certificate), true, 'adding twice is harmless');
  assert.equal(later.addIntermediate(Uint8Array.of(1, 2, 3)), false);
  later.check(info, now);

  // openssl agrees on the chain (at the fake clock's time).
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-ca-'));
  try {
    writeFileSync(join(dir, 'root.pem'), certificatePem(root.certificate));
    writeFileSync(join(dir, 'inter.pem'), certificatePem(intermediate.certificate));
    writeFileSync(join(dir, 'leaf.pem'), certificatePem(info.der));
    const out = execFileSync('openssl', ['verify', '-attime', String(Math.floor(now / 1000)), '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'inter.pem'), join(dir, 'leaf.pem')], { encoding: 'utf8' });
    assert.match(out, /OK/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CaTrust bounds the intermediates it remembers', () => {
  const t = new CaTrust({ roots: [root.certificate], overlay: OVERLAY, maxIntermediates: 1 });
  assert.equal(t.addIntermediate(createCertificateAuthority({ name: 'i1', parent: root, clock }).certificate), true);
  assert.equal(t.addIntermediate(createCertificateAuthority({ name: 'i2', parent: root, clock }).certificate), false);
});

test('CaTrust refuses a self-signed node certificate', () => {
  const self = createSelfSignedIdentity({ overlay: OVERLAY, userName: USER, clock });
  expectCertError(() => trust.check(self.info, now), 'untrusted_chain');
});

test('CaTrust refuses a leaf signed by another CA, whatever its name', () => {
  const other = createCertificateAuthority({ name: 'another root', clock });
  expectCertError(() => trust.check(parseCertificate(leafFrom(other)), now), 'untrusted_chain');
  // Same name as our root, another key: the name matches, the signature does not.
  const impostor = createCertificateAuthority({ name: 'test root', clock });
  expectCertError(() => trust.check(parseCertificate(leafFrom(impostor)), now), 'bad_certificate_signature');
  // With both roots configured (key rollover), each one's leaves pass.
  const both = new CaTrust({ roots: [impostor.certificate, root.certificate], overlay: OVERLAY });
  both.check(parseCertificate(leafFrom(root)), now);
  both.check(parseCertificate(leafFrom(impostor)), now);
});

test('CaTrust refuses an expired or not yet valid leaf, and a leaf under an expired intermediate', () => {
  const info = parseCertificate(leafFrom(root, { validityMs: 10 * DAY }));
  expectCertError(() => trust.check(info, now + 11 * DAY), 'expired');
  expectCertError(() => trust.check(info, now - 2 * DAY), 'not_yet_valid');

  const shortLived = createCertificateAuthority({ name: 'short intermediate', parent: root, clock, validityMs: 5 * DAY });
  // The issued leaf is cut to its issuer's lifetime; a leaf built past it still fails on the issuer.
  const leaf = parseCertificate(buildCertificate({
    subjectPublicKey: createPublicKey(ecKey()), issuerPrivateKey: shortLived.privateKey, issuerName: shortLived.info.subjectName,
    nodeIds: [nodeId()], overlay: OVERLAY, userName: USER, notBeforeMs: now - DAY, notAfterMs: now + 30 * DAY,
  }));
  const t = new CaTrust({ roots: [root.certificate], intermediates: [shortLived.certificate], overlay: OVERLAY });
  t.check(leaf, now);
  assert.throws(() => t.check(leaf, now + 6 * DAY), (e: unknown) => e instanceof CertificateError && e.reason === 'expired' && /issuer/.test(e.message));
});

test('CaTrust refuses a leaf whose intermediate lacks basicConstraints cA=true', () => {
  const key = ecKey();
  const name = commonName('not a CA');
  const notCa = buildCertificate({
    subjectPublicKey: createPublicKey(key), issuerPrivateKey: root.privateKey, issuerName: root.info.subjectName, subjectName: name,
    nodeIds: [], overlay: OVERLAY, notBeforeMs: now - DAY, notAfterMs: now + 365 * DAY,
  });
  const fake: CertificateAuthority = { privateKey: key, certificate: notCa, info: parseCertificate(notCa) };
  const leaf = parseCertificate(leafFrom(fake));
  expectCertError(() => new CaTrust({ roots: [root.certificate], intermediates: [notCa], overlay: OVERLAY }).check(leaf, now), 'not_a_ca');
});

test('CaTrust checks BasicConstraints of the root too, and pathLenConstraint', () => {
  const key = ecKey();
  const name = commonName('root without cA');
  const bare = buildCertificate({
    subjectPublicKey: createPublicKey(key), issuerPrivateKey: key, issuerName: name, subjectName: name,
    nodeIds: [], overlay: OVERLAY, notBeforeMs: now - DAY, notAfterMs: now + 365 * DAY,
  });
  const bareCa: CertificateAuthority = { privateKey: key, certificate: bare, info: parseCertificate(bare) };
  expectCertError(() => new CaTrust({ roots: [bare], overlay: OVERLAY }).check(parseCertificate(leafFrom(bareCa)), now), 'not_a_ca');

  const strictRoot = createCertificateAuthority({ name: 'strict root', clock, pathLength: 0 });
  const inter = createCertificateAuthority({ name: 'strict intermediate', parent: strictRoot, clock });
  const t = new CaTrust({ roots: [strictRoot.certificate], intermediates: [inter.certificate], overlay: OVERLAY });
  t.check(parseCertificate(leafFrom(strictRoot)), now);
  expectCertError(() => t.check(parseCertificate(leafFrom(inter)), now), 'path_too_long');

  // A chain longer than the depth bound stops there.
  const i1 = createCertificateAuthority({ name: 'deep 1', parent: root, clock, pathLength: 5 });
  const i2 = createCertificateAuthority({ name: 'deep 2', parent: i1, clock, pathLength: 5 });
  const i3 = createCertificateAuthority({ name: 'deep 3', parent: i2, clock, pathLength: 5 });
  const deep = parseCertificate(leafFrom(i3));
  const intermediates = [i1, i2, i3].map((c) => c.certificate);
  new CaTrust({ roots: [root.certificate], intermediates, overlay: OVERLAY }).check(deep, now);
  expectCertError(() => new CaTrust({ roots: [root.certificate], intermediates, overlay: OVERLAY, maxChainDepth: 3 }).check(deep, now), 'path_too_long');
});

test('CaTrust refuses a URI for another overlay', () => {
  expectCertError(() => trust.check(parseCertificate(leafFrom(root, { overlay: 'other.example.org' })), now), 'overlay_mismatch');
});

test('CaTrust refuses other subjectAltName types, a subject, no Node-ID and weak keys (§11.3)', () => {
  const issue = (extra: Partial<Parameters<typeof buildCertificate>[0]>, key: KeyObject = ecKey()) => parseCertificate(buildCertificate({
    subjectPublicKey: createPublicKey(key), issuerPrivateKey: root.privateKey, issuerName: root.info.subjectName,
    nodeIds: [nodeId()], overlay: OVERLAY, userName: USER, notBeforeMs: now - DAY, notAfterMs: now + 30 * DAY, ...extra,
  }));
  trust.check(issue({}), now);
  expectCertError(() => trust.check(issue({ dnsNames: ['door.overlay.example.org'] }), now), 'unexpected_identity');
  expectCertError(() => trust.check(issue({ ipAddresses: [Uint8Array.of(10, 0, 0, 1)] }), now), 'unexpected_identity');
  expectCertError(() => trust.check(issue({ subjectName: commonName('door') }), now), 'subject_not_empty');
  expectCertError(() => trust.check(issue({ nodeIds: [] }), now), 'no_node_id');
  // Two rfc822Names, hand-built: the builder writes at most one.
  const uri = der.ia5String(reloadNodeUri(nodeId(), OVERLAY), 0x86);
  const mail = (m: string) => der.ia5String(m, 0x81);
  trust.check(parseCertificate(issuedWithSan([uri, mail(USER)])), now);
  expectCertError(() => trust.check(parseCertificate(issuedWithSan([uri, mail(USER), mail('bob@overlay.example.org')])), now), 'unexpected_identity');
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  expectCertError(() => trust.check(issue({}, weak), now), 'unsupported_key');
});

test('messages signed with a CA-issued identity verify under CaTrust, not under another root', () => {
  const key = ecKey();
  const identity = fromPem(key.export({ type: 'pkcs8', format: 'pem' }).toString(), certificatePem(leafFrom(root, { key })));
  const m = messageFor('ping_req');
  const contents = encode(MessageContents, m.contents);
  const security = new MessageSigner(identity).signMessage(m.header.overlay, m.header.transactionId, contents);
  const received = decodeMessage(encodeMessageWithContents(m.header, contents, security));
  const info = new MessageVerifier({ trust, certificates: new CertificateCache(), clock }).verifyMessage(received);
  assert.deepEqual(info.nodeIds, [identity.nodeId]);
  const elsewhere = new CaTrust({ roots: [createCertificateAuthority({ clock }).certificate], overlay: OVERLAY });
  assert.throws(() => new MessageVerifier({ trust: elsewhere, certificates: new CertificateCache(), clock }).verifyMessage(received),
    (e: unknown) => e instanceof VerificationError && e.reason === 'untrusted_certificate');
});

test('loadOrCreateIdentity uses a CA-issued certificate: Node-ID from its URI, not from the key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-ca-id-'));
  try {
    const key = ecKey();
    const ids = [nodeId()];
    writeFileSync(join(dir, 'identity.key'), key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(dir, 'identity.crt'), certificatePem(leafFrom(root, { key, nodeIds: ids, validityMs: 30 * DAY })));
    // The user name in the run options is not the CA's: the certificate wins.
    const id = await loadOrCreateIdentity(dir, { overlay: OVERLAY, userName: 'device@overlay.example.org', clock, trust });
    assert.equal(toHex(id.nodeId), toHex(ids[0]));
    assert.equal(id.userName, USER);
    await assert.rejects(loadOrCreateIdentity(dir, { overlay: 'other.example.org', userName: USER, clock }), (e: unknown) => e instanceof CertificateError && e.reason === 'overlay_mismatch');
    // Expired: the node cannot renew it itself.
    const later = new FakeClock(clock.wallTime() + 31 * DAY);
    await assert.rejects(loadOrCreateIdentity(dir, { overlay: OVERLAY, userName: USER, clock: later }), /enroll again/);
    // A trust policy given to the loader checks the stored certificate.
    const otherTrust = new CaTrust({ roots: [createCertificateAuthority({ clock }).certificate], overlay: OVERLAY });
    await assert.rejects(loadOrCreateIdentity(dir, { overlay: OVERLAY, userName: USER, clock, trust: otherTrust }), (e: unknown) => e instanceof CertificateError && e.reason === 'untrusted_chain');
    assert.match(readFileSync(join(dir, 'identity.crt'), 'utf8'), /BEGIN CERTIFICATE/, 'the certificate is left as it was');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
