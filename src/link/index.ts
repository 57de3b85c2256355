// The overlay link layer (RFC 6940 §6.6): TLS over TCP with the framing header
// (TLS-TCP-FH-NO-ICE, §6.6.5). A link carries whole RELOAD messages to one authenticated
// neighbour, times itself with framing-header ACKs and reports its own failure; the
// connection table holds one link per Node-ID under a cap. Routing lives above this layer.
export * from './constants.ts';
export type { Endpoint, Link, LinkStats } from './link.ts';
export { FramedLink, type FramedLinkComponents, type FramedLinkInit, type FramedLinkOptions } from './framed-link.ts';
export { TlsTransport, type TlsTransportInit, type TlsTransportStats } from './tls-transport.ts';
export { ConnectionTable, type ConnectionTableInit, type ConnectionTableStats } from './connection-table.ts';
export { duplexPair, memoryLinkPair, type MemoryPeer } from './memory-link.ts';
