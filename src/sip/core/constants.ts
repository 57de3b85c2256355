// SIP core defaults (RFC 3261), units in the names.

/** §17.1.1.1 T1, RTT estimate. */
export const SIP_T1_MS = 500;
/** §17.1.2.2 T2, the largest retransmit interval of non-INVITE requests and INVITE responses. */
export const SIP_T2_MS = 4000;
/** §17.1.2.2 T4, how long a message stays in the network. */
export const SIP_T4_MS = 5000;
/** §18.1.1: a request within 200 bytes of the path MTU (1500) goes over a congestion-controlled transport; we just refuse larger datagrams. */
export const SIP_MAX_DATAGRAM_BYTES = 65_507;
/** Largest message accepted from any transport. */
export const SIP_MAX_MESSAGE_BYTES = 65_535;
/** Largest header field after unfolding. */
export const SIP_MAX_HEADER_BYTES = 8_192;
/** Most header fields in one message. */
export const SIP_MAX_HEADERS = 128;
/** Most stream connections (accepted, dialled or adopted) at once. */
export const SIP_MAX_FLOWS = 64;
/** Giving up on a TCP connect. */
export const SIP_TCP_CONNECT_TIMEOUT_MS = 5_000;
/** A dialled or accepted TCP connection with no traffic for this long is closed. */
export const SIP_FLOW_IDLE_MS = 300_000;
/** Most client plus server transactions alive at once; a request beyond it gets 503. */
export const SIP_MAX_TRANSACTIONS = 512;
/** §17.2.1: a server INVITE transaction sends 100 Trying if the TU has not answered in 200 ms. */
export const SIP_TRYING_DELAY_MS = 200;
