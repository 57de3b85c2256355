// The RELOAD wire format (RFC 6940 §6.3, §6.6.2, §7, §10; RFC 7904 §3.2): pure structures
// over a shared cursor, no I/O. Every decoder is bounds-checked and fails with a
// NeedMoreBytes or InvalidEncoding that names the field.
export * from './cursor.ts';
export * from './constants.ts';
export * from './codes.ts';
export * from './ids.ts';
export * from './ip-address-port.ts';
export * from './destination.ts';
export * from './forwarding-option.ts';
export * from './forwarding-header.ts';
export * from './message-contents.ts';
export * from './security-block.ts';
export * from './message.ts';
export * from './stored-data.ts';
export * from './ice-candidate.ts';
export * from './chord.ts';
export * from './sip-registration.ts';
export * from './turn-server.ts';
export * from './framing.ts';
export * from './kinds.ts';
export * from './body.ts';
export * from './bodies/attach.ts';
export * from './bodies/app-attach.ts';
export * from './bodies/config-update.ts';
export * from './bodies/error.ts';
export * from './bodies/fetch.ts';
export * from './bodies/find.ts';
export * from './bodies/ping.ts';
export * from './bodies/probe.ts';
export * from './bodies/stat.ts';
export * from './bodies/store.ts';
export * from './bodies/topology.ts';
