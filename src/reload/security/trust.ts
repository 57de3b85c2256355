// Which certificates a node accepts (RFC 6940 §11.3, §13.3). Self-signed mode trusts a
// certificate whose Node-ID is the digest of its own key (§11.3.1); CA mode (ca-trust.ts)
// trusts certificates that chain to a configured root-cert.
import type { KeyObject } from 'node:crypto';
import { idEquals, toHex } from '../../codec/index.ts';
import { type CertificateInfo, type NodeIdDigest, CertificateError, selfSignedNodeId } from './certificate.ts';
import { RSA_MIN_MODULUS_BITS } from './constants.ts';

export interface TrustPolicy {
  /**
   * Throws a CertificateError unless `info` may sign for its Node-IDs and user name at
   * `now` (ms since 1970). Callers may reuse a pass for a while, re-checking only the
   * certificate's own validity window with `checkValidity` on each use.
   */
  check(info: CertificateInfo, now: number): void;
}

/** §7.1: "the current time MUST be compared to the certificate validity period". */
export function checkValidity(info: CertificateInfo, now: number): void {
  if (now < info.notBeforeMs) throw new CertificateError('not_yet_valid', `valid from ${new Date(info.notBeforeMs).toISOString()}`);
  if (now > info.notAfterMs) throw new CertificateError('expired', `expired ${new Date(info.notAfterMs).toISOString()}`);
}

/** Keys we can verify signatures of: ECDSA P-256, or RSA of at least 2048 bits (§6.3.4). */
export function checkPublicKey(key: KeyObject): void {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec' && d?.namedCurve === 'prime256v1') return;
  if (key.asymmetricKeyType === 'rsa' && (d?.modulusLength ?? 0) >= RSA_MIN_MODULUS_BITS) return;
  throw new CertificateError('unsupported_key', `${key.asymmetricKeyType} ${d?.namedCurve ?? `${d?.modulusLength ?? '?'} bits`}`);
}

export interface SelfSignedTrustInit {
  /** Digest of the configuration's self-signed-permitted element (§11.1); default sha256. */
  digest?: NodeIdDigest;
  /** Overlay instance name every reload:// URI must carry (§11.3). */
  overlay: string;
}

/** Trust for overlays with self-signed-permitted="true" (§11.3.1). */
export class SelfSignedTrust implements TrustPolicy {
  private readonly digest: NodeIdDigest;
  private readonly overlay: string;

  constructor(init: SelfSignedTrustInit) {
    this.digest = init.digest ?? 'sha256';
    this.overlay = init.overlay;
  }

  check(info: CertificateInfo, now: number): void {
    checkValidity(info, now);
    checkPublicKey(info.publicKey);
    if (!info.x509.verify(info.publicKey)) throw new CertificateError('bad_certificate_signature', 'not signed by its own key');
    if (info.reloadUris.length === 0) throw new CertificateError('no_node_id', 'no reload:// URI in subjectAltName');
    // §11.3.1 defines index-prefixed Node-IDs for several per certificate; nothing here needs
    // them, and accepting them would let one key claim many ring positions (§13.3, Sybil).
    if (info.reloadUris.length > 1) throw new CertificateError('multiple_node_ids', `${info.reloadUris.length} Node-IDs in one self-signed certificate`);
    // §11.3: the subjectAltName "MUST NOT contain any identities other than those listed".
    if (info.otherSanEntries > 0) throw new CertificateError('unexpected_identity', `${info.otherSanEntries} other subjectAltName entries`);
    const [{ nodeId, overlay }] = info.reloadUris;
    if (overlay.toLowerCase() !== this.overlay.toLowerCase()) throw new CertificateError('overlay_mismatch', `certificate is for overlay ${overlay}`);
    // §11.3.1: "nodes MUST check that the Node-ID and public keys match".
    const expected = selfSignedNodeId(info.spki, this.digest);
    if (!idEquals(nodeId, expected)) {
      throw new CertificateError('node_id_mismatch', `Node-ID ${toHex(nodeId)} is not ${this.digest}(SubjectPublicKeyInfo) ${toHex(expected)}`);
    }
  }
}

// CaTrust (§11.3, §13.3), for overlays with an enrollment-server, is in ca-trust.ts: it
// accepts certificates that chain to one of the configuration's root-cert list.

/**
 * Several policies, any of which may accept: an overlay with root-cert elements whose
 * configuration also says self-signed-permitted (§11.1). A refusal is the first policy's.
 */
export class AnyOfTrust implements TrustPolicy {
  constructor(private readonly policies: readonly TrustPolicy[]) {
    if (policies.length === 0) throw new TypeError('AnyOfTrust needs a policy');
  }

  check(info: CertificateInfo, now: number): void {
    let first: unknown;
    for (const p of this.policies) {
      try {
        p.check(info, now);
        return;
      } catch (e) {
        first ??= e;
      }
    }
    throw first;
  }
}
