// How a Signature names its certificate (RFC 6940 §6.3.4): cert_hash = H(certificate) for
// single-Node-ID certificates, cert_hash_node_id = H(NodeId ‖ certificate) for the others.
import { createHash } from 'node:crypto';
import { type NodeId, type SignerIdentity, HashAlgorithm } from '../../codec/index.ts';

/** node:crypto names of the TLS HashAlgorithm codes (RFC 5246 §7.4.1.4.1) we accept here. */
const HASH_NAMES: ReadonlyMap<number, string> = new Map([
  [HashAlgorithm.sha1, 'sha1'],
  [HashAlgorithm.sha224, 'sha224'],
  [HashAlgorithm.sha256, 'sha256'],
  [HashAlgorithm.sha384, 'sha384'],
  [HashAlgorithm.sha512, 'sha512'],
]);

/** The node:crypto name of a TLS hash code; undefined for none, md5 and unknown codes. */
export function hashName(code: number): string | undefined {
  return HASH_NAMES.get(code);
}

/** H(certificate), or H(NodeId ‖ certificate) with the Node-ID as raw bytes (§6.3.4). */
export function certificateHash(hash: string, der: Uint8Array, nodeId?: NodeId): Uint8Array {
  const h = createHash(hash);
  if (nodeId) h.update(nodeId);
  return new Uint8Array(h.update(der).digest());
}

export type SignerIdentityType = 'cert_hash' | 'cert_hash_node_id';

/** A SHA-256 SignerIdentity of `der`; `nodeId` is required for cert_hash_node_id. */
export function signerIdentityOf(type: SignerIdentityType, der: Uint8Array, nodeId?: NodeId): SignerIdentity {
  if (type === 'cert_hash') return { type, hashAlg: HashAlgorithm.sha256, hash: certificateHash('sha256', der) };
  if (!nodeId) throw new TypeError('cert_hash_node_id needs the signing Node-ID');
  return { type, hashAlg: HashAlgorithm.sha256, hash: certificateHash('sha256', der, nodeId) };
}
