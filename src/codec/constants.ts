// Fixed values and default limits of the wire format, with the RFC 6940 section they come from.

/** "RELO" with the high bit of the first byte set (§6.3.2). */
export const RELO_TOKEN = 0xd2454c4f;
/** Protocol version 1.0 (§6.3.2); pre-RFC drafts used 0x01. */
export const RELOAD_VERSION = 0x0a;
/** Size of the fixed part of the forwarding header (§6.3.2). */
export const FORWARDING_HEADER_FIXED_BYTES = 38;
/** Fragment field of an unfragmented message: bit 31 set, last-fragment bit 30 set (§6.7). */
export const FRAGMENT_UNFRAGMENTED = 0xc0000000;
/** Configuration element max-message-size default (§11.1). */
export const DEFAULT_MAX_MESSAGE_SIZE_BYTES = 5000;
/** Configuration element initial-ttl default (§11.1). */
export const DEFAULT_INITIAL_TTL = 100;
/**
 * Node-ID length in bytes. node-id-length may be 16..20 (§11.1), but CHORD-RELOAD fixes
 * identifiers and ring arithmetic at 128 bits (§10.1, §10.2), so the codec uses 16.
 */
export const NODE_ID_BYTES = 16;
/** Resource-IDs of CHORD-RELOAD: SHA-1 truncated to the most significant 128 bits (§10.2). */
export const RESOURCE_ID_BYTES = 16;
/** IANA port for RELOAD over TCP and the default bootstrap-node port (§14.2). */
export const RELOAD_PORT = 6084;
