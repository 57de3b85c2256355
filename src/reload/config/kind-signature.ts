// Kind signatures (RFC 6940 §11.1): the kind-signature covers the kind element "from the
// beginning of the first < of the kind element to the end of the last >", "in the same way
// as the signature element", and "kind-block elements MUST be signed by a node listed in the
// kind-signers block of the current configuration".
import { SecurityBlock, encode } from '../../codec/index.ts';
import type { NodeIdentity } from '../security/index.ts';
import { type SignatureCheck, type SignatureCheckOptions, checkBlobSignature, signBlob } from './signed-blob.ts';
import type { KindDefinition, OverlayConfiguration } from './types.ts';

const encoder = new TextEncoder();

/** `kind` with a kind-signature by `signer` over its element text. */
export function signKind(kind: KindDefinition, signer: NodeIdentity): KindDefinition {
  return { ...kind, signature: { securityBlock: encode(SecurityBlock, signBlob(signer, encoder.encode(kind.xml))), algorithm: undefined } };
}

/** Checks `kind`'s kind-signature against the kind-signers of `current`. Never throws for bad input. */
export function verifyKindSignature(
  kind: KindDefinition, current: OverlayConfiguration, signerCertificates: readonly Uint8Array[] = [], options: SignatureCheckOptions = {},
): SignatureCheck {
  const blob = { bytes: encoder.encode(kind.xml), elements: kind.signature ? [kind.signature] : [], authority: current, signers: current.kindSigners, role: 'kind-signer' };
  return checkBlobSignature(blob, signerCertificates, options);
}
