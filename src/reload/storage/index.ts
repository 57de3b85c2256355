// Storage (RFC 6940 §7, §10.4): the values a peer holds for the overlay, the Store, Fetch,
// Stat and Find methods, access control, replication through churn, and the requesting side.
export * from './constants.ts';
export * from './kind.ts';
export * from './access-control.ts';
export * from './data-store.ts';
export * from './storage-env.ts';
export * from './storage.ts';
export * from './replication.ts';
export * from './data-client.ts';
export { nonexistent } from './handlers/fetch.ts';
