// Signing with this node's identity (RFC 6940 §6.3.4, §7.1): every message carries our
// certificate and a signature over overlay ‖ transaction_id ‖ MessageContents ‖ SignerIdentity;
// every StoredData value carries its own signature.
import { sign } from 'node:crypto';
import {
  type ResourceId, type SecurityBlock, type Signature, type SignerIdentity, type StoredDataValue, type GenericCertificate,
  HashAlgorithm, SignatureAlgorithm, messageSignatureInput, storedDataSignatureInput,
} from '../../codec/index.ts';
import { X509_CERTIFICATE_TYPE } from './constants.ts';
import type { NodeIdentity } from './identity.ts';
import { type SignerIdentityType, signerIdentityOf } from './signer-identity.ts';

export interface MessageSignerInit {
  /**
   * How signatures name our certificate; default cert_hash for a certificate with one
   * Node-ID, cert_hash_node_id otherwise, as §6.3.4 requires.
   */
  identityType?: SignerIdentityType;
}

export class MessageSigner {
  /** The SignerIdentity every signature carries. */
  readonly identityRef: SignerIdentity;
  /** TLS SignatureAlgorithm code of our key: ecdsa(3) or rsa(1); the hash is always sha256(4). */
  readonly signatureAlgorithm: number;
  private readonly identity: NodeIdentity;
  private readonly ownCertificate: GenericCertificate;

  constructor(identity: NodeIdentity, init: MessageSignerInit = {}) {
    const type = init.identityType ?? (identity.info.nodeIds.length > 1 ? 'cert_hash_node_id' : 'cert_hash');
    switch (identity.privateKey.asymmetricKeyType) {
      case 'ec': this.signatureAlgorithm = SignatureAlgorithm.ecdsa; break;
      // RSASSA-PKCS1-v1_5, node:crypto's default padding for RSA keys, the §6.3.4 mandatory one.
      case 'rsa': this.signatureAlgorithm = SignatureAlgorithm.rsa; break;
      default: throw new TypeError(`cannot sign RELOAD messages with a ${identity.privateKey.asymmetricKeyType} key`);
    }
    this.identity = identity;
    this.identityRef = signerIdentityOf(type, identity.certificate, identity.nodeId);
    this.ownCertificate = { type: X509_CERTIFICATE_TYPE, certificate: identity.certificate };
  }

  /**
   * The security block of a message whose MessageContents are `contentsBytes`. §6.3.4: the
   * bucket SHOULD hold every certificate needed for the signatures inside too (e.g. those of
   * StoredData in a Fetch answer); pass those as `extraCertificates`.
   */
  signMessage(overlay: number, transactionId: bigint, contentsBytes: Uint8Array, extraCertificates: readonly Uint8Array[] = []): SecurityBlock {
    const certificates = [this.ownCertificate];
    const seen = new Set([Buffer.from(this.identity.certificate).toString('base64')]);
    for (const c of extraCertificates) {
      const key = Buffer.from(c).toString('base64');
      if (seen.has(key)) continue;
      seen.add(key);
      certificates.push({ type: X509_CERTIFICATE_TYPE, certificate: c });
    }
    return { certificates, signature: this.sign(messageSignatureInput(overlay, transactionId, contentsBytes, this.identityRef)) };
  }

  /** The signature of a StoredData value stored at `resourceId` under `kind` (§7.1). */
  signData(resourceId: ResourceId, kind: number, storageTime: bigint, value: StoredDataValue): Signature {
    return this.sign(storedDataSignatureInput(resourceId, kind, storageTime, value, this.identityRef));
  }

  private sign(input: Uint8Array): Signature {
    return {
      hashAlgorithm: HashAlgorithm.sha256,
      signatureAlgorithm: this.signatureAlgorithm,
      identity: this.identityRef,
      value: new Uint8Array(sign('sha256', input, this.identity.privateKey)),
    };
  }
}
