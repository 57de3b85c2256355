// This node's identity: a key pair and the certificate binding it to a Node-ID and a user
// name (RFC 6940 §11.3). Self-signed mode derives the Node-ID from the key (§11.3.1), so a
// persisted key keeps the node at the same place on the ring across restarts.
import { type KeyObject, X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type NodeId, idEquals, toHex } from '../../codec/index.ts';
import { type Clock, systemClock } from '../../util/clock.ts';
import { readIfExists, writeFileAtomic } from './atomic-file.ts';
import {
  type CertificateInfo, type NodeIdDigest, CertificateError, buildCertificate, certificatePem, isSelfIssued, parseCertificate, selfSignedNodeId,
} from './certificate.ts';
import type { TrustPolicy } from './trust.ts';
import {
  CERTIFICATE_BACKDATE_MS, DEFAULT_NODE_ID_DIGEST, MIN_PLAUSIBLE_WALL_TIME_MS, IDENTITY_CERT_FILE, IDENTITY_CERT_FILE_MODE, IDENTITY_KEY_FILE, IDENTITY_KEY_FILE_MODE,
  SELF_SIGNED_VALIDITY_MS,
} from './constants.ts';

export interface NodeIdentity {
  readonly nodeId: NodeId;
  readonly userName: string;
  /** Overlay instance name of the certificate's reload:// URI. */
  readonly overlay: string;
  /** DER certificate. */
  readonly certificate: Uint8Array;
  readonly certificatePem: string;
  readonly privateKey: KeyObject;
  /** PKCS#8 PEM. */
  readonly privateKeyPem: string;
  readonly info: CertificateInfo;
}

export interface SelfSignedIdentityOptions {
  /** Overlay instance name, written into the reload:// URI (§11.3, §14.15). */
  overlay: string;
  /** The rfc822Name; self-signed certificates may carry any (§11.3.1). */
  userName: string;
  /** Node-ID digest of the configuration's self-signed-permitted element; default sha256. */
  digest?: NodeIdDigest;
  /** Source of notBefore/notAfter; default the system clock. */
  clock?: Clock;
  /** Certificate lifetime; default SELF_SIGNED_VALIDITY_MS (10 years). */
  validityMs?: number;
  /** Key to certify; default a new ECDSA P-256 key. RSA keys give sha256WithRSA certificates. */
  privateKey?: KeyObject;
}

export interface LoadIdentityOptions extends SelfSignedIdentityOptions {
  /**
   * Checks a stored certificate issued by an enrollment CA (§11.3) on every load, e.g. a
   * CaTrust of the configuration's root-cert list; default none (enrollment checked it).
   */
  trust?: TrustPolicy;
}

function newKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
}

function spkiOf(key: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' }));
}

function identityOf(privateKey: KeyObject, info: CertificateInfo): NodeIdentity {
  // Programmer or storage errors, not network input: the identity must be usable as a node.
  if (!Buffer.from(spkiOf(privateKey)).equals(Buffer.from(info.publicKey.export({ type: 'spki', format: 'der' })))) {
    throw new CertificateError('key_mismatch', 'the private key does not belong to the certificate');
  }
  const [first] = info.reloadUris;
  if (!first) throw new CertificateError('no_node_id', 'no reload:// URI in subjectAltName');
  if (info.userName === undefined) throw new CertificateError('malformed', 'no rfc822Name (user name) in subjectAltName');
  return {
    nodeId: first.nodeId,
    userName: info.userName,
    overlay: first.overlay,
    certificate: info.der,
    certificatePem: certificatePem(info.der),
    privateKey,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    info,
  };
}

/** A fresh self-signed identity: Node-ID = high-order 16 bytes of digest(SPKI) (§11.3.1). */
export function createSelfSignedIdentity(opts: SelfSignedIdentityOptions): NodeIdentity {
  const privateKey = opts.privateKey ?? newKey();
  const publicKey = createPublicKey(privateKey);
  const nodeId = selfSignedNodeId(spkiOf(privateKey), opts.digest ?? DEFAULT_NODE_ID_DIGEST);
  const now = (opts.clock ?? systemClock).wallTime();
  if (now < MIN_PLAUSIBLE_WALL_TIME_MS) throw new RangeError(`wall clock reads ${new Date(now).toISOString()}: not dating a certificate from it`);
  const certificate = buildCertificate({
    subjectPublicKey: publicKey,
    issuerPrivateKey: privateKey,
    nodeIds: [nodeId],
    overlay: opts.overlay,
    userName: opts.userName,
    notBeforeMs: now - CERTIFICATE_BACKDATE_MS,
    notAfterMs: now + (opts.validityMs ?? SELF_SIGNED_VALIDITY_MS),
  });
  return identityOf(privateKey, parseCertificate(certificate));
}

/**
 * An identity from a PKCS#8 (or PKCS#1/SEC1) key and a PEM certificate, self-signed or
 * issued by an enrollment server (§11.3). The first Node-ID of the certificate is used.
 */
export function fromPem(keyPem: string, certPem: string): NodeIdentity {
  let der: Uint8Array;
  try {
    der = new Uint8Array(new X509Certificate(certPem).raw);
  } catch (e) {
    throw new CertificateError('malformed', 'unreadable PEM certificate', { cause: e });
  }
  return identityOf(createPrivateKey(keyPem), parseCertificate(der));
}

/**
 * The identity kept in `dataDir` (identity.key, identity.crt), created on first run. An
 * expired self-signed certificate is renewed from the same key, so the Node-ID stays; a
 * certificate for another overlay, user name or Node-ID digest is an error, never replaced.
 * A certificate issued by an enrollment CA (`p2psip enroll`, §11.3) is used as it is: its
 * Node-IDs and user name are the CA's choice, so only the overlay is compared with `opts`.
 * A device keeps its identity in its flash store instead (src/device/flash-identity.ts),
 * which applies the same checks (checkStoredIdentity) and keeps these two files as a copy.
 */
export async function loadOrCreateIdentity(dataDir: string, opts: LoadIdentityOptions): Promise<NodeIdentity> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const keyPath = join(dataDir, IDENTITY_KEY_FILE);
  const certPath = join(dataDir, IDENTITY_CERT_FILE);
  let keyPem = await readIfExists(keyPath);
  if (keyPem === undefined) {
    if ((await readIfExists(certPath)) !== undefined) {
      throw new Error(`${certPath} exists but ${keyPath} does not: refusing to replace the node's identity`);
    }
    const pem = newKey().export({ type: 'pkcs8', format: 'pem' }).toString();
    // Another process may have created it meanwhile: then its key is the identity.
    keyPem = (await writeFileAtomic(keyPath, pem, { mode: IDENTITY_KEY_FILE_MODE, overwrite: false })) ? pem : await readFile(keyPath, 'utf8');
  }
  const privateKey = createPrivateKey(keyPem);

  const certPem = await readIfExists(certPath);
  if (certPem === undefined) {
    // A first run that stopped between the two files: the key alone fixes the Node-ID.
    const id = createSelfSignedIdentity({ ...opts, privateKey });
    if (await writeFileAtomic(certPath, id.certificatePem, { mode: IDENTITY_CERT_FILE_MODE, overwrite: false })) return id;
    return loadOrCreateIdentity(dataDir, opts);
  }
  let stored: NodeIdentity;
  try {
    stored = fromPem(keyPem, certPem);
  } catch (e) {
    throw new Error(`${certPath} does not hold a usable certificate for ${keyPath}: ${(e as Error).message}`, { cause: e });
  }
  const { identity, renewed } = checkStoredIdentity(stored, certPath, opts);
  if (renewed) await writeFileAtomic(certPath, identity.certificatePem, { mode: IDENTITY_CERT_FILE_MODE, overwrite: true });
  return identity;
}

/**
 * Checks an identity read from storage against the run options: the overlay always; for a
 * self-signed certificate (§11.3.1) also the user name and the Node-ID digest, renewing it
 * from the same key once expired (`renewed`: the caller stores the new certificate); for a
 * CA-issued one (§11.3) its validity and `opts.trust`. `where` names the stored certificate
 * in error messages. Throws CertificateError.
 */
export function checkStoredIdentity(id: NodeIdentity, where: string, opts: LoadIdentityOptions): { identity: NodeIdentity; renewed: boolean } {
  const digest = opts.digest ?? DEFAULT_NODE_ID_DIGEST;
  if (id.overlay.toLowerCase() !== opts.overlay.toLowerCase()) {
    throw new CertificateError('overlay_mismatch', `${where} is for overlay ${id.overlay}, not ${opts.overlay}`);
  }
  if (!isSelfIssued(id.info)) return { identity: checkIssuedIdentity(id, where, opts), renewed: false };
  if (id.userName !== opts.userName) {
    throw new CertificateError('user_name_mismatch', `${where} is for user ${id.userName}, not ${opts.userName}`);
  }
  if (!idEquals(id.nodeId, selfSignedNodeId(id.info.spki, digest))) {
    throw new CertificateError('node_id_mismatch', `${where} has Node-ID ${toHex(id.nodeId)}, not ${digest}(SubjectPublicKeyInfo)`);
  }
  // Renew only on expiry: a clock behind (a board without RTC before time sync) is left alone.
  if ((opts.clock ?? systemClock).wallTime() > id.info.notAfterMs) {
    return { identity: createSelfSignedIdentity({ ...opts, privateKey: id.privateKey }), renewed: true };
  }
  return { identity: id, renewed: false };
}

/** A CA-issued identity (§11.3): the node cannot renew it itself, so expiry is an error. */
function checkIssuedIdentity(id: NodeIdentity, certPath: string, opts: LoadIdentityOptions): NodeIdentity {
  const now = (opts.clock ?? systemClock).wallTime();
  if (now > id.info.notAfterMs) {
    throw new CertificateError('expired', `${certPath} expired ${new Date(id.info.notAfterMs).toISOString()}: enroll again (p2psip enroll)`);
  }
  try {
    opts.trust?.check(id.info, now);
  } catch (e) {
    if (e instanceof CertificateError) throw new CertificateError(e.reason, `${certPath}: ${e.message}`, { cause: e });
    throw e;
  }
  return id;
}
