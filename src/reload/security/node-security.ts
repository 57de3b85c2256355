// The MessageSecurity a node runs with (RFC 6940 §6.3.4, §7.1): our signer for messages and
// stored data, and one verifier, under one trust policy, for everything we receive.
import { type NodeId, type SignerIdentity, idEquals } from '../../codec/index.ts';
import type { Clock } from '../../util/clock.ts';
import type { DataSigner, MessageSecurity } from '../types.ts';
import { type CertificateInfo, parseCertificate } from './certificate.ts';
import { CertificateCache } from './certificate-cache.ts';
import type { NodeIdentity } from './identity.ts';
import { certificateHash, hashName } from './signer-identity.ts';
import { MessageSigner } from './signer.ts';
import { SelfSignedTrust, type TrustPolicy } from './trust.ts';
import { MessageVerifier, VerificationError } from './verifier.ts';

/** Security for `identity` under `trust`; self-signed trust (§11.3.1) when none is given. */
export function nodeSecurity(identity: NodeIdentity, clock: Clock, trust: TrustPolicy = new SelfSignedTrust({ overlay: identity.overlay })): MessageSecurity {
  const signer = new MessageSigner(identity);
  const verifier = new MessageVerifier({ trust, certificates: new CertificateCache(), clock });
  return {
    nodeId: identity.nodeId,
    certificate: identity.certificate,
    userName: identity.info.userName ?? '',
    sign: (overlay, transactionId, contents, extra) => signer.signMessage(overlay, transactionId, contents, extra),
    verify: (m) => [...verifier.verifyMessage(m).nodeIds],
    verifyPeer(certificate): NodeId {
      const info = parseCertificate(certificate);
      trust.check(info, clock.wallTime());
      return info.nodeIds[0];
    },
    signData: (resource, kind, storageTime, value) => signer.signData(resource, kind, storageTime, value),
    verifyData(resource, kind, data, certificates): DataSigner {
      const info = verifier.verifyData(resource, kind, data, certificates);
      return { certificate: info.der, nodeId: signingNodeId(info, data.signature!.identity), userName: info.userName };
    },
  };
}

/**
 * The Node-ID a SignerIdentity names: the certificate's only one for cert_hash, the one whose
 * hash matches for cert_hash_node_id (§6.3.4). The verifier has already matched it.
 */
function signingNodeId(info: CertificateInfo, identity: SignerIdentity): NodeId {
  if (identity.type === 'cert_hash_node_id') {
    const hash = hashName(identity.hashAlg);
    const found = hash && info.nodeIds.find((id) => idEquals(certificateHash(hash, info.der, id), identity.hash));
    if (found) return found;
    throw new VerificationError('unknown_signer', 'no Node-ID of the certificate matches the signer identity');
  }
  return info.nodeIds[0];
}
