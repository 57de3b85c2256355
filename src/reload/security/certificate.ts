// X.509 v3 certificates of RELOAD nodes (RFC 6940 §11.3): an empty subject, and a
// subjectAltName with one reload:// URI per Node-ID (§14.15) and the user name as rfc822Name.
// Built with hand-written DER; read with node:crypto's X509Certificate plus a DER walk for the
// fields it does not expose exactly (SubjectPublicKeyInfo bytes, subjectAltName entries).
import { type KeyObject, X509Certificate, createHash, randomBytes, sign } from 'node:crypto';
import { type NodeId, DestinationList, NODE_ID_BYTES, decode, encode, fromHex, nodeDestination, toHex } from '../../codec/index.ts';
import { CERTIFICATE_SERIAL_BYTES } from './constants.ts';
import * as der from './der.ts';

/** Digest of the `self-signed-permitted` configuration element (§11.1, §11.3.1). */
export type NodeIdDigest = 'sha1' | 'sha256';

export type CertificateErrorReason =
  | 'malformed'
  | 'bad_reload_uri'
  | 'unsupported_critical_extension'
  | 'not_yet_valid'
  | 'expired'
  | 'bad_certificate_signature'
  | 'unsupported_key'
  | 'no_node_id'
  | 'multiple_node_ids'
  | 'node_id_mismatch'
  | 'overlay_mismatch'
  | 'user_name_mismatch'
  | 'unexpected_identity'
  | 'key_mismatch'
  /** CA mode (§11.3): no configured root-cert or supplied intermediate issued it. */
  | 'untrusted_chain'
  /** An issuer without basicConstraints cA=true or without keyCertSign (RFC 5280 §4.2.1.9). */
  | 'not_a_ca'
  /** More CA certificates in the chain than a pathLenConstraint or our depth bound allows. */
  | 'path_too_long'
  /** §11.3: "The subject distinguished name in the certificate MUST be empty." */
  | 'subject_not_empty';

export class CertificateError extends Error {
  override readonly name = 'CertificateError';
  constructor(readonly reason: CertificateErrorReason, message: string, options?: ErrorOptions) {
    super(`${reason}: ${message}`, options);
  }
}

export interface ReloadNodeUri {
  nodeId: NodeId;
  overlay: string;
}

export interface CertificateInfo {
  /** The DER certificate; its hash is what a SignerIdentity names (§6.3.4). */
  readonly der: Uint8Array;
  readonly x509: X509Certificate;
  readonly publicKey: KeyObject;
  /** SubjectPublicKeyInfo exactly as the certificate carries it: the self-signed Node-ID input (§11.3.1). */
  readonly spki: Uint8Array;
  /** Node-IDs of the reload:// URIs, in certificate order (§11.3). */
  readonly nodeIds: readonly NodeId[];
  readonly reloadUris: readonly ReloadNodeUri[];
  /** The rfc822Name (§11.3); undefined when the certificate has none. */
  readonly userName: string | undefined;
  /** subjectAltName entries that are neither: §11.3 allows none. */
  readonly otherSanEntries: number;
  readonly sha256: Uint8Array;
  readonly sha256Hex: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  /** DER Names, for chain building. */
  readonly issuerName: Uint8Array;
  readonly subjectName: Uint8Array;
  /** basicConstraints (RFC 5280 §4.2.1.9); undefined when the extension is absent. */
  readonly basicConstraints?: BasicConstraints;
  /** keyUsage bits, bit 0 (digitalSignature) first (RFC 5280 §4.2.1.3); undefined when absent. */
  readonly keyUsage?: readonly boolean[];
}

export interface BasicConstraints {
  ca: boolean;
  /** pathLenConstraint; undefined for no limit. */
  pathLength: number | undefined;
}

/** keyUsage bit numbers (RFC 5280 §4.2.1.3). */
export const KEY_USAGE_KEY_CERT_SIGN = 5;

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_RSA_SHA256 = '1.2.840.113549.1.1.11';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_COMMON_NAME = '2.5.4.3';
const KNOWN_CRITICAL = new Set([OID_SUBJECT_ALT_NAME, OID_BASIC_CONSTRAINTS, OID_KEY_USAGE, OID_EXT_KEY_USAGE]);
// GeneralName CHOICE tags, [1] IMPLICIT and [6] IMPLICIT IA5String (RFC 5280 §4.2.1.6).
const SAN_RFC822 = 0x81;
const SAN_URI = 0x86;
// [2] IMPLICIT IA5String dNSName and [7] IMPLICIT OCTET STRING iPAddress, for the enrollment
// server's HTTPS certificate (§11.3 wants it to match the overlay name, RFC 2818).
const SAN_DNS = 0x82;
const SAN_IP = 0x87;

/** The empty Name (an empty RDNSequence): the subject of every §11.3 certificate. */
export const EMPTY_NAME: Uint8Array = der.sequence();

/** A Name with one commonName, e.g. for an enrollment CA (whose subject may not be empty). */
export function commonName(cn: string): Uint8Array {
  return der.sequence(der.set(der.sequence(der.oid(OID_COMMON_NAME), der.utf8String(cn))));
}

// reg-name of RFC 3986 §3.2.2 without percent-decoding: what §14.15 allows as the overlay.
const OVERLAY_NAME = /^[A-Za-z0-9\-._~!$&'()*+,;=%]+$/;

/** `reload://<Destination list of one node entry, hex>@<overlay>/` (§11.3, §14.15). */
export function reloadNodeUri(nodeId: NodeId, overlay: string): string {
  if (!OVERLAY_NAME.test(overlay)) throw new RangeError(`overlay name not usable in a reload URI: ${JSON.stringify(overlay)}`);
  return `reload://${toHex(encode(DestinationList, [nodeDestination(nodeId)]))}@${overlay}/`;
}

export function parseReloadNodeUri(uri: string): ReloadNodeUri {
  const m = /^reload:\/\/([0-9A-Fa-f]+)@([^/@]+)\/$/i.exec(uri);
  if (!m || !OVERLAY_NAME.test(m[2])) throw new CertificateError('bad_reload_uri', `not a reload node URI: ${JSON.stringify(uri.slice(0, 120))}`);
  let list;
  try {
    list = decode(DestinationList, fromHex(m[1]), 'destination');
  } catch (e) {
    throw new CertificateError('bad_reload_uri', `bad destination list in ${uri.slice(0, 120)}`, { cause: e });
  }
  // §11.3: "each MUST contain a Destination List with a single entry of type node_id".
  const [only] = list;
  if (list.length !== 1 || only.type !== 'node') throw new CertificateError('bad_reload_uri', `not a single node entry: ${uri.slice(0, 120)}`);
  return { nodeId: only.id.slice(), overlay: m[2] };
}

/**
 * Node-ID of a self-signed certificate (§11.3.1): the high-order bits of digest(SPKI), with
 * the 1-based index prepended as a 4-byte big-endian integer when the certificate has several.
 */
export function selfSignedNodeId(spki: Uint8Array, digest: NodeIdDigest, index?: number): NodeId {
  const h = createHash(digest);
  if (index !== undefined) {
    const prefix = new Uint8Array(4);
    new DataView(prefix.buffer).setUint32(0, index);
    h.update(prefix);
  }
  return new Uint8Array(h.update(spki).digest().subarray(0, NODE_ID_BYTES));
}

export interface CertificateTemplate {
  /** The key the certificate binds to the Node-IDs and user name. */
  subjectPublicKey: KeyObject;
  /** Signs the certificate: the subject's own private key when self-signed, a CA's otherwise. */
  issuerPrivateKey: KeyObject;
  /** DER Name of the issuer; default empty (self-signed, §11.3). */
  issuerName?: Uint8Array;
  /** DER Name of the subject; default empty, as §11.3 requires of node certificates. */
  subjectName?: Uint8Array;
  nodeIds: readonly NodeId[];
  overlay: string;
  /** rfc822Name; omitted when undefined. */
  userName?: string;
  notBeforeMs: number;
  notAfterMs: number;
  /** Positive serial, big-endian; default random (RFC 5280 §4.1.2.2). */
  serial?: Uint8Array;
  /** Makes a CA certificate: basicConstraints cA and keyCertSign/cRLSign; default a leaf. */
  ca?: { pathLength?: number };
  /** dNSName entries, for an HTTPS server certificate (RFC 2818); default none. */
  dnsNames?: readonly string[];
  /** iPAddress entries as 4 or 16 bytes, for an HTTPS server certificate; default none. */
  ipAddresses?: readonly Uint8Array[];
}

/** AlgorithmIdentifier of a SHA-256 signature by `key`: ecdsa-with-SHA256 or sha256WithRSAEncryption. */
export function signatureAlgorithm(key: KeyObject): Uint8Array {
  switch (key.asymmetricKeyType) {
    case 'ec': return der.sequence(der.oid(OID_ECDSA_SHA256));
    case 'rsa': return der.sequence(der.oid(OID_RSA_SHA256), der.derNull());
    default: throw new TypeError(`cannot sign a certificate with a ${key.asymmetricKeyType} key`);
  }
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

function randomSerial(): Uint8Array {
  const s = randomBytes(CERTIFICATE_SERIAL_BYTES);
  // Top bit clear keeps it positive, the next bit set keeps it non-zero and minimal.
  s[0] = (s[0] & 0x7f) | 0x40;
  return s;
}

function userNameIsLegal(name: string): boolean {
  // §11.3: only legal characters, e.g. no embedded NULs; an rfc822Name is IA5 text.
  return /^[\x21-\x7e]+$/.test(name);
}

/** Builds and signs an X.509 v3 certificate (RFC 5280 §4.1) of the §11.3 shape. */
export function buildCertificate(t: CertificateTemplate): Uint8Array {
  if (t.notAfterMs <= t.notBeforeMs) throw new RangeError('notAfter must be later than notBefore');
  if (t.userName !== undefined && !userNameIsLegal(t.userName)) throw new RangeError(`user name not usable as rfc822Name: ${JSON.stringify(t.userName)}`);
  const subjectName = t.subjectName ?? EMPTY_NAME;
  const sigAlg = signatureAlgorithm(t.issuerPrivateKey);
  const names = t.nodeIds.map((id) => der.ia5String(reloadNodeUri(id, t.overlay), SAN_URI));
  if (t.userName !== undefined) names.push(der.ia5String(t.userName, SAN_RFC822));
  for (const dns of t.dnsNames ?? []) names.push(der.ia5String(dns, SAN_DNS));
  for (const ip of t.ipAddresses ?? []) {
    if (ip.length !== 4 && ip.length !== 16) throw new RangeError(`iPAddress of ${ip.length} bytes`);
    names.push(der.tlv(SAN_IP, ip));
  }
  const extensions: Uint8Array[] = [];
  if (t.ca) {
    const pathLength = t.ca.pathLength === undefined ? [] : [der.unsignedInteger(t.ca.pathLength)];
    extensions.push(extension(OID_BASIC_CONSTRAINTS, true, der.sequence(der.boolean(true), ...pathLength)));
    extensions.push(extension(OID_KEY_USAGE, true, der.bitString(Uint8Array.of(0x06), 1)));
  }
  // RFC 5280 §4.2.1.6: with an empty subject the subjectAltName MUST be critical.
  if (names.length > 0) extensions.push(extension(OID_SUBJECT_ALT_NAME, subjectName.length === 2, der.sequence(...names)));
  const tbs = der.sequence(
    der.context(0, true, der.unsignedInteger(2)),
    der.unsignedInteger(t.serial ?? randomSerial()),
    sigAlg,
    t.issuerName ?? EMPTY_NAME,
    der.sequence(der.time(t.notBeforeMs), der.time(t.notAfterMs)),
    subjectName,
    new Uint8Array(t.subjectPublicKey.export({ type: 'spki', format: 'der' })),
    ...(extensions.length ? [der.context(3, true, der.sequence(...extensions))] : []),
  );
  // ECDSA signatures from node:crypto are already the DER Ecdsa-Sig-Value X.509 wants.
  const signature = new Uint8Array(sign('sha256', tbs, t.issuerPrivateKey));
  return der.sequence(tbs, sigAlg, der.bitString(signature));
}

export function certificatePem(certificate: Uint8Array): string {
  const b64 = Buffer.from(certificate).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

interface TbsFields {
  issuerName: Uint8Array;
  subjectName: Uint8Array;
  spki: Uint8Array;
  san: Uint8Array | undefined;
  basicConstraints: BasicConstraints | undefined;
  keyUsage: boolean[] | undefined;
}

function readTbs(certificate: Uint8Array): TbsFields {
  const cert = der.children(der.readOne(certificate, der.Tag.SEQUENCE, 'Certificate').content);
  const tbs = der.children(der.expectTag(cert[0], der.Tag.SEQUENCE, 'tbsCertificate').content);
  // [0] version, serialNumber and signature come before the issuer (RFC 5280 §4.1).
  let i = (tbs[0]?.tag === 0xa0 ? 1 : 0) + 2;
  const issuerName = der.expectTag(tbs[i++], der.Tag.SEQUENCE, 'issuer').bytes;
  der.expectTag(tbs[i++], der.Tag.SEQUENCE, 'validity');
  const subjectName = der.expectTag(tbs[i++], der.Tag.SEQUENCE, 'subject').bytes;
  const spki = der.expectTag(tbs[i++], der.Tag.SEQUENCE, 'subjectPublicKeyInfo').bytes;
  let san: Uint8Array | undefined;
  let basicConstraints: BasicConstraints | undefined;
  let keyUsage: boolean[] | undefined;
  for (const t of tbs.slice(i)) {
    if (t.tag !== 0xa3) continue; // [1], [2] unique identifiers
    for (const e of der.children(der.readOne(t.content, der.Tag.SEQUENCE, 'extensions').content)) {
      const [id, second, third] = der.children(der.expectTag(e, der.Tag.SEQUENCE, 'Extension').content);
      const extnId = der.readOid(id);
      const critical = second?.tag === der.Tag.BOOLEAN ? der.readBoolean(second) : false;
      const value = der.expectTag(second?.tag === der.Tag.BOOLEAN ? third : second, der.Tag.OCTET_STRING, 'extnValue').content;
      // RFC 5280 §4.2: an unrecognized critical extension means the certificate is rejected.
      if (critical && !KNOWN_CRITICAL.has(extnId)) throw new CertificateError('unsupported_critical_extension', extnId);
      if (extnId === OID_BASIC_CONSTRAINTS) {
        if (basicConstraints) throw new CertificateError('malformed', 'two basicConstraints extensions');
        basicConstraints = readBasicConstraints(value);
        continue;
      }
      if (extnId === OID_KEY_USAGE) {
        if (keyUsage) throw new CertificateError('malformed', 'two keyUsage extensions');
        keyUsage = readKeyUsage(value);
        continue;
      }
      if (extnId !== OID_SUBJECT_ALT_NAME) continue;
      // Two SANs would let two readers see different identities (RFC 5280 §4.2).
      if (san) throw new CertificateError('malformed', 'two subjectAltName extensions');
      san = value;
    }
  }
  return { issuerName, subjectName, spki, san, basicConstraints, keyUsage };
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
function readBasicConstraints(value: Uint8Array): BasicConstraints {
  const fields = der.children(der.readOne(value, der.Tag.SEQUENCE, 'BasicConstraints').content);
  let at = 0;
  let ca = false;
  if (fields[at]?.tag === der.Tag.BOOLEAN) ca = der.readBoolean(fields[at++]);
  let pathLength: number | undefined;
  if (fields[at]?.tag === der.Tag.INTEGER) {
    const c = fields[at++].content;
    // Small non-negative integers only: a path length past 2^24 means nothing here.
    if (c.length === 0 || c.length > 3 || (c[0] & 0x80)) throw new CertificateError('malformed', 'bad pathLenConstraint');
    pathLength = c.reduce((v, b) => v * 256 + b, 0);
  }
  if (at !== fields.length) throw new CertificateError('malformed', 'unexpected field in BasicConstraints');
  return { ca, pathLength };
}

/** KeyUsage ::= BIT STRING, as booleans from bit 0. */
function readKeyUsage(value: Uint8Array): boolean[] {
  const bits = der.readOne(value, der.Tag.BIT_STRING, 'KeyUsage').content;
  if (bits.length === 0 || bits[0] > 7 || (bits.length === 1 && bits[0] !== 0)) throw new CertificateError('malformed', 'bad KeyUsage');
  const out: boolean[] = [];
  const count = (bits.length - 1) * 8 - bits[0];
  for (let n = 0; n < count; n++) out.push((bits[1 + (n >> 3)] & (0x80 >> (n & 7))) !== 0);
  return out;
}

function readSan(san: Uint8Array | undefined): { reloadUris: ReloadNodeUri[]; userName: string | undefined; other: number } {
  const reloadUris: ReloadNodeUri[] = [];
  let userName: string | undefined;
  let other = 0;
  if (!san) return { reloadUris, userName, other };
  for (const name of der.children(der.readOne(san, der.Tag.SEQUENCE, 'GeneralNames').content)) {
    if (name.tag === SAN_URI) {
      reloadUris.push(parseReloadNodeUri(der.readAscii(name)));
    } else if (name.tag === SAN_RFC822 && userName === undefined) {
      userName = der.readAscii(name);
      if (!userNameIsLegal(userName)) throw new CertificateError('malformed', `illegal characters in user name ${JSON.stringify(userName)}`);
    } else {
      other++;
    }
  }
  return { reloadUris, userName, other };
}

/** Reads a DER certificate; anything unreadable throws a CertificateError. */
export function parseCertificate(certificate: Uint8Array): CertificateInfo {
  // Copied: the result outlives the message that carried the bytes.
  const bytes = new Uint8Array(certificate);
  let x509: X509Certificate;
  let publicKey: KeyObject;
  let fields: TbsFields;
  let sanNames: ReturnType<typeof readSan>;
  try {
    x509 = new X509Certificate(bytes);
    publicKey = x509.publicKey; // throws for key types OpenSSL cannot load
    fields = readTbs(bytes);
    sanNames = readSan(fields.san);
  } catch (e) {
    if (e instanceof CertificateError) throw e;
    throw new CertificateError('malformed', e instanceof Error ? e.message : String(e), { cause: e });
  }
  const notBeforeMs = Date.parse(x509.validFrom);
  const notAfterMs = Date.parse(x509.validTo);
  if (Number.isNaN(notBeforeMs) || Number.isNaN(notAfterMs)) throw new CertificateError('malformed', `unreadable validity ${x509.validFrom} .. ${x509.validTo}`);
  const sha256 = new Uint8Array(createHash('sha256').update(bytes).digest());
  return {
    der: bytes,
    x509,
    publicKey,
    spki: fields.spki,
    nodeIds: sanNames.reloadUris.map((u) => u.nodeId),
    reloadUris: sanNames.reloadUris,
    userName: sanNames.userName,
    otherSanEntries: sanNames.other,
    sha256,
    sha256Hex: toHex(sha256),
    notBeforeMs,
    notAfterMs,
    issuerName: fields.issuerName,
    subjectName: fields.subjectName,
    basicConstraints: fields.basicConstraints,
    keyUsage: fields.keyUsage,
  };
}

/**
 * Issued by its own key under its own name: a self-signed node certificate (§11.3.1) or a
 * root. A certificate issued by an enrollment CA names the CA as issuer instead.
 */
export function isSelfIssued(info: CertificateInfo): boolean {
  if (!Buffer.from(info.issuerName).equals(Buffer.from(info.subjectName))) return false;
  try {
    return info.x509.verify(info.publicKey);
  } catch {
    return false;
  }
}
