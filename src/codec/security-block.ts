// SecurityBlock, Signature and SignerIdentity (RFC 6940 §6.3.4), and the exact byte strings
// that message signatures cover.
import {
  type Codec, type Cursor, Cursor as CursorClass, readOpaque, readSequence, readU8, readU16, within,
  writeBytes, writeOpaque, writeU8, writeU16, writeU32, writeU64, writeLength } from './cursor.ts';

/** An X.509 (type 0, RFC 6091) or other certificate, DER bytes. */
export interface GenericCertificate {
  type: number;
  certificate: Uint8Array;
}

export type SignerIdentity =
  /** Hash of the signer's certificate: single-Node-ID certificates. */
  | { type: 'cert_hash'; hashAlg: number; hash: Uint8Array }
  /** Hash of Node-ID ‖ certificate: multi-Node-ID certificates. */
  | { type: 'cert_hash_node_id'; hashAlg: number; hash: Uint8Array }
  /** Only in synthesized "nonexistent" fetch results (§7.4.2.1). */
  | { type: 'none' }
  | { type: 'unknown'; code: number; data: Uint8Array };

export interface Signature {
  /** TLS SignatureAndHashAlgorithm (RFC 5246 §7.4.1.4.1), e.g. sha256(4) + rsa(1). */
  hashAlgorithm: number;
  signatureAlgorithm: number;
  identity: SignerIdentity;
  value: Uint8Array;
}

export interface SecurityBlock {
  certificates: GenericCertificate[];
  signature: Signature;
}

export const GenericCertificate: Codec<GenericCertificate> = {
  encodingLength: (g) => 3 + g.certificate.length,
  encode(g, c) {
    writeU8(c, g.type);
    writeOpaque(c, 2, g.certificate, 'certificate');
  },
  // Copied: certificates outlive the frame (storing peers keep them with the data, §6.3.4).
  decode: (c) => ({ type: readU8(c, 'type'), certificate: readOpaque(c, 2, 'certificate').slice() }),
};

const CERT_HASH = 1;
const CERT_HASH_NODE_ID = 2;
const NONE = 3;

function identityValueLength(s: SignerIdentity): number {
  switch (s.type) {
    case 'cert_hash':
    case 'cert_hash_node_id': return 2 + s.hash.length;
    case 'none': return 0;
    case 'unknown': return s.data.length;
  }
}

export const SignerIdentity: Codec<SignerIdentity> = {
  encodingLength: (s) => 3 + identityValueLength(s),
  encode(s, c) {
    const code = s.type === 'cert_hash' ? CERT_HASH : s.type === 'cert_hash_node_id' ? CERT_HASH_NODE_ID : s.type === 'none' ? NONE : s.code;
    writeU8(c, code);
    writeLength(c, 2, identityValueLength(s), 'identity');
    if (s.type === 'cert_hash' || s.type === 'cert_hash_node_id') {
      writeU8(c, s.hashAlg);
      writeOpaque(c, 1, s.hash, 'certificate_hash');
    } else if (s.type === 'unknown') {
      writeBytes(c, s.data);
    }
  },
  decode(c) {
    const code = readU8(c, 'identity_type');
    const length = readU16(c, 'length');
    return within(c, length, 'identity', (): SignerIdentity => {
      switch (code) {
        case 0:
          return c.invalid('identity_type', 'bad_value', 'invalidSignerIdentityType(0)');
        case CERT_HASH:
        case CERT_HASH_NODE_ID: {
          const hashAlg = readU8(c, 'hash_alg');
          const hash = readOpaque(c, 1, code === CERT_HASH ? 'certificate_hash' : 'certificate_node_id_hash');
          return { type: code === CERT_HASH ? 'cert_hash' : 'cert_hash_node_id', hashAlg, hash };
        }
        case NONE:
          return { type: 'none' };
        default: {
          // "This structure may be extended with new types": the length lets us skip it.
          const at = c.take(length, 'identity');
          return { type: 'unknown', code, data: c.bytes.subarray(at, at + length) };
        }
      }
    });
  },
};

export const Signature: Codec<Signature> = {
  encodingLength: (s) => 2 + SignerIdentity.encodingLength(s.identity) + 2 + s.value.length,
  encode(s, c) {
    writeU8(c, s.hashAlgorithm);
    writeU8(c, s.signatureAlgorithm);
    SignerIdentity.encode(s.identity, c);
    writeOpaque(c, 2, s.value, 'signature_value');
  },
  decode(c) {
    const hashAlgorithm = readU8(c, 'algorithm.hash');
    const signatureAlgorithm = readU8(c, 'algorithm.signature');
    c.path.push('identity');
    const identity = SignerIdentity.decode(c);
    c.path.pop();
    return { hashAlgorithm, signatureAlgorithm, identity, value: readOpaque(c, 2, 'signature_value') };
  },
};

function certificatesLength(list: readonly GenericCertificate[]): number {
  let n = 0;
  for (const g of list) n += GenericCertificate.encodingLength(g);
  return n;
}

export const SecurityBlock: Codec<SecurityBlock> = {
  encodingLength: (b) => 2 + certificatesLength(b.certificates) + Signature.encodingLength(b.signature),
  encode(b, c) {
    writeLength(c, 2, certificatesLength(b.certificates), 'certificates');
    for (const g of b.certificates) GenericCertificate.encode(g, c);
    Signature.encode(b.signature, c);
  },
  decode(c) {
    const certificates = readSequence(c, readU16(c, 'certificates'), 'certificates', GenericCertificate);
    c.path.push('signature');
    const signature = Signature.decode(c);
    c.path.pop();
    return { certificates, signature };
  },
};

/**
 * The bytes a message signature covers (§6.3.4):
 *   overlay ‖ transaction_id ‖ MessageContents ‖ SignerIdentity
 * with the overlay as the header's uint32, the transaction ID as uint64, and the
 * MessageContents and SignerIdentity exactly as they are encoded on the wire.
 */
export function messageSignatureInput(overlay: number, transactionId: bigint, contents: Uint8Array, identity: SignerIdentity): Uint8Array {
  const c: Cursor = CursorClass.alloc(4 + 8 + contents.length + SignerIdentity.encodingLength(identity));
  writeU32(c, overlay);
  writeU64(c, transactionId);
  writeBytes(c, contents);
  SignerIdentity.encode(identity, c);
  return c.bytes;
}
