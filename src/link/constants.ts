// Defaults of the overlay link layer (RFC 6940 §6.6), units in the names.

/** Unacknowledged data frames a link holds before `send()` refuses (bounded memory). */
export const LINK_SEND_QUEUE_LIMIT_FRAMES = 64;
/**
 * Bytes the socket may hold unsent before `send()` refuses: TCP backpressure. Acks are still
 * written up to twice this; past that the peer is not reading and the link is closed.
 */
export const LINK_WRITE_BUFFER_LIMIT_BYTES = 128 * 1024;
/**
 * Lower bound of the link's failure timeout. §6.6.5 RECOMMENDS keeping a suspect link 30 s;
 * a door call cannot wait that long for the overlay to route around a dead neighbour.
 */
export const LINK_FAILURE_TIMEOUT_MS = 3000;
/** The failure timeout is at least this many RTOs (§6.6.5 uses the RTO as a failure timer). */
export const LINK_FAILURE_TIMEOUT_RTOS = 4;
/**
 * RFC 6298 §2.4 says RTO >= 1 s; §6.6.3.1 allows less on a LAN and the RTO here never
 * drives retransmission, only the failure timeout.
 */
export const LINK_MIN_RTO_MS = 200;
/** RFC 6298 §2.1: RTO before the first RTT sample. */
export const LINK_INITIAL_RTO_MS = 1000;
/** RFC 6298 §2.5: an upper bound may be placed on RTO, at least 60 s. */
export const LINK_MAX_RTO_MS = 60_000;
/** RFC 6298 clock granularity G; §6.6.3.1 rounds the RTO up to the millisecond. */
export const LINK_CLOCK_GRANULARITY_MS = 1;
/** RFC 6298 §2: alpha = 1/8, beta = 1/4, K = 4. */
export const RTO_ALPHA = 1 / 8;
export const RTO_BETA = 1 / 4;
export const RTO_K = 4;
/** Idle time before the owner's `onIdle` is called (it decides whether to Ping). */
export const LINK_KEEPALIVE_IDLE_MS = 1000;
/**
 * Idle time before the link repeats its last ACK, and TCP keepalive's delay: enough to keep
 * NAT and TCP state warm (NAT bindings of TCP last minutes), rare enough that an idle link
 * costs nothing; every frame wakes the process at the far end.
 */
export const LINK_ACK_REPEAT_IDLE_MS = 25_000;
/** How long a closing link may take to flush its socket before it is destroyed. */
export const LINK_CLOSE_LINGER_MS = 1000;
/** TLS handshake, including the peer-certificate check, must finish within this. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 5000;
/** TCP connections (handshaking or linked) a listener accepts at once. */
export const TLS_MAX_CONNECTIONS = 128;
/** Links the connection table holds; over it the least recently used unprotected one goes. */
export const CONNECTION_TABLE_LIMIT = 32;
/** Data frames remembered for the ACK `received` bitmask (§6.6.2). */
export const ACK_HISTORY_FRAMES = 32;
