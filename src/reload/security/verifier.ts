// Checking signatures on received messages and stored data (RFC 6940 §6.3.4, §7.1): find
// the signer's certificate, check that it is trusted now, and verify the signature with it.
// "If the signature fails, the implementation SHOULD simply drop the message" (§6.3.4).
import { type KeyObject, constants, verify } from 'node:crypto';
import {
  type DecodedMessage, type GenericCertificate, type ResourceId, type Signature, type SignerIdentity, type StoredData,
  HashAlgorithm, SignatureAlgorithm, messageSignatureInput, storedDataSignatureInput, toHex,
} from '../../codec/index.ts';
import type { Clock } from '../../util/clock.ts';
import { type CertificateInfo, CertificateError, parseCertificate } from './certificate.ts';
import type { CertificateCache } from './certificate-cache.ts';
import { TRUST_RECHECK_INTERVAL_MS, X509_CERTIFICATE_TYPE } from './constants.ts';
import { certificateHash, hashName } from './signer-identity.ts';
import { type TrustPolicy, checkValidity } from './trust.ts';

export type VerificationErrorReason =
  /** No certificate in the bucket or the cache matches the SignerIdentity. */
  | 'unknown_signer'
  /** cert_hash names a certificate with several Node-IDs (§6.3.4 requires cert_hash_node_id). */
  | 'ambiguous_signer'
  /** Identity type none (only for synthesized fetch results, §7.4.2.2) or an unknown type. */
  | 'unsupported_identity'
  | 'unsupported_algorithm'
  | 'untrusted_certificate'
  | 'bad_signature'
  /** StoredData of a Kind whose data model is unknown carries no separable signature. */
  | 'unsigned';

export class VerificationError extends Error {
  override readonly name = 'VerificationError';
  constructor(readonly reason: VerificationErrorReason, message: string, options?: ErrorOptions) {
    super(`${reason}: ${message}`, options);
  }
}

export interface MessageVerifierComponents {
  trust: TrustPolicy;
  /** Certificates of earlier signers; verified signers are added to it. */
  certificates: CertificateCache;
  /** Wall time for certificate validity. */
  clock: Clock;
}

/**
 * §7.4.2.2: a value the storing node knows nothing of comes back synthesized, unsigned:
 * exists false, identity none, algorithm {0, 0}, empty signature. Only Fetch answers have it.
 */
export function isSyntheticNonexistent(data: StoredData): boolean {
  const s = data.signature;
  return !!s && s.identity.type === 'none' && s.hashAlgorithm === HashAlgorithm.none && s.signatureAlgorithm === SignatureAlgorithm.anonymous
    && s.value.length === 0 && data.value.model !== 'unknown' && !data.value.value.exists;
}

export class MessageVerifier {
  private readonly trust: TrustPolicy;
  private readonly certificates: CertificateCache;
  private readonly clock: Clock;
  /** When each certificate last passed the whole trust check (wall time, ms). */
  private readonly trustedAt = new WeakMap<CertificateInfo, number>();

  constructor(components: MessageVerifierComponents) {
    this.trust = components.trust;
    this.certificates = components.certificates;
    this.clock = components.clock;
  }

  /** Verifies a whole message's signature; returns the signer's certificate or throws a VerificationError. */
  verifyMessage(m: DecodedMessage): CertificateInfo {
    const { signature } = m.security;
    return this.verify(signature, m.security.certificates, () =>
      messageSignatureInput(m.header.overlay, m.header.transactionId, m.contentsBytes, signature.identity));
  }

  /** Verifies the signature of one StoredData value held at `resourceId` under `kind` (§7.1). */
  verifyData(resourceId: ResourceId, kind: number, data: StoredData, certificates: readonly GenericCertificate[]): CertificateInfo {
    const { signature, value } = data;
    if (!signature || value.model === 'unknown') throw new VerificationError('unsigned', `stored data of kind ${kind} with an unknown data model`);
    return this.verify(signature, certificates, () => storedDataSignatureInput(resourceId, kind, data.storageTime, value, signature.identity));
  }

  private verify(signature: Signature, bucket: readonly GenericCertificate[], input: () => Uint8Array): CertificateInfo {
    const { identity } = signature;
    if (identity.type === 'none') throw new VerificationError('unsupported_identity', 'identity type none is only for synthesized fetch results (§7.4.2.2)');
    if (identity.type === 'unknown') throw new VerificationError('unsupported_identity', `identity type ${identity.code}`);
    checkAlgorithm(signature);
    const info = this.findSigner(identity, bucket);
    this.checkTrust(info);
    checkSignature(signature, input(), info.publicKey);
    this.certificates.add(info);
    return info;
  }

  private findSigner(identity: Extract<SignerIdentity, { hashAlg: number }>, bucket: readonly GenericCertificate[]): CertificateInfo {
    const hash = hashName(identity.hashAlg);
    if (!hash) throw new VerificationError('unsupported_algorithm', `identity hash algorithm ${identity.hashAlg}`);
    const wanted = Buffer.from(identity.hash);
    const byNodeId = identity.type === 'cert_hash_node_id';

    // The cache answers SHA-256 names without hashing the bucket; a hit is the same certificate.
    const hex = toHex(identity.hash);
    const cached = hash === 'sha256' ? (byNodeId ? this.certificates.getByNodeIdHash(hex) : this.certificates.get(hex)) : undefined;
    if (cached) return checkUnambiguous(cached, byNodeId);

    for (const g of bucket) {
      if (g.type !== X509_CERTIFICATE_TYPE) continue;
      if (!byNodeId) {
        if (wanted.equals(certificateHash(hash, g.certificate))) return checkUnambiguous(this.infoFor(g.certificate), false);
        continue;
      }
      // The Node-IDs are inside the certificate: read it, skipping ones that do not parse.
      let info: CertificateInfo;
      try {
        info = this.infoFor(g.certificate);
      } catch {
        continue;
      }
      if (matchesNodeIdHash(info, hash, wanted)) return info;
    }
    if (hash !== 'sha256') {
      for (const info of this.certificates.values()) {
        if (byNodeId ? matchesNodeIdHash(info, hash, wanted) : wanted.equals(certificateHash(hash, info.der))) return checkUnambiguous(info, byNodeId);
      }
    }
    throw new VerificationError('unknown_signer', `no certificate with ${identity.type} ${hex.slice(0, 16)}…`);
  }

  private infoFor(der: Uint8Array): CertificateInfo {
    const cached = this.certificates.peek(toHex(certificateHash('sha256', der)));
    if (cached) return cached;
    try {
      return parseCertificate(der);
    } catch (e) {
      throw new VerificationError('untrusted_certificate', e instanceof Error ? e.message : String(e), { cause: e });
    }
  }

  private checkTrust(info: CertificateInfo): void {
    const now = this.clock.wallTime();
    const at = this.trustedAt.get(info);
    try {
      if (at !== undefined && now >= at && now - at < TRUST_RECHECK_INTERVAL_MS) {
        checkValidity(info, now);
        return;
      }
      this.trust.check(info, now);
    } catch (e) {
      if (e instanceof CertificateError) throw new VerificationError('untrusted_certificate', e.message, { cause: e });
      throw e;
    }
    this.trustedAt.set(info, now);
  }
}

function matchesNodeIdHash(info: CertificateInfo, hash: string, wanted: Buffer): boolean {
  return info.nodeIds.some((id) => wanted.equals(certificateHash(hash, info.der, id)));
}

function checkUnambiguous(info: CertificateInfo, byNodeId: boolean): CertificateInfo {
  // §6.3.4: a certificate with several Node-IDs MUST be named with cert_hash_node_id.
  if (!byNodeId && info.nodeIds.length > 1) throw new VerificationError('ambiguous_signer', `cert_hash names a certificate with ${info.nodeIds.length} Node-IDs`);
  return info;
}

/** §6.3.4 mandates RSASSA-PKCS1-v1_5 with SHA-256; ECDSA P-256 with SHA-256 is our own. */
function checkAlgorithm(s: Signature): void {
  if (s.hashAlgorithm !== HashAlgorithm.sha256 || (s.signatureAlgorithm !== SignatureAlgorithm.ecdsa && s.signatureAlgorithm !== SignatureAlgorithm.rsa)) {
    throw new VerificationError('unsupported_algorithm', `signature algorithm {hash ${s.hashAlgorithm}, signature ${s.signatureAlgorithm}}`);
  }
}

function checkSignature(s: Signature, input: Uint8Array, key: KeyObject): void {
  const ecdsa = s.signatureAlgorithm === SignatureAlgorithm.ecdsa;
  if (key.asymmetricKeyType !== (ecdsa ? 'ec' : 'rsa')) {
    throw new VerificationError('bad_signature', `${ecdsa ? 'ecdsa' : 'rsa'} signature from a ${key.asymmetricKeyType} key`);
  }
  let ok = false;
  try {
    ok = ecdsa
      ? verify('sha256', input, { key, dsaEncoding: 'der' }, s.value)
      : verify('sha256', input, { key, padding: constants.RSA_PKCS1_PADDING }, s.value);
  } catch {
    ok = false;
  }
  if (!ok) throw new VerificationError('bad_signature', 'signature does not verify');
}
