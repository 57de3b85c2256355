// Defaults of the message transport, with the RFC 6940 section each comes from.

/** overlay-reliability-timer: end-to-end retransmission interval (§6.2.1, §11.1). */
export const OVERLAY_RELIABILITY_TIMER_MS = 3000;
/** A request is sent at most this many times (§6.2.1). */
export const MAX_TRANSMISSIONS = 5;
/** Maximum request lifetime: duplicates within it get the same answer (§6.2.1). */
export const REQUEST_LIFETIME_MS = 15_000;
/** Incomplete reassembly is discarded after this (§6.7). */
export const REASSEMBLY_TIMEOUT_MS = 15_000;
/** initial-ttl default (§11.1). */
export const INITIAL_TTL = 100;

// Caps of this implementation: each bound, when hit, refuses and counts (never grows).
/** Requests this node has originated and awaits answers for. */
export const MAX_PENDING_TRANSACTIONS = 256;
/** Answers kept to answer retransmitted requests identically. */
export const MAX_ANSWER_CACHE_ENTRIES = 512;
/** Messages being reassembled at once, and their total bytes. */
export const MAX_REASSEMBLY_MESSAGES = 16;
export const MAX_REASSEMBLY_BYTES = 256 * 1024;
