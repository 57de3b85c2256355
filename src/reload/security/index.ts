// Node identity and message security (RFC 6940 §6.3.4, §7.1, §11.3, §13): this node's key
// and X.509 certificate, trust in other nodes' certificates, and signing and verifying
// messages and stored data. No I/O except loading and saving the identity files.
export * from './constants.ts';
export * as der from './der.ts';
export * from './certificate.ts';
export * from './identity.ts';
export * from './trust.ts';
export * from './ca-constants.ts';
export * from './ca-trust.ts';
export * from './csr.ts';
export * from './signer-identity.ts';
export * from './certificate-cache.ts';
export * from './signer.ts';
export * from './verifier.ts';
export { readIfExists, writeFileAtomic, type AtomicWriteOptions } from './atomic-file.ts';
