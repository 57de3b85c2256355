// The enrollment server's certificate authority (RFC 6940 §11.3, §13.3): "certificates MUST
// be signed by a central enrollment authority which acts as the certificate authority for
// the Overlay Instance". A root (or intermediate) key and certificate, and the issuing of
// node certificates for PKCS#10 requests. Pure crypto; ca-store.ts keeps it on disk.
import { type KeyObject, X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { type NodeId, parseIpv4, parseIpv6 } from '../codec/index.ts';
import {
  type CertificateInfo, type CertificateRequest, CertificateError, buildCertificate, commonName, parseCertificate, parseCsr,
} from '../reload/security/index.ts';
import { type Clock, systemClock } from '../util/clock.ts';
import { CA_VALIDITY_MS, ISSUED_CERTIFICATE_VALIDITY_MS, ISSUE_BACKDATE_MS, SERVER_CERTIFICATE_VALIDITY_MS } from './constants.ts';

export interface CertificateAuthority {
  readonly privateKey: KeyObject;
  /** DER certificate: the root-cert of the overlay configuration when self-signed (§11.1). */
  readonly certificate: Uint8Array;
  readonly info: CertificateInfo;
}

export interface CertificateAuthorityOptions {
  /** commonName of the CA; default "p2psip enrollment CA". */
  name?: string;
  /** Signs the new CA's certificate, making it an intermediate; default none (a self-signed root). */
  parent?: CertificateAuthority;
  /** pathLenConstraint (RFC 5280 §4.2.1.9); default none for a root, 0 for an intermediate. */
  pathLength?: number;
  /** The CA key; default a new ECDSA P-256 key. */
  privateKey?: KeyObject;
  /** Source of notBefore/notAfter; default the system clock. */
  clock?: Clock;
  /** Certificate lifetime; default CA_VALIDITY_MS (20 years). */
  validityMs?: number;
}

export interface IssueOptions {
  /** The rfc822Name: the user name the account may use in the overlay (§11.3). */
  userName: string;
  /** Node-IDs chosen by the server, one reload:// URI each (§11.3, §14.15). At least one. */
  nodeIds: readonly NodeId[];
  /** Overlay instance name of the URIs. */
  overlay: string;
  /** Certificate lifetime; default ISSUED_CERTIFICATE_VALIDITY_MS (1 year), cut to the CA's own. */
  validityMs?: number;
  /** Source of notBefore/notAfter; default the system clock. */
  clock?: Clock;
}

export interface ServerCertificateOptions {
  /** DNS names and IP literals the HTTPS server answers to; the overlay name first (§11.3, RFC 2818). */
  names: readonly string[];
  /** Certificate lifetime; default SERVER_CERTIFICATE_VALIDITY_MS (30 days). */
  validityMs?: number;
  /** default the system clock. */
  clock?: Clock;
}

const DEFAULT_CA_NAME = 'p2psip enrollment CA';

function newKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
}

/** A new CA: a self-signed root with basicConstraints cA=true, or an intermediate under `parent`. */
export function createCertificateAuthority(opts: CertificateAuthorityOptions = {}): CertificateAuthority {
  const privateKey = opts.privateKey ?? newKey();
  const name = commonName(opts.name ?? DEFAULT_CA_NAME);
  const now = (opts.clock ?? systemClock).wallTime();
  const parent = opts.parent;
  const pathLength = opts.pathLength ?? (parent ? 0 : undefined);
  const certificate = buildCertificate({
    subjectPublicKey: createPublicKey(privateKey),
    issuerPrivateKey: parent?.privateKey ?? privateKey,
    issuerName: parent?.info.subjectName ?? name,
    subjectName: name,
    // A CA is no node: no reload:// URIs, so no overlay name either.
    nodeIds: [],
    overlay: '',
    notBeforeMs: now - ISSUE_BACKDATE_MS,
    notAfterMs: Math.min(now + (opts.validityMs ?? CA_VALIDITY_MS), parent?.info.notAfterMs ?? Infinity),
    ca: pathLength === undefined ? {} : { pathLength },
  });
  return { privateKey, certificate, info: parseCertificate(certificate) };
}

/** A CA from its PKCS#8 key and PEM (or DER) certificate; throws when they do not match. */
export function certificateAuthorityFrom(keyPem: string, certificate: string | Uint8Array): CertificateAuthority {
  const privateKey = createPrivateKey(keyPem);
  const der = typeof certificate === 'string' ? new Uint8Array(new X509Certificate(certificate).raw) : certificate;
  const info = parseCertificate(der);
  const ours = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  if (!Buffer.from(info.spki).equals(ours)) throw new CertificateError('key_mismatch', 'the CA key does not belong to the CA certificate');
  if (!info.basicConstraints?.ca) throw new CertificateError('not_a_ca', 'the CA certificate has no basicConstraints cA=true');
  return { privateKey, certificate: info.der, info };
}

/**
 * A node certificate for the key of `csr` (§11.3): empty subject, and a subjectAltName of one
 * reload:// URI per Node-ID plus the user name as rfc822Name, nothing else. Throws a
 * CertificateRequestError for a bad request, a RangeError for unusable names.
 */
export function issueCertificate(ca: CertificateAuthority, csr: Uint8Array | CertificateRequest, opts: IssueOptions): Uint8Array {
  const request = csr instanceof Uint8Array ? parseCsr(csr) : csr;
  if (opts.nodeIds.length === 0) throw new RangeError('a node certificate needs at least one Node-ID');
  const now = (opts.clock ?? systemClock).wallTime();
  return buildCertificate({
    subjectPublicKey: request.publicKey,
    issuerPrivateKey: ca.privateKey,
    issuerName: ca.info.subjectName,
    nodeIds: opts.nodeIds,
    overlay: opts.overlay,
    userName: opts.userName,
    notBeforeMs: Math.max(now - ISSUE_BACKDATE_MS, ca.info.notBeforeMs),
    notAfterMs: Math.min(now + (opts.validityMs ?? ISSUED_CERTIFICATE_VALIDITY_MS), ca.info.notAfterMs),
  });
}

/** A fresh key and HTTPS server certificate from the CA, for the enrollment server. */
export function issueServerCertificate(ca: CertificateAuthority, opts: ServerCertificateOptions): { privateKey: KeyObject; certificate: Uint8Array } {
  if (opts.names.length === 0) throw new RangeError('a server certificate needs a name');
  const privateKey = newKey();
  const now = (opts.clock ?? systemClock).wallTime();
  const dnsNames: string[] = [];
  const ipAddresses: Uint8Array[] = [];
  for (const n of new Set(opts.names)) {
    if (isIPv4(n)) ipAddresses.push(parseIpv4(n));
    else if (isIPv6(n)) ipAddresses.push(parseIpv6(n));
    else dnsNames.push(n);
  }
  const certificate = buildCertificate({
    subjectPublicKey: createPublicKey(privateKey),
    issuerPrivateKey: ca.privateKey,
    issuerName: ca.info.subjectName,
    subjectName: commonName(opts.names[0]),
    nodeIds: [],
    overlay: '',
    dnsNames,
    ipAddresses,
    notBeforeMs: Math.max(now - ISSUE_BACKDATE_MS, ca.info.notBeforeMs),
    notAfterMs: Math.min(now + (opts.validityMs ?? SERVER_CERTIFICATE_VALIDITY_MS), ca.info.notAfterMs),
  });
  return { privateKey, certificate };
}
