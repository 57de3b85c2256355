// The overlay configuration document (RFC 6940 §11.1): reading and writing
// application/p2p-overlay+xml, its configuration and kind signatures, and the ConfigUpdate
// acceptance rule (§6.5.4). Pure code: documents come in and go out as strings or bytes.
export * from './constants.ts';
export { ConfigurationError, type ConfigurationErrorReason } from './errors.ts';
export type * from './types.ts';
export { type ParseOptions, parseOverlayConfiguration, parseOverlayDocument } from './configuration-document.ts';
export { type KindInit, defineKind, kindBlockXml, parseKindBlock } from './kind-block.ts';
export { sipDomainRestriction } from './sip-domain-restriction.ts';
export { toXml } from './to-xml.ts';
export { isNewerConfigurationSequence, nextConfigurationSequence } from './sequence.ts';
export { type SignatureCheck, type SignatureCheckOptions, type SignatureFailure } from './signed-blob.ts';
export { type SignConfigurationOptions, signConfiguration, signedConfigurationBytes, verifyConfigurationSignature } from './configuration-signature.ts';
export { signKind, verifyKindSignature } from './kind-signature.ts';
export { type ConfigUpdateDecision, type ConfigUpdateOptions, type ConfigUpdateRefusal, acceptConfigUpdate } from './config-update.ts';
export { type EmbeddedConfigurationInit, baseKinds, embeddedDefaultConfiguration } from './default-configuration.ts';
