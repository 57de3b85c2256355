// Signatures over a stretch of the configuration document (RFC 6940 §11.1): the configuration
// element for `<signature>`, the kind element for `<kind-signature>`. Each holds a base64
// SecurityBlock (§6.3.4) whose signer is named by Node-ID in the trusted configuration.
//
// §11.1 is explicit that the element holds a whole SecurityBlock (certificates and Signature),
// not a bare Signature; its certificate list carries the signer's certificate.
// [AMBIG] §11.1 calls the element's bytes "a binary blob that MUST be signed using the
// standard SecurityBlock" but does not say what the signature input is. Message and data
// signatures append the SignerIdentity to their input (§6.3.4, §7.1); here the input is the
// blob alone, the literal reading.
import { constants, sign, verify } from 'node:crypto';
import {
  type NodeId, type SecurityBlock as SecurityBlockValue, type SignerIdentity, HashAlgorithm, SecurityBlock, SignatureAlgorithm, decode, idEquals,
  toHex,
} from '../../codec/index.ts';
import { type Clock, systemClock } from '../../util/clock.ts';
import {
  type CertificateInfo, type NodeIdentity, type TrustPolicy, CertificateError, MessageSigner, SelfSignedTrust, X509_CERTIFICATE_TYPE, certificateHash,
  hashName, parseCertificate,
} from '../security/index.ts';
import type { OverlayConfiguration, SignatureElement } from './types.ts';

export type SignatureFailure =
  /** No signature element at all. */
  | 'unsigned'
  /** The trusted configuration lists no Node-ID that may sign this. */
  | 'no_signers'
  /** Not base64 of a SecurityBlock, or a SignerIdentity that names no certificate (type none). */
  | 'malformed_signature'
  /** Not sha256 with ecdsa or rsa, the algorithms messages use (§6.3.4). */
  | 'unsupported_algorithm'
  /** No certificate in the SecurityBlock or among those given matches the SignerIdentity. */
  | 'unknown_signer'
  /** The signer's Node-ID is not a configuration-signer (kind-signer) of the trusted configuration. */
  | 'not_a_signer'
  /** The signer's Node-ID is a bad-node of the trusted configuration (§11.1). */
  | 'bad_node'
  /** The signer's certificate fails the trust policy (validity, self-signed Node-ID, chain). */
  | 'untrusted_certificate'
  | 'bad_signature';

export type SignatureCheck =
  | { ok: true; signerNodeId: NodeId; certificate: CertificateInfo }
  | { ok: false; reason: SignatureFailure; message: string };

export interface SignatureCheckOptions {
  /**
   * Decides whether the signer's certificate holds its Node-ID. Default: SelfSignedTrust with
   * the trusted configuration's digest when it sets self-signed-permitted true; otherwise none,
   * and every signer is refused as untrusted (CA trust must be passed in).
   */
  trust?: TrustPolicy;
  /** Wall time for certificate validity; default the system clock. */
  clock?: Clock;
}

/** A SecurityBlock over `bytes` by `identity`, carrying its certificate (§6.3.4, §11.1). */
export function signBlob(identity: NodeIdentity, bytes: Uint8Array): SecurityBlockValue {
  // MessageSigner knows how our certificate is named and which algorithm our key signs with.
  const ref = new MessageSigner(identity);
  return {
    certificates: [{ type: X509_CERTIFICATE_TYPE, certificate: identity.certificate }],
    signature: {
      hashAlgorithm: HashAlgorithm.sha256,
      signatureAlgorithm: ref.signatureAlgorithm,
      identity: ref.identityRef,
      value: new Uint8Array(sign('sha256', bytes, identity.privateKey)),
    },
  };
}

type Failure = Extract<SignatureCheck, { ok: false }>;
const fail = (reason: SignatureFailure, message: string): Failure => ({ ok: false, reason, message });

/** What a signature element is checked against. */
export interface SignedBlob {
  /** The exact bytes the signature covers. */
  bytes: Uint8Array;
  /** The signature elements; one valid signature suffices. */
  elements: readonly SignatureElement[];
  /** The configuration whose signer list, bad-nodes and certificate rules apply. */
  authority: OverlayConfiguration;
  /** Its configuration-signers or its kind-signers. */
  signers: readonly NodeId[];
  /** 'configuration-signer' or 'kind-signer', for messages. */
  role: string;
}

/**
 * Checks that one of the blob's signature elements is a valid signature over its bytes by a
 * certificate whose Node-ID is one of its signers, trusted under its authority. `certificates`
 * are DER certificates known besides those in the SecurityBlock.
 */
export function checkBlobSignature(blob: SignedBlob, certificates: readonly Uint8Array[], options: SignatureCheckOptions): SignatureCheck {
  if (blob.elements.length === 0) return fail('unsigned', 'no signature element');
  if (blob.signers.length === 0) return fail('no_signers', `configuration ${blob.authority.instanceName} lists no ${blob.role}`);
  let first: Failure | undefined;
  for (const e of blob.elements) {
    const result = checkOne(blob, e, certificates, options);
    if (result.ok) return result;
    first ??= result;
  }
  return first!;
}

function checkOne(
  { bytes, signers, role, authority }: SignedBlob, element: SignatureElement, extra: readonly Uint8Array[], options: SignatureCheckOptions,
): SignatureCheck {
  let block: SecurityBlockValue;
  try {
    block = decode(SecurityBlock, element.securityBlock, 'signature');
  } catch (e) {
    return fail('malformed_signature', `not a SecurityBlock: ${e instanceof Error ? e.message : String(e)}`);
  }
  const s = block.signature;
  if (s.hashAlgorithm !== HashAlgorithm.sha256 || (s.signatureAlgorithm !== SignatureAlgorithm.ecdsa && s.signatureAlgorithm !== SignatureAlgorithm.rsa)) {
    return fail('unsupported_algorithm', `signature algorithm {hash ${s.hashAlgorithm}, signature ${s.signatureAlgorithm}}`);
  }
  const candidates = [...block.certificates.filter((g) => g.type === X509_CERTIFICATE_TYPE).map((g) => g.certificate), ...extra];
  const found = findSigner(s.identity, candidates);
  if ('reason' in found) return found;
  const { info, nodeId } = found;
  const hex = toHex(nodeId);
  if (!signers.some((id) => idEquals(id, nodeId))) return fail('not_a_signer', `${hex} is not a ${role} of ${authority.instanceName}`);
  if (authority.badNodes.some((id) => idEquals(id, nodeId))) return fail('bad_node', `${hex} is a bad-node of ${authority.instanceName}`);
  const trust = options.trust ?? (authority.selfSignedPermitted?.value
    ? new SelfSignedTrust({ digest: authority.selfSignedPermitted.digest, overlay: authority.instanceName })
    : undefined);
  if (!trust) return fail('untrusted_certificate', `${authority.instanceName} does not permit self-signed certificates and no trust policy was given`);
  try {
    trust.check(info, (options.clock ?? systemClock).wallTime());
  } catch (e) {
    if (e instanceof CertificateError) return fail('untrusted_certificate', e.message);
    throw e;
  }
  if (!signatureVerifies(s.signatureAlgorithm, bytes, info, s.value)) return fail('bad_signature', `signature by ${hex} does not verify`);
  return { ok: true, signerNodeId: nodeId, certificate: info };
}

function parsed(der: Uint8Array): CertificateInfo | undefined {
  try {
    return parseCertificate(der);
  } catch {
    return undefined;
  }
}

/** The certificate a SignerIdentity names (§6.3.4) and the Node-ID it signs for. */
function findSigner(identity: SignerIdentity, candidates: readonly Uint8Array[]): { info: CertificateInfo; nodeId: NodeId } | Failure {
  if (identity.type === 'none' || identity.type === 'unknown') return fail('malformed_signature', `signer identity type ${identity.type === 'none' ? 'none' : identity.code}`);
  const hash = hashName(identity.hashAlg);
  if (!hash) return fail('unsupported_algorithm', `identity hash algorithm ${identity.hashAlg}`);
  const wanted = Buffer.from(identity.hash);
  for (const der of candidates) {
    if (identity.type === 'cert_hash') {
      if (!wanted.equals(certificateHash(hash, der))) continue;
      const info = parsed(der);
      if (!info) return fail('untrusted_certificate', 'the signer certificate does not parse');
      const [only, ...more] = info.nodeIds;
      // §6.3.4: a certificate with several Node-IDs MUST be named with cert_hash_node_id.
      if (!only || more.length > 0) return fail('untrusted_certificate', `cert_hash names a certificate with ${info.nodeIds.length} Node-IDs`);
      return { info, nodeId: only };
    }
    const info = parsed(der);
    const nodeId = info?.nodeIds.find((id) => wanted.equals(certificateHash(hash, der, id)));
    if (info && nodeId) return { info, nodeId };
  }
  return fail('unknown_signer', `no certificate with ${identity.type} ${toHex(identity.hash).slice(0, 16)}…`);
}

function signatureVerifies(algorithm: number, input: Uint8Array, info: CertificateInfo, value: Uint8Array): boolean {
  const key = info.publicKey;
  const ecdsa = algorithm === SignatureAlgorithm.ecdsa;
  if (key.asymmetricKeyType !== (ecdsa ? 'ec' : 'rsa')) return false;
  try {
    return ecdsa
      ? verify('sha256', input, { key, dsaEncoding: 'der' }, value)
      : verify('sha256', input, { key, padding: constants.RSA_PKCS1_PADDING }, value);
  } catch {
    return false;
  }
}
