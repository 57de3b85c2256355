// Certificates learnt from verified messages and data, so that a signer may leave its
// certificate out of later messages (§6.3.4 "some certificates MAY be omitted") and so that
// a busy peer's certificate is parsed once. Bounded, least recently used evicted first.
import { toHex } from '../../codec/index.ts';
import type { CertificateInfo } from './certificate.ts';
import { DEFAULT_CERTIFICATE_CACHE_SIZE } from './constants.ts';
import { certificateHash } from './signer-identity.ts';

export class CertificateCache {
  readonly capacity: number;
  private evicted = 0;
  /** sha256(DER) hex → certificate; Map order is recency order, oldest first. */
  private readonly byHash = new Map<string, CertificateInfo>();
  /** sha256(NodeId ‖ DER) hex → sha256(DER) hex, for cert_hash_node_id signers (§6.3.4). */
  private readonly byNodeIdHash = new Map<string, string>();

  /** @param capacity most certificates kept; default DEFAULT_CERTIFICATE_CACHE_SIZE (256). */
  constructor(capacity: number = DEFAULT_CERTIFICATE_CACHE_SIZE) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`cache capacity ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.byHash.size;
  }

  /** Certificates dropped to stay within the capacity since construction. */
  get evictions(): number {
    return this.evicted;
  }

  /** Looks up by sha256(DER) hex and marks the certificate recently used. */
  get(sha256Hex: string): CertificateInfo | undefined {
    const info = this.byHash.get(sha256Hex);
    if (info) this.touch(info);
    return info;
  }

  /** Looks up without changing recency. */
  peek(sha256Hex: string): CertificateInfo | undefined {
    return this.byHash.get(sha256Hex);
  }

  /** Looks up by sha256(NodeId ‖ DER) hex. */
  getByNodeIdHash(hex: string): CertificateInfo | undefined {
    const key = this.byNodeIdHash.get(hex);
    return key === undefined ? undefined : this.get(key);
  }

  /** Adds or refreshes a certificate, evicting the least recently used one when full. */
  add(info: CertificateInfo): void {
    const existing = this.byHash.get(info.sha256Hex);
    if (existing) {
      this.touch(existing);
      return;
    }
    if (this.byHash.size >= this.capacity) {
      const oldest = this.byHash.keys().next().value;
      if (oldest !== undefined) this.delete(oldest);
      this.evicted++;
    }
    this.byHash.set(info.sha256Hex, info);
    for (const id of info.nodeIds) this.byNodeIdHash.set(toHex(certificateHash('sha256', info.der, id)), info.sha256Hex);
  }

  delete(sha256Hex: string): boolean {
    const info = this.byHash.get(sha256Hex);
    if (!info) return false;
    this.byHash.delete(sha256Hex);
    for (const id of info.nodeIds) this.byNodeIdHash.delete(toHex(certificateHash('sha256', info.der, id)));
    return true;
  }

  /** Every certificate, oldest use first. */
  values(): IterableIterator<CertificateInfo> {
    return this.byHash.values();
  }

  private touch(info: CertificateInfo): void {
    this.byHash.delete(info.sha256Hex);
    this.byHash.set(info.sha256Hex, info);
  }
}
