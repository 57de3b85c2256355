// Enrollment over real HTTPS on loopback (RFC 6940 §11.3): the CA, the server and the client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../src/codec/index.ts';
import {
  type CertificateAuthority, EnrollmentError, EnrollmentServer, NodeIdRegistry, UserDirectory, addUser, encodeMultipart, enrollDevice,
  issueServerCertificate, loadOrCreateCertificateAuthority, requestCertificate,
} from '../src/enroll/index.ts';
import { CaTrust, buildCsr, certificatePem, loadOrCreateIdentity, parseCertificate } from '../src/reload/security/index.ts';

const OVERLAY = 'building.example';
const USER = 'flat3b@building.example';
const PASSWORD = 'correct horse battery staple';

let dir: string;
let ca: CertificateAuthority;
let server: EnrollmentServer;
let url: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'p2psip-enroll-'));
  const stored = await loadOrCreateCertificateAuthority(join(dir, 'ca'), { name: `${OVERLAY} enrollment CA` });
  assert.equal(stored.created, true);
  ca = stored.ca;
  await addUser(join(dir, 'ca', 'users.json'), USER, PASSWORD);
  await addUser(join(dir, 'ca', 'users.json'), 'lobby@building.example', 'lobby-pw');
  const tls = issueServerCertificate(ca, { names: [OVERLAY, '127.0.0.1'] });
  server = new EnrollmentServer({
    ca,
    accounts: new UserDirectory(join(dir, 'ca', 'users.json')),
    nodeIds: await NodeIdRegistry.open(join(dir, 'ca', 'node-ids.json'), { maxPerUser: 4 }),
  }, { overlay: OVERLAY, tls: { key: tls.privateKey, cert: certificatePem(tls.certificate) }, maxBodyBytes: 16 * 1024 });
  await server.listen('127.0.0.1', 0);
  url = server.url();
});

after(async () => {
  await server.close();
  await server.close(); // idempotent
  rmSync(dir, { recursive: true, force: true });
});

const enrollOpts = (extra: Partial<Parameters<typeof requestCertificate>[0]> = {}) => ({
  server: url, roots: [ca.certificate], userName: USER, password: PASSWORD, overlay: OVERLAY, ...extra,
});

/** A raw POST to the server, trusting the CA; resolves with status, type and body text. */
function post(body: Uint8Array | ((write: (b: Uint8Array) => boolean) => void), headers: Record<string, string | number>): Promise<{ status: number; type: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca: certificatePem(ca.certificate), agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (typeof body === 'function') body((b) => req.write(b));
    else req.end(body);
  });
}

function form(fields: { username?: string; password?: string; nodeids?: string; csr?: Uint8Array; csrType?: string }) {
  const parts = [];
  if (fields.username !== undefined) parts.push({ name: 'username', data: new TextEncoder().encode(fields.username) });
  if (fields.password !== undefined) parts.push({ name: 'password', data: new TextEncoder().encode(fields.password) });
  if (fields.nodeids !== undefined) parts.push({ name: 'nodeids', data: new TextEncoder().encode(fields.nodeids) });
  if (fields.csr !== undefined) parts.push({ name: 'csr', contentType: fields.csrType ?? 'application/pkcs10', data: fields.csr });
  return encodeMultipart(parts);
}

test('the CA key is 0600 and the users file holds scrypt hashes, never the password', () => {
  assert.equal(statSync(join(dir, 'ca', 'ca.key')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'ca', 'users.json')).mode & 0o777, 0o600);
  const users = readFileSync(join(dir, 'ca', 'users.json'), 'utf8');
  assert.ok(!users.includes(PASSWORD));
  assert.match(users, /"password": "scrypt\$16384\$8\$1\$/);
});

test('enrollment succeeds: the certificate chains to the root, certifies our key, carries a Node-ID and the user name', async () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const e = await requestCertificate(enrollOpts({ privateKey: key }));
  assert.equal(e.nodeIds.length, 1);
  assert.equal(e.userName, USER);
  assert.equal(e.overlay, OVERLAY);
  assert.equal(e.info.subjectName.length, 2, 'empty subject (§11.3)');
  assert.deepEqual(e.info.spki, new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' })));
  new CaTrust({ roots: [ca.certificate], overlay: OVERLAY }).check(e.info, Date.now());
  assert.match(e.info.x509.subjectAltName ?? '', new RegExp(`URI:reload://0110${toHex(e.nodeIds[0])}@${OVERLAY}/`));

  // The same user again, with another key: the same Node-ID (§11.3 SHOULD).
  const again = await requestCertificate(enrollOpts());
  assert.deepEqual(again.nodeIds, e.nodeIds);
  // More Node-IDs: the first stays first.
  const three = await requestCertificate(enrollOpts({ nodeIds: 3 }));
  assert.equal(three.nodeIds.length, 3);
  assert.deepEqual(three.nodeIds[0], e.nodeIds[0]);
  assert.equal(new Set(three.nodeIds.map(toHex)).size, 3);
  // Another user: other Node-IDs. The registry kept them across a reopen.
  const lobby = await requestCertificate(enrollOpts({ userName: 'lobby@building.example', password: 'lobby-pw' }));
  assert.notDeepEqual(lobby.nodeIds[0], e.nodeIds[0]);
  const reopened = await NodeIdRegistry.open(join(dir, 'ca', 'node-ids.json'));
  assert.deepEqual(reopened.held(USER).map(toHex), three.nodeIds.map(toHex));
  assert.ok(server.counters.issued >= 4);
});

test('enrollDevice saves identity.key (0600) and identity.crt that loadOrCreateIdentity then uses', async () => {
  const data = join(dir, 'device');
  const saved = await enrollDevice(data, enrollOpts());
  assert.equal(statSync(saved.keyPath).mode & 0o777, 0o600);
  assert.match(readFileSync(saved.rootPath, 'utf8'), /BEGIN CERTIFICATE/);
  const id = await loadOrCreateIdentity(data, { overlay: OVERLAY, userName: 'device@building.example', trust: new CaTrust({ roots: [ca.certificate], overlay: OVERLAY }) });
  assert.deepEqual(id.nodeId, saved.enrollment.nodeIds[0]);
  assert.equal(id.userName, USER);
  // Enrolling again certifies the same key: only the certificate changes.
  const keyBefore = readFileSync(saved.keyPath, 'utf8');
  const second = await enrollDevice(data, enrollOpts());
  assert.equal(readFileSync(saved.keyPath, 'utf8'), keyBefore);
  assert.deepEqual(second.enrollment.nodeIds, saved.enrollment.nodeIds);
});

test('a device with a self-signed identity enrolls with the key it has', async () => {
  const data = join(dir, 'self-signed-first');
  const self = await loadOrCreateIdentity(data, { overlay: OVERLAY, userName: 'device@building.example' });
  const saved = await enrollDevice(data, enrollOpts());
  const id = await loadOrCreateIdentity(data, { overlay: OVERLAY, userName: 'device@building.example' });
  assert.deepEqual(id.info.spki, self.info.spki);
  assert.deepEqual(id.nodeId, saved.enrollment.nodeIds[0]);
  assert.notDeepEqual(id.nodeId, self.nodeId);
});

test('a wrong password or an unknown user is 403 failed_authentication', async () => {
  await assert.rejects(requestCertificate(enrollOpts({ password: 'wrong' })), (e: unknown) => e instanceof EnrollmentError && e.reason === 'failed_authentication' && e.status === 403);
  await assert.rejects(requestCertificate(enrollOpts({ userName: 'nobody@building.example' })), (e: unknown) => e instanceof EnrollmentError && e.reason === 'failed_authentication');
  const noPassword = form({ username: USER, csr: buildCsr(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey) });
  const r = await post(noPassword.body, { 'Content-Type': noPassword.contentType, Accept: 'application/pkix-cert' });
  assert.deepEqual([r.status, r.text], [403, 'failed_authentication']);
  assert.match(r.type ?? '', /^text\/plain/);
});

test('a garbage or missing CSR is 403 bad_CSR; a bad Node-ID count is 403 Node-IDs_not_available', async () => {
  const cases: Array<[Parameters<typeof form>[0], string]> = [
    [{ username: USER, password: PASSWORD, csr: new TextEncoder().encode('not a certificate request') }, 'bad_CSR'],
    [{ username: USER, password: PASSWORD }, 'bad_CSR'],
    [{ username: USER, password: PASSWORD, csr: buildCsr(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), csrType: 'image/png' }, 'bad_CSR'],
    [{ username: USER, password: PASSWORD, nodeids: '5', csr: buildCsr(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey) }, 'Node-IDs_not_available'],
    [{ username: USER, password: PASSWORD, nodeids: 'two', csr: buildCsr(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey) }, 'Node-IDs_not_available'],
    [{ username: USER, password: PASSWORD, nodeids: '0', csr: buildCsr(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey) }, 'Node-IDs_not_available'],
  ];
  for (const [fields, token] of cases) {
    const f = form(fields);
    const r = await post(f.body, { 'Content-Type': f.contentType, Accept: 'application/pkix-cert' });
    assert.deepEqual([r.status, r.text], [403, token], JSON.stringify(Object.keys(fields)));
  }
  // A PEM request is read like DER.
  const { csrPem } = await import('../src/reload/security/index.ts');
  const pem = form({ username: USER, password: PASSWORD, csr: new TextEncoder().encode(csrPem(buildCsr(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey))) });
  const ok = await post(pem.body, { 'Content-Type': pem.contentType, Accept: 'application/pkix-cert' });
  assert.equal(ok.status, 200);
  assert.equal(ok.type, 'application/pkix-cert');
});

test('an oversized body is refused with 413 before it is read, declared or streamed', async () => {
  const big = new Uint8Array(20 * 1024);
  const declared = await post(big, { 'Content-Type': 'multipart/form-data; boundary=B', 'Content-Length': big.length });
  assert.equal(declared.status, 413);
  // Chunked, no Content-Length: cut off once past the limit.
  const streamed = await post((write) => { for (let i = 0; i < 20; i++) write(new Uint8Array(1024)); }, { 'Content-Type': 'multipart/form-data; boundary=B', 'Transfer-Encoding': 'chunked' });
  assert.equal(streamed.status, 413);
});

test('other requests: wrong type 415, wrong Accept 406, malformed form 400', async () => {
  assert.equal((await post(new Uint8Array(2), { 'Content-Type': 'application/json' })).status, 415);
  const f = form({ username: USER, password: PASSWORD });
  assert.equal((await post(f.body, { 'Content-Type': f.contentType, Accept: 'text/html' })).status, 406);
  assert.equal((await post(new TextEncoder().encode('--B\r\nno headers'), { 'Content-Type': 'multipart/form-data; boundary=B' })).status, 400);
});

test('the client refuses a server whose certificate does not chain to the root it was given', async () => {
  const other = await loadOrCreateCertificateAuthority(join(dir, 'other-ca'), { name: 'other CA' });
  await assert.rejects(requestCertificate(enrollOpts({ roots: [other.ca.certificate] })), (e: unknown) => e instanceof EnrollmentError && e.reason === 'network');
  await assert.rejects(requestCertificate(enrollOpts({ server: url.replace('https:', 'http:') })), RangeError);
});

test('the client checks the issued certificate: chain to its root (§11.3 MUST) and overlay', async () => {
  await assert.rejects(requestCertificate(enrollOpts({ overlay: 'elsewhere.example' })),
    (e: unknown) => e instanceof EnrollmentError && e.reason === 'untrusted_certificate' && /overlay_mismatch/.test(e.message));
  // A server whose HTTPS certificate is fine but whose issuing CA is not the client's root.
  const rogue = await loadOrCreateCertificateAuthority(join(dir, 'rogue-ca'), { name: `${OVERLAY} enrollment CA` });
  const tls = issueServerCertificate(ca, { names: ['127.0.0.1'] });
  const impostor = new EnrollmentServer({
    ca: rogue.ca, accounts: new UserDirectory(join(dir, 'ca', 'users.json')), nodeIds: await NodeIdRegistry.open(join(dir, 'rogue-ca', 'node-ids.json')),
  }, { overlay: OVERLAY, tls: { key: tls.privateKey, cert: certificatePem(tls.certificate) } });
  await impostor.listen('127.0.0.1', 0);
  try {
    await assert.rejects(requestCertificate(enrollOpts({ server: impostor.url() })),
      (e: unknown) => e instanceof EnrollmentError && e.reason === 'untrusted_certificate');
  } finally {
    await impostor.close();
  }
});

test('the CA is loaded, not remade, on the next start', async () => {
  const again = await loadOrCreateCertificateAuthority(join(dir, 'ca'), { name: 'ignored' });
  assert.equal(again.created, false);
  assert.deepEqual(again.ca.certificate, ca.certificate);
  assert.equal(parseCertificate(again.ca.certificate).basicConstraints?.ca, true);
});
