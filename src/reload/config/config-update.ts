// Accepting a new configuration pushed by ConfigUpdate or fetched again (RFC 6940 §6.5.4):
// processed "only if ... the sequence number in the document is greater than the current
// configuration sequence number" and "the Configuration Document is correctly digitally
// signed", by a configuration-signer of the configuration in force (§11.1).
import type { NodeId } from '../../codec/index.ts';
import { systemClock } from '../../util/clock.ts';
import { type ParseOptions, parseOverlayConfiguration } from './configuration-document.ts';
import { verifyConfigurationSignature } from './configuration-signature.ts';
import { ConfigurationError } from './errors.ts';
import { isNewerConfigurationSequence } from './sequence.ts';
import { type SignatureCheckOptions, type SignatureFailure } from './signed-blob.ts';
import type { OverlayConfiguration } from './types.ts';

export type ConfigUpdateRefusal =
  /** Not a configuration document, or one that breaks the grammar. */
  | 'malformed'
  /** It names a mandatory-extension this node does not support (§11.1: the node must leave). */
  | 'unsupported_extension'
  /** No configuration for the overlay in force (§11.2: "discard" on mismatch). */
  | 'instance_name_mismatch'
  /** Its sequence is not newer than the one in force (§6.3.2.1 modulo arithmetic). */
  | 'not_newer'
  /** Its expiration has passed (§11.1). */
  | 'expired'
  | SignatureFailure;

export type ConfigUpdateDecision =
  | { accepted: true; configuration: OverlayConfiguration; signerNodeId: NodeId }
  | { accepted: false; reason: ConfigUpdateRefusal; message: string };

export interface ConfigUpdateOptions extends SignatureCheckOptions {
  /** As ParseOptions.supportedExtensions; default none beyond the built-in namespaces. */
  supportedExtensions?: ParseOptions['supportedExtensions'];
}

/**
 * Decides whether `candidateXml` replaces `current`. Never throws for bad input: a refusal
 * says why. `signerCertificates` are DER certificates known besides the SecurityBlock's.
 * The kind-signatures of the kinds inside are the caller's to check (verifyKindSignature):
 * a self-signed building overlay has unsigned base kinds and no kind-signers.
 */
export function acceptConfigUpdate(
  current: OverlayConfiguration, candidateXml: string | Uint8Array, signerCertificates: readonly Uint8Array[] = [], options: ConfigUpdateOptions = {},
): ConfigUpdateDecision {
  let candidate: OverlayConfiguration;
  try {
    candidate = parseOverlayConfiguration(candidateXml, { instanceName: current.instanceName, supportedExtensions: options.supportedExtensions });
  } catch (e) {
    if (!(e instanceof ConfigurationError)) throw e;
    const reason = e.reason === 'no_such_configuration' ? 'instance_name_mismatch' : e.reason === 'unsupported_extension' ? 'unsupported_extension' : 'malformed';
    return { accepted: false, reason, message: e.message };
  }
  if (!isNewerConfigurationSequence(candidate.sequence, current.sequence)) {
    return { accepted: false, reason: 'not_newer', message: `sequence ${candidate.sequence} is not newer than ${current.sequence}` };
  }
  const now = (options.clock ?? systemClock).wallTime();
  if (candidate.expiration && candidate.expiration.getTime() <= now) {
    return { accepted: false, reason: 'expired', message: `expired ${candidate.expiration.toISOString()}` };
  }
  const check = verifyConfigurationSignature(candidate, signerCertificates, current, options);
  if (!check.ok) return { accepted: false, reason: check.reason, message: check.message };
  return { accepted: true, configuration: candidate, signerNodeId: check.signerNodeId };
}
