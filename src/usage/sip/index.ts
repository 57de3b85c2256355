// The SIP usage for RELOAD (RFC 7904) on the overlay's side: AORs and their domains, the
// Storing Peer's checks of SIP-REGISTRATION values, this device's registrations, resolving
// an AOR to destination lists, and GRUUs. The SIP connection itself lives in src/sip.
export * from './constants.ts';
export * from './aor.ts';
export * from './posix-ere.ts';
export * from './admissible-domains.ts';
export * from './gruu.ts';
export * from './storing-peer-check.ts';
export * from './registration.ts';
export * from './registrations.ts';
export * from './resolve.ts';
