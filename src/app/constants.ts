// Intercom defaults, units in the names.

/** A door call nobody answers stops ringing after this. */
export const INTERCOM_CALL_TIMEOUT_MS = 45_000;
/** DTMF digits remembered while looking for the door code. */
export const INTERCOM_DTMF_BUFFER_DIGITS = 16;
