// PKCS#10 certificate requests (RFC 2986), the "csr" of RELOAD enrollment (RFC 6940 §11.3):
// a node proves it holds the key it wants certified by signing the request with it. The
// subject is empty: the enrollment server, not the node, picks the Node-IDs and user name.
import { type KeyObject, constants, createPublicKey, sign, verify } from 'node:crypto';
import { CertificateError, signatureAlgorithm } from './certificate.ts';
import { CSR_MAX_BYTES } from './ca-constants.ts';
import * as der from './der.ts';
import { checkPublicKey } from './trust.ts';

export type CertificateRequestErrorReason = 'malformed' | 'unsupported_algorithm' | 'unsupported_key' | 'bad_signature';

export class CertificateRequestError extends Error {
  override readonly name = 'CertificateRequestError';
  constructor(readonly reason: CertificateRequestErrorReason, message: string, options?: ErrorOptions) {
    super(`${reason}: ${message}`, options);
  }
}

export interface CertificateRequest {
  /** The SubjectPublicKeyInfo exactly as the request carries it. */
  spki: Uint8Array;
  publicKey: KeyObject;
  /** DER Name of the subject; empty (`30 00`) for requests from buildCsr. */
  subject: Uint8Array;
  /** Content of the [0] attributes set (RFC 2986 §4.1), unread. */
  attributes: Uint8Array;
}

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_RSA_SHA256 = '1.2.840.113549.1.1.11';

/**
 * A DER CertificationRequest for `privateKey`'s public key with an empty subject and no
 * attributes, signed ecdsa-with-SHA256 (EC keys) or sha256WithRSAEncryption (RSA keys).
 * @param publicKey default: derived from `privateKey`.
 */
export function buildCsr(privateKey: KeyObject, publicKey: KeyObject = createPublicKey(privateKey)): Uint8Array {
  const info = der.sequence(
    der.unsignedInteger(0), // version v1(0)
    der.sequence(), // subject: the empty Name
    new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
    der.context(0, true), // attributes [0] IMPLICIT SET OF Attribute: none
  );
  const alg = signatureAlgorithm(privateKey);
  const signature = new Uint8Array(sign('sha256', info, privateKey));
  return der.sequence(info, alg, der.bitString(signature));
}

/**
 * Reads a DER CertificationRequest and checks its self-signature and key (ECDSA P-256 or
 * RSA ≥ 2048 bits, as RELOAD nodes accept). Throws a CertificateRequestError otherwise.
 */
export function parseCsr(request: Uint8Array): CertificateRequest {
  if (request.length > CSR_MAX_BYTES) throw new CertificateRequestError('malformed', `${request.length} bytes, more than ${CSR_MAX_BYTES}`);
  let infoBytes: Uint8Array;
  let algorithm: string;
  let algorithmParams: der.Tlv | undefined;
  let signature: Uint8Array;
  let fields: der.Tlv[];
  try {
    const top = der.children(der.readOne(request, der.Tag.SEQUENCE, 'CertificationRequest').content);
    if (top.length !== 3) throw new der.DerError(`CertificationRequest has ${top.length} fields`);
    const info = der.expectTag(top[0], der.Tag.SEQUENCE, 'certificationRequestInfo');
    infoBytes = info.bytes;
    fields = der.children(info.content);
    const alg = der.children(der.expectTag(top[1], der.Tag.SEQUENCE, 'signatureAlgorithm').content);
    algorithm = der.readOid(der.expectTag(alg[0], der.Tag.OID, 'algorithm'));
    algorithmParams = alg[1];
    if (alg.length > 2) throw new der.DerError('signatureAlgorithm has extra fields');
    const bits = der.expectTag(top[2], der.Tag.BIT_STRING, 'signature').content;
    if (bits.length < 2 || bits[0] !== 0) throw new der.DerError('signature is not whole bytes');
    signature = bits.subarray(1);
    if (fields.length !== 4) throw new der.DerError(`certificationRequestInfo has ${fields.length} fields`);
    const version = der.expectTag(fields[0], der.Tag.INTEGER, 'version').content;
    if (version.length !== 1 || version[0] !== 0) throw new der.DerError('version is not v1(0)');
    der.expectTag(fields[1], der.Tag.SEQUENCE, 'subject');
    der.expectTag(fields[2], der.Tag.SEQUENCE, 'subjectPKInfo');
    der.expectTag(fields[3], 0xa0, 'attributes');
  } catch (e) {
    if (e instanceof der.DerError) throw new CertificateRequestError('malformed', e.message, { cause: e });
    throw e;
  }
  const spki = new Uint8Array(fields[2].bytes);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    checkPublicKey(publicKey);
  } catch (e) {
    if (e instanceof CertificateError) throw new CertificateRequestError('unsupported_key', e.message, { cause: e });
    throw new CertificateRequestError('malformed', `unreadable subjectPKInfo: ${(e as Error).message}`, { cause: e });
  }
  const ecdsa = algorithm === OID_ECDSA_SHA256;
  // RFC 5758 §3.2: ecdsa-with-SHA256 has absent parameters; RFC 4055 §5: RSA has NULL.
  const paramsOk = ecdsa ? algorithmParams === undefined : algorithmParams?.tag === der.Tag.NULL && algorithmParams.content.length === 0;
  if ((!ecdsa && algorithm !== OID_RSA_SHA256) || !paramsOk) throw new CertificateRequestError('unsupported_algorithm', `signature algorithm ${algorithm}`);
  if (publicKey.asymmetricKeyType !== (ecdsa ? 'ec' : 'rsa')) {
    throw new CertificateRequestError('unsupported_algorithm', `${algorithm} signature from a ${publicKey.asymmetricKeyType} key`);
  }
  let ok = false;
  try {
    ok = ecdsa
      ? verify('sha256', infoBytes, { key: publicKey, dsaEncoding: 'der' }, signature)
      : verify('sha256', infoBytes, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new CertificateRequestError('bad_signature', 'the request is not signed by the key it carries');
  return { spki, publicKey, subject: new Uint8Array(fields[1].bytes), attributes: new Uint8Array(fields[3].content) };
}

const PEM_CSR = /^-----BEGIN (NEW )?CERTIFICATE REQUEST-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END (NEW )?CERTIFICATE REQUEST-----\s*$/;

export function csrPem(request: Uint8Array): string {
  const b64 = Buffer.from(request).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n`;
}

/** The DER of a request given as DER or as PEM text (what `openssl req` writes). */
export function csrDer(bytes: Uint8Array): Uint8Array {
  if (bytes[0] === der.Tag.SEQUENCE) return bytes;
  const m = PEM_CSR.exec(Buffer.from(bytes).toString('latin1').trim() + '\n');
  if (!m) throw new CertificateRequestError('malformed', 'neither DER nor a PEM CERTIFICATE REQUEST');
  return new Uint8Array(Buffer.from(m[2].replace(/\s+/g, ''), 'base64'));
}
