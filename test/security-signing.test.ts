// Message and StoredData signatures (RFC 6940 §6.3.4, §7.1) with self-signed identities.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import {
  type DecodedMessage, type SignerIdentity, type StoredData, KindId, MessageContents, decodeMessage, encode, encodeMessageWithContents,
  messageSignatureInput, resourceId,
} from '../src/codec/index.ts';
import { FakeClock } from '../src/util/clock.ts';
import {
  type NodeIdentity, type TrustPolicy, CertificateCache, CertificateError, MessageSigner, MessageVerifier, SELF_SIGNED_VALIDITY_MS,
  SelfSignedTrust, TRUST_RECHECK_INTERVAL_MS, VerificationError, buildCertificate, certificatePem, createSelfSignedIdentity, fromPem,
  isSyntheticNonexistent, parseCertificate,
} from '../src/reload/security/index.ts';
import { NODE_A, OVERLAY, messageFor } from './fixtures/samples.ts';

const USER = 'alice@overlay.example.org';

function setup(opts: { capacity?: number } = {}) {
  const clock = new FakeClock();
  const trustChecks = { count: 0 };
  const inner = new SelfSignedTrust({ overlay: OVERLAY });
  const trust: TrustPolicy = { check(info, now) { trustChecks.count++; inner.check(info, now); } };
  const certificates = new CertificateCache(opts.capacity);
  const verifier = new MessageVerifier({ trust, certificates, clock });
  const identity = (privateKey?: Parameters<typeof createSelfSignedIdentity>[0]['privateKey']) =>
    createSelfSignedIdentity({ overlay: OVERLAY, userName: USER, clock, privateKey });
  return { clock, trustChecks, certificates, verifier, identity };
}

/** A ping request signed by `signer`, encoded and decoded as a receiver would see it. */
function signedMessage(signer: MessageSigner, transactionId = 0x0102030405060708n, withCertificate = true): DecodedMessage {
  const m = messageFor('ping_req', transactionId);
  const contents = encode(MessageContents, m.contents);
  const security = signer.signMessage(m.header.overlay, m.header.transactionId, contents);
  if (!withCertificate) security.certificates = [];
  return decodeMessage(encodeMessageWithContents(m.header, contents, security));
}

function expectReason(fn: () => unknown, reason: string, cause?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof VerificationError, String(e));
    assert.equal(e.reason, reason, e.message);
    if (cause) assert.equal((e.cause as CertificateError).reason, cause);
    return true;
  });
}

test('a signed message verifies and names its signer by cert_hash (§6.3.4)', () => {
  const { verifier, certificates, identity } = setup();
  const id = identity();
  const signer = new MessageSigner(id);
  assert.deepEqual(signer.identityRef, { type: 'cert_hash', hashAlg: 4, hash: new Uint8Array(createHash('sha256').update(id.certificate).digest()) });
  const m = signedMessage(signer);
  assert.deepEqual(m.security.certificates, [{ type: 0, certificate: id.certificate }]);
  assert.equal(m.security.signature.hashAlgorithm, 4);
  assert.equal(m.security.signature.signatureAlgorithm, 3);
  const info = verifier.verifyMessage(m);
  assert.deepEqual(info.nodeIds, [id.nodeId]);
  assert.equal(certificates.size, 1, 'the verified signer is remembered');
});

test('flipping any byte of the contents, the transaction id, the overlay or the signature fails with bad_signature', () => {
  const { verifier, identity } = setup();
  const m = signedMessage(new MessageSigner(identity()));
  for (let i = 0; i < m.contentsBytes.length; i++) {
    const contentsBytes = m.contentsBytes.slice();
    contentsBytes[i] ^= 0x01;
    expectReason(() => verifier.verifyMessage({ ...m, contentsBytes }), 'bad_signature');
  }
  expectReason(() => verifier.verifyMessage({ ...m, header: { ...m.header, transactionId: m.header.transactionId ^ 1n } }), 'bad_signature');
  expectReason(() => verifier.verifyMessage({ ...m, header: { ...m.header, overlay: (m.header.overlay ^ 0x80000000) >>> 0 } }), 'bad_signature');
  const value = m.security.signature.value.slice();
  value[value.length - 1] ^= 0x01;
  expectReason(() => verifier.verifyMessage({ ...m, security: { ...m.security, signature: { ...m.security.signature, value } } }), 'bad_signature');
  expectReason(() => verifier.verifyMessage({ ...m, security: { ...m.security, signature: { ...m.security.signature, value: new Uint8Array(0) } } }), 'bad_signature');
  // The algorithm is outside the signed bytes, so a claimed RSA signature from an EC key must fail too.
  expectReason(() => verifier.verifyMessage({ ...m, security: { ...m.security, signature: { ...m.security.signature, signatureAlgorithm: 1 } } }), 'bad_signature');
  expectReason(() => verifier.verifyMessage({ ...m, security: { ...m.security, signature: { ...m.security.signature, hashAlgorithm: 2 } } }), 'unsupported_algorithm');
  expectReason(() => verifier.verifyMessage({ ...m, security: { ...m.security, signature: { ...m.security.signature, signatureAlgorithm: 2 } } }), 'unsupported_algorithm');
  verifier.verifyMessage(m);
});

test('a certificate whose Node-ID is not its key digest is untrusted_certificate', () => {
  const { verifier, clock } = setup();
  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const now = clock.wallTime();
  const cert = buildCertificate({
    subjectPublicKey: createPublicKey(key), issuerPrivateKey: key, nodeIds: [NODE_A], overlay: OVERLAY, userName: USER,
    notBeforeMs: now - 1000, notAfterMs: now + 1e9,
  });
  const thief = fromPem(key.export({ type: 'pkcs8', format: 'pem' }).toString(), certificatePem(cert));
  expectReason(() => verifier.verifyMessage(signedMessage(new MessageSigner(thief))), 'untrusted_certificate', 'node_id_mismatch');
});

test('an expired certificate fails, even after it was trusted earlier', () => {
  const { verifier, clock, identity } = setup();
  const signer = new MessageSigner(identity());
  verifier.verifyMessage(signedMessage(signer));
  clock.advance(SELF_SIGNED_VALIDITY_MS + 1000);
  expectReason(() => verifier.verifyMessage(signedMessage(signer)), 'untrusted_certificate', 'expired');
  // A fresh verifier with no memory of it says the same.
  const fresh = new MessageVerifier({ trust: new SelfSignedTrust({ overlay: OVERLAY }), certificates: new CertificateCache(), clock });
  expectReason(() => fresh.verifyMessage(signedMessage(signer)), 'untrusted_certificate', 'expired');
});

test('RSA-2048 with SHA-256 (the mandatory algorithm, §6.3.4) signs and verifies', () => {
  const { verifier, identity } = setup();
  const id = identity(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
  const signer = new MessageSigner(id);
  const m = signedMessage(signer);
  assert.equal(m.security.signature.hashAlgorithm, 4);
  assert.equal(m.security.signature.signatureAlgorithm, 1);
  assert.equal(m.security.signature.value.length, 256);
  assert.deepEqual(verifier.verifyMessage(m).nodeIds, [id.nodeId]);
  const contentsBytes = m.contentsBytes.slice();
  contentsBytes[3] ^= 0x10;
  expectReason(() => verifier.verifyMessage({ ...m, contentsBytes }), 'bad_signature');
  expectReason(() => verifier.verifyMessage({ ...m, security: { ...m.security, signature: { ...m.security.signature, signatureAlgorithm: 3 } } }), 'bad_signature');
});

test('cert_hash_node_id names the signer by H(NodeId ‖ certificate), from the bucket or the cache', () => {
  const { verifier, identity } = setup();
  const id = identity();
  const signer = new MessageSigner(id, { identityType: 'cert_hash_node_id' });
  const expected = createHash('sha256').update(id.nodeId).update(id.certificate).digest();
  assert.deepEqual(signer.identityRef, { type: 'cert_hash_node_id', hashAlg: 4, hash: new Uint8Array(expected) });
  assert.deepEqual(verifier.verifyMessage(signedMessage(signer)).nodeIds, [id.nodeId]);
  verifier.verifyMessage(signedMessage(signer, 9n, false));
});

test('the signer certificate may be omitted once it is cached; unknown signers are refused', () => {
  const { verifier, identity } = setup();
  const signer = new MessageSigner(identity());
  expectReason(() => verifier.verifyMessage(signedMessage(signer, 1n, false)), 'unknown_signer');
  verifier.verifyMessage(signedMessage(signer, 2n));
  verifier.verifyMessage(signedMessage(signer, 3n, false));
});

test('identities other than cert_hash and cert_hash_node_id are refused for messages', () => {
  const { verifier, identity } = setup();
  const m = signedMessage(new MessageSigner(identity()));
  const withIdentity = (id: SignerIdentity): DecodedMessage => ({ ...m, security: { ...m.security, signature: { ...m.security.signature, identity: id } } });
  expectReason(() => verifier.verifyMessage(withIdentity({ type: 'none' })), 'unsupported_identity');
  expectReason(() => verifier.verifyMessage(withIdentity({ type: 'unknown', code: 9, data: new Uint8Array(3) })), 'unsupported_identity');
  expectReason(() => verifier.verifyMessage(withIdentity({ type: 'cert_hash', hashAlg: 1, hash: new Uint8Array(16) })), 'unsupported_algorithm');
});

test('a cert_hash with another hash algorithm is found by hashing the bucket', () => {
  const { verifier, identity } = setup();
  const id = identity();
  const m = messageFor('ping_req');
  const contents = encode(MessageContents, m.contents);
  const ref: SignerIdentity = { type: 'cert_hash', hashAlg: 2, hash: new Uint8Array(createHash('sha1').update(id.certificate).digest()) };
  const value = new Uint8Array(sign('sha256', messageSignatureInput(m.header.overlay, m.header.transactionId, contents, ref), id.privateKey));
  const security = { certificates: [{ type: 0, certificate: id.certificate }], signature: { hashAlgorithm: 4, signatureAlgorithm: 3, identity: ref, value } };
  const decoded = decodeMessage(encodeMessageWithContents(m.header, contents, security));
  assert.deepEqual(verifier.verifyMessage(decoded).nodeIds, [id.nodeId]);
  // Now cached: the same SHA-1 name is found without the bucket.
  verifier.verifyMessage({ ...decoded, security: { ...decoded.security, certificates: [] } });
});

test('a garbled certificate named by the signer is untrusted_certificate, not a crash', () => {
  const { verifier } = setup();
  const junk = new Uint8Array(randomBytes(200));
  const m = messageFor('ping_req');
  const contents = encode(MessageContents, m.contents);
  const ref: SignerIdentity = { type: 'cert_hash', hashAlg: 4, hash: new Uint8Array(createHash('sha256').update(junk).digest()) };
  const security = { certificates: [{ type: 0, certificate: junk }], signature: { hashAlgorithm: 4, signatureAlgorithm: 3, identity: ref, value: new Uint8Array(70) } };
  expectReason(() => verifier.verifyMessage(decodeMessage(encodeMessageWithContents(m.header, contents, security))), 'untrusted_certificate', 'malformed');
});

test('many messages from one peer: the certificate is parsed and trust-checked once per recheck interval', () => {
  const { verifier, clock, trustChecks, identity } = setup();
  const signer = new MessageSigner(identity());
  const first = verifier.verifyMessage(signedMessage(signer, 0n));
  for (let i = 1n; i <= 50n; i++) assert.equal(verifier.verifyMessage(signedMessage(signer, i)), first, 'the same parsed certificate');
  assert.equal(trustChecks.count, 1);
  clock.advance(TRUST_RECHECK_INTERVAL_MS);
  verifier.verifyMessage(signedMessage(signer, 51n));
  assert.equal(trustChecks.count, 2);
});

test('the certificate cache is bounded, evicts the least recently used and counts evictions', () => {
  const { identity } = setup();
  const [a, b, c] = [identity(), identity(), identity()].map((i) => i.info);
  const cache = new CertificateCache(2);
  cache.add(a);
  cache.add(b);
  cache.add(a); // refresh, no growth
  assert.equal(cache.size, 2);
  assert.equal(cache.get(a.sha256Hex), a); // a is now the most recent
  cache.add(c);
  assert.equal(cache.size, 2);
  assert.equal(cache.evictions, 1);
  assert.equal(cache.peek(b.sha256Hex), undefined);
  assert.equal(cache.peek(a.sha256Hex), a);
  assert.equal(cache.peek(c.sha256Hex), c);
  assert.equal(new CertificateCache().capacity, 256);
  assert.throws(() => new CertificateCache(0), RangeError);
});

test('StoredData signatures verify and fail when the value, time, resource or kind is tampered (§7.1)', () => {
  const { verifier, identity } = setup();
  const id = identity();
  const signer = new MessageSigner(id);
  const resource = resourceId(USER);
  const kind = KindId.SIP_REGISTRATION;
  const value = { model: 'dictionary' as const, key: id.nodeId, value: { exists: true, value: new TextEncoder().encode('sip:alice@192.0.2.1') } };
  const data: StoredData = { storageTime: 1700000000000n, lifetime: 3600, value, signature: signer.signData(resource, kind, 1700000000000n, value) };
  const bucket = [{ type: 0, certificate: id.certificate }];
  assert.deepEqual(verifier.verifyData(resource, kind, data, bucket).nodeIds, [id.nodeId]);
  expectReason(() => verifier.verifyData(resource, kind, { ...data, storageTime: data.storageTime + 1n }, bucket), 'bad_signature');
  expectReason(() => verifier.verifyData(resourceId('bob@overlay.example.org'), kind, data, bucket), 'bad_signature');
  expectReason(() => verifier.verifyData(resource, KindId.CERTIFICATE_BY_NODE, data, bucket), 'bad_signature');
  const changed = { ...value, value: { exists: true, value: new TextEncoder().encode('sip:mallory@192.0.2.66') } };
  expectReason(() => verifier.verifyData(resource, kind, { ...data, value: changed }, bucket), 'bad_signature');
  expectReason(() => verifier.verifyData(resource, kind, { ...data, value: { ...value, value: { ...value.value, exists: false } } }, bucket), 'bad_signature');
  expectReason(() => verifier.verifyData(resource, kind, { storageTime: 1n, lifetime: 1, value: { model: 'unknown', raw: new Uint8Array(4) } }, bucket), 'unsigned');
  // Array entries are signed with index 0, so an appended entry still verifies (§7.4.1.1).
  const entry = { model: 'array' as const, index: 0xffffffff, value: { exists: true, value: id.certificate } };
  const arrayData: StoredData = { storageTime: 5n, lifetime: 60, value: entry, signature: signer.signData(resource, KindId.CERTIFICATE_BY_USER, 5n, entry) };
  verifier.verifyData(resource, KindId.CERTIFICATE_BY_USER, { ...arrayData, value: { ...entry, index: 3 } }, []);
});

test('synthesized nonexistent values are recognised, and refused by verifyData (§7.4.2.2)', () => {
  const { verifier } = setup();
  const synthetic: StoredData = {
    storageTime: 0n, lifetime: 0, value: { model: 'single', value: { exists: false, value: new Uint8Array(0) } },
    signature: { hashAlgorithm: 0, signatureAlgorithm: 0, identity: { type: 'none' }, value: new Uint8Array(0) },
  };
  assert.equal(isSyntheticNonexistent(synthetic), true);
  assert.equal(isSyntheticNonexistent({ ...synthetic, value: { model: 'single', value: { exists: true, value: new Uint8Array(0) } } }), false);
  expectReason(() => verifier.verifyData(resourceId(USER), KindId.TURN_SERVICE, synthetic, []), 'unsupported_identity');
});

test('identities and certificates of other nodes stay separate: a signer cannot borrow a cached certificate', () => {
  const { verifier, identity } = setup();
  const alice: NodeIdentity = identity();
  const mallory: NodeIdentity = identity();
  verifier.verifyMessage(signedMessage(new MessageSigner(alice)));
  // Mallory signs with her key but names Alice's certificate.
  const forged = new MessageSigner({ ...mallory, certificate: alice.certificate, info: parseCertificate(alice.certificate) });
  expectReason(() => verifier.verifyMessage(signedMessage(forged, 7n, false)), 'bad_signature');
});
