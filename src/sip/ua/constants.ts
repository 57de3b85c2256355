// User agent defaults, units in the names.

/** An outgoing call nobody answers is cancelled after this (a door panel rings for a minute). */
export const SIP_UA_NO_ANSWER_MS = 60_000;
/** An incoming call rings this long before 480 Temporarily Unavailable. */
export const SIP_UA_RING_TIMEOUT_MS = 90_000;
/** Calls in progress at once; the next INVITE gets 486 Busy Here. */
export const SIP_UA_MAX_CALLS = 4;
/** Calls, ended ones included, kept for status. */
export const SIP_UA_CALL_HISTORY = 16;
/** User-Agent and Server header value (§20.41). */
export const SIP_UA_USER_AGENT = 'p2psip/0.1';
