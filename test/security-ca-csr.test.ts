// PKCS#10 certificate requests (RFC 2986), the csr of RELOAD enrollment (RFC 6940 §11.3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateRequestError, buildCsr, csrDer, csrPem, der, parseCsr } from '../src/reload/security/index.ts';

const ecKey = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
const spkiOf = (k: ReturnType<typeof ecKey>) => new Uint8Array(createPublicKey(k).export({ type: 'spki', format: 'der' }));

function expectReason(fn: () => unknown, reason: string): void {
  assert.throws(fn, (e: unknown) => e instanceof CertificateRequestError && e.reason === reason, `expected CertificateRequestError ${reason}`);
}

test('buildCsr → parseCsr round trip, ECDSA P-256 and RSA 2048; empty subject, no attributes', () => {
  for (const key of [ecKey(), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey]) {
    const csr = buildCsr(key);
    const parsed = parseCsr(csr);
    assert.deepEqual(parsed.spki, spkiOf(key));
    assert.deepEqual(parsed.subject, Uint8Array.of(0x30, 0x00));
    assert.equal(parsed.attributes.length, 0);
    assert.equal(parsed.publicKey.asymmetricKeyType, key.asymmetricKeyType);
    // PEM in, DER out.
    assert.deepEqual(csrDer(new TextEncoder().encode(csrPem(csr))), csr);
  }
});

test('openssl req reads and verifies the request', () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-csr-'));
  try {
    writeFileSync(join(dir, 'r.der'), buildCsr(ecKey()));
    const out = execFileSync('openssl', ['req', '-inform', 'DER', '-in', join(dir, 'r.der'), '-noout', '-verify', '-text'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(out, /Certificate Request/);
    assert.match(out, /ecdsa-with-SHA256/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a request from openssl req parses too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-csr-'));
  try {
    writeFileSync(join(dir, 'k.pem'), ecKey().export({ type: 'pkcs8', format: 'pem' }));
    const pem = execFileSync('openssl', ['req', '-new', '-key', join(dir, 'k.pem'), '-subj', '/CN=door', '-sha256'], { encoding: 'utf8' });
    const parsed = parseCsr(csrDer(new TextEncoder().encode(pem)));
    assert.ok(parsed.subject.length > 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a tampered request is refused: another key, a changed signature, a changed version', () => {
  const key = ecKey();
  const csr = buildCsr(key);
  // Same-length SPKI of another key: well-formed, but the signature is not by it.
  const spki = spkiOf(key);
  const at = Buffer.from(csr).indexOf(Buffer.from(spki));
  assert.ok(at > 0);
  const swapped = new Uint8Array(csr);
  swapped.set(spkiOf(ecKey()), at);
  expectReason(() => parseCsr(swapped), 'bad_signature');

  const sig = new Uint8Array(csr);
  sig[sig.length - 3] ^= 0x01;
  expectReason(() => parseCsr(sig), 'bad_signature');

  // Re-signed with another key than the one it carries.
  const top = der.children(der.readOne(csr, der.Tag.SEQUENCE, 'csr').content);
  const foreign = der.sequence(top[0].bytes, top[1].bytes, der.bitString(new Uint8Array(sign('sha256', top[0].bytes, ecKey()))));
  expectReason(() => parseCsr(foreign), 'bad_signature');

  // Version 1 instead of v1(0).
  const info = der.children(top[0].content);
  const v2 = der.sequence(der.unsignedInteger(1), ...info.slice(1).map((t) => t.bytes));
  expectReason(() => parseCsr(der.sequence(v2, top[1].bytes, der.bitString(new Uint8Array(sign('sha256', v2, key))))), 'malformed');
});

test('unsupported algorithms and keys are refused', () => {
  const key = ecKey();
  const top = der.children(der.readOne(buildCsr(key), der.Tag.SEQUENCE, 'csr').content);
  const sha1 = der.sequence(der.oid('1.2.840.10045.4.1'));
  expectReason(() => parseCsr(der.sequence(top[0].bytes, sha1, top[2].bytes)), 'unsupported_algorithm');
  // RSA signature algorithm on an EC key.
  const rsaAlg = der.sequence(der.oid('1.2.840.113549.1.1.11'), der.derNull());
  expectReason(() => parseCsr(der.sequence(top[0].bytes, rsaAlg, top[2].bytes)), 'unsupported_algorithm');
  // P-384 and RSA 1024: not keys RELOAD nodes accept here.
  expectReason(() => parseCsr(buildCsr(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey)), 'unsupported_key');
  expectReason(() => parseCsr(buildCsr(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey)), 'unsupported_key');
});

test('malformed requests: empty, truncated, trailing bytes, garbage, not PEM, oversized', () => {
  const csr = buildCsr(ecKey());
  for (const bad of [new Uint8Array(0), csr.subarray(0, csr.length - 1), new Uint8Array([...csr, 0]), new TextEncoder().encode('hello, world')]) {
    expectReason(() => parseCsr(bad), 'malformed');
  }
  expectReason(() => csrDer(new TextEncoder().encode('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')), 'malformed');
  expectReason(() => parseCsr(new Uint8Array(20_000)), 'malformed');
});

test('every single-byte corruption of a request is refused with a CertificateRequestError', () => {
  const key = ecKey();
  const csr = buildCsr(key);
  for (let i = 0; i < csr.length; i++) {
    const bad = new Uint8Array(csr);
    bad[i] ^= 0x5a;
    try {
      parseCsr(bad);
      assert.fail(`corruption at ${i} was accepted`);
    } catch (e) {
      assert.ok(e instanceof CertificateRequestError, `byte ${i}: ${String(e)}`);
    }
  }
});
