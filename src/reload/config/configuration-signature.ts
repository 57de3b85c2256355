// Configuration signatures (RFC 6940 §11.1): "starting from, and including, the first < at
// the start of <configuration> up to and including the > in </configuration>", signed with a
// SecurityBlock, base64 in the `<signature>` element that follows. "Any configuration file
// MUST be signed by one of the configuration-signer elements from the previous extant
// configuration."
import { SecurityBlock, encode } from '../../codec/index.ts';
import type { NodeIdentity } from '../security/index.ts';
import { type ConfigurationEntry, configurationEntries, selectEntry } from './configuration-document.ts';
import { type SignatureCheck, type SignatureCheckOptions, checkBlobSignature, signBlob } from './signed-blob.ts';
import type { OverlayConfiguration } from './types.ts';
import { elementBytes, readXml } from './xml-tree.ts';

/**
 * The exact bytes a configuration's signature covers: of the configuration named
 * `instanceName` (case-insensitive), else the first. A subarray of `xml` when it is bytes.
 * Throws ConfigurationError only.
 */
export function signedConfigurationBytes(xml: string | Uint8Array, instanceName?: string): Uint8Array {
  const src = readXml(xml);
  return elementBytes(src, selectEntry(configurationEntries(src), instanceName).configuration);
}

export interface SignConfigurationOptions {
  /** Sign only the configuration with this instance-name; default every configuration. */
  instanceName?: string;
}

/**
 * The document with each configuration followed by one `<signature>` by `signer`, replacing
 * the signatures it had. Nothing else changes, so the signed bytes stay exactly as they were.
 * Throws ConfigurationError for a document that is not a configuration document.
 */
export function signConfiguration(xml: string | Uint8Array, signer: NodeIdentity, options: SignConfigurationOptions = {}): string {
  const src = readXml(xml);
  const entries = configurationEntries(src);
  const targets: ConfigurationEntry[] = options.instanceName === undefined ? entries : [selectEntry(entries, options.instanceName)];
  // Written with the root's own prefix, which is bound to config-base where the root is.
  const colon = src.root.qname.indexOf(':');
  const name = colon < 0 ? 'signature' : `${src.root.qname.slice(0, colon)}:signature`;

  type Edit = { from: number; to: number; insert: string };
  const edits: Edit[] = [];
  for (const { configuration, signatures } of targets) {
    const block = encode(SecurityBlock, signBlob(signer, elementBytes(src, configuration)));
    const b64 = Buffer.from(block.buffer, block.byteOffset, block.byteLength).toString('base64');
    edits.push({ from: configuration.end, to: configuration.end, insert: `\n  <${name}>${b64}</${name}>` });
    for (const s of signatures) {
      // Take the whitespace before the old signature with it, so re-signing adds no blank lines.
      let from = s.start;
      while (from > configuration.end && /\s/.test(src.text[from - 1])) from--;
      edits.push({ from, to: s.end, insert: '' });
    }
  }
  let out = src.text;
  for (const e of edits.sort((a, b) => b.from - a.from || b.to - a.to)) out = out.slice(0, e.from) + e.insert + out.slice(e.to);
  return out;
}

/**
 * Checks `cfg`'s signature: made by a certificate whose Node-ID is a configuration-signer of
 * `previous`, the configuration in force. Without `previous` (a node's first configuration)
 * the signer must be a configuration-signer of `cfg` itself: the document vouches only for
 * its own consistency, and the node trusts it on first use, for how it got it (provisioned,
 * or from the configuration server over HTTPS, §11.2). `signerCertificates` are DER
 * certificates known besides the one in the SecurityBlock. Never throws for bad input.
 */
export function verifyConfigurationSignature(
  cfg: OverlayConfiguration, signerCertificates: readonly Uint8Array[] = [], previous?: OverlayConfiguration, options: SignatureCheckOptions = {},
): SignatureCheck {
  const authority = previous ?? cfg;
  // §11.1: configuration-signers may sign "configurations for this instance-name".
  if (authority.instanceName.toLowerCase() !== cfg.instanceName.toLowerCase()) {
    return { ok: false, reason: 'not_a_signer', message: `signers of ${authority.instanceName} cannot sign ${cfg.instanceName}` };
  }
  if (!cfg.signature) return { ok: false, reason: 'unsigned', message: `configuration ${cfg.instanceName} has no signature element` };
  const { signedBytes: bytes, elements } = cfg.signature;
  return checkBlobSignature({ bytes, elements, authority, signers: authority.configurationSigners, role: 'configuration-signer' }, signerCertificates, options);
}
