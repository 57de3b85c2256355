// Defaults of the SIP usage for RELOAD (RFC 7904): registration lifetimes and refresh, and
// the bounds of AOR resolution that §8.2.1 leaves to the caller.

/**
 * Lifetime of a registration, s: the StoredData lifetime is the registration's expiry
 * (RFC 7904 §3.1). Ten minutes, not SIP's customary hour (RFC 3261 §10.2.1.1): a door
 * station that dies silently stops being rung within ten minutes, and a Store every eight
 * minutes costs the overlay nothing.
 */
export const REGISTRATION_LIFETIME_S = 600;
/** A registration is stored again once this fraction of its lifetime has passed. */
export const REGISTRATION_REFRESH_FRACTION = 0.8;
/** First wait after a failed Store, ms; it doubles on each failure. */
export const REGISTRATION_RETRY_MIN_MS = 1_000;
/** Longest wait between attempts after failures, ms. */
export const REGISTRATION_RETRY_MAX_MS = 300_000;
/** Share of a retry wait drawn at random, so devices back after a power cut do not store in step. */
export const REGISTRATION_RETRY_JITTER = 0.2;
/**
 * AORs one device registers at most. USER-NODE-MATCH (RFC 6940 §7.3.3) lets a certificate
 * write only under its own user name, so more than a handful is a mistake.
 */
export const MAX_REGISTERED_AORS = 8;
/** contact_prefs of our own route entries: plain SIP over the AppAttach connection (§3.2, §5.1). */
export const DEFAULT_CONTACT_PREFS = '(sip.schemes=SIP)';

/** Forwarding (uri) entries followed at most from the AOR asked for (§4.2 step 2, §8.2.1). */
export const RESOLVE_MAX_DEPTH = 5;
/** Targets one resolution returns at most: the fork a caller would start (§8.2.1). */
export const RESOLVE_MAX_TARGETS = 16;
/** Fetches one resolution sends at most, however wide the forwarding fans out (§8.2.1). */
export const RESOLVE_MAX_FETCHES = 16;
