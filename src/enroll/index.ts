// Enrollment (RFC 6940 §11.3): the overlay's certificate authority and its HTTPS enrollment
// server (`p2psip ca`), and the device side that asks it for a certificate (`p2psip enroll`).
// A provisioning role: the overlay runs without it once devices are enrolled.
export * from './constants.ts';
export * from './certificate-authority.ts';
export * from './ca-store.ts';
export * from './users.ts';
export * from './node-id-registry.ts';
export * from './multipart.ts';
export * from './enrollment-server.ts';
export * from './enroll.ts';
