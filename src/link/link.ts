// What the overlay sees of one link to a neighbour: authenticated, framed, ordered messages.
import type { NodeId } from '../codec/index.ts';

export interface Endpoint {
  host: string;
  port: number;
}

export interface LinkStats {
  /** Smoothed round-trip time from framing-header ACKs (RFC 6298 SRTT); undefined until one. */
  srttMs: number | undefined;
  /** Current retransmission timeout (RFC 6298 §2), the link's failure timer base. */
  rtoMs: number;
  framesSent: number;
  framesReceived: number;
  acksReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Sends refused because the link's send queue was at its cap. */
  sendQueueDrops: number;
  /** Milliseconds (clock time) of the last frame received. */
  lastReceivedMs: number;
}

export interface Link {
  readonly id: number;
  /** The Node-ID the remote certificate proved (§6.6, §11.3). */
  readonly remoteNodeId: NodeId;
  /** The remote certificate, DER. */
  readonly remoteCertificate: Uint8Array;
  readonly remote: Endpoint;
  /** True when this side opened the TCP connection (the TLS client). */
  readonly outbound: boolean;
  readonly closed: boolean;
  readonly stats: LinkStats;
  /**
   * Queues one RELOAD message for the link. Returns false, and counts it, when the link is
   * closed or its queue is full; never throws for a network condition.
   */
  send(message: Uint8Array): boolean;
  /** Idempotent. `onClose` runs once, with the first reason given. */
  close(reason: string): void;
  /** Set by the owner; called for each whole message received. */
  onMessage: (message: Uint8Array) => void;
  /** Set by the owner; called once when the link closes for any reason. */
  onClose: (reason: string) => void;
  /**
   * Optional; called when the link has sent nothing for its keepalive idle time, so the owner
   * may send a Ping (§6.5.3): the failure timer runs only while a data frame awaits its ACK.
   */
  onIdle?: () => void;
  /**
   * Optional; called when a received message exceeds max-message-size, just before the link
   * closes (§6.6). The link is still open: the owner may send Error_Message_Too_Large.
   */
  onOversize?: (detail: string) => void;
}
