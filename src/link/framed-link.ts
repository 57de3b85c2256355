// One overlay link over a reliable byte stream with the framing header: TLS/TCP with FH,
// No-ICE (RFC 6940 §6.6.2, §6.6.5). ACKs only time the link; TCP does the reliability.
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { DEFAULT_MAX_MESSAGE_SIZE_BYTES, encode, FramedMessage, FrameReader, InvalidEncoding, type NodeId } from '../codec/index.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import {
  ACK_HISTORY_FRAMES, LINK_CLOCK_GRANULARITY_MS, LINK_CLOSE_LINGER_MS, LINK_FAILURE_TIMEOUT_MS,
  LINK_FAILURE_TIMEOUT_RTOS, LINK_INITIAL_RTO_MS, LINK_ACK_REPEAT_IDLE_MS, LINK_KEEPALIVE_IDLE_MS, LINK_MAX_RTO_MS, LINK_MIN_RTO_MS,
  LINK_SEND_QUEUE_LIMIT_FRAMES, LINK_WRITE_BUFFER_LIMIT_BYTES, RTO_ALPHA, RTO_BETA, RTO_K,
} from './constants.ts';
import type { Endpoint, Link, LinkStats } from './link.ts';

export interface FramedLinkOptions {
  /** max-message-size (§11.1): a larger received message closes the link (§6.6). Default 5000. */
  maxMessageSize?: number;
  /** Unacknowledged data frames before `send()` refuses. Default 64. */
  sendQueueLimit?: number;
  /** Bytes buffered unsent in the socket before `send()` refuses (backpressure). Default 128 KiB. */
  writeBufferLimitBytes?: number;
  /**
   * Least time the oldest unacknowledged frame may wait before the link is declared failed;
   * the timeout is max(this, 4·RTO). §6.6.5 RECOMMENDS keeping a suspect link 30 s; a door
   * call needs the overlay to route around a dead neighbour within seconds. Default 3000.
   */
  failureTimeoutMs?: number;
  /** Floor of the RTO (RFC 6298 §2.4 says 1 s; a LAN needs less). Default 200. */
  minRtoMs?: number;
  /** RTO before the first RTT sample (RFC 6298 §2.1). Default 1000. */
  initialRtoMs?: number;
  /** After this long with nothing sent, the link calls `onIdle`, and again as often. Default 1000. */
  keepaliveIdleMs?: number;
  /**
   * After this long with nothing sent, the link repeats its last ACK; TCP keepalive (same
   * delay) is also enabled on real sockets. Default LINK_ACK_REPEAT_IDLE_MS (25 s).
   */
  ackRepeatIdleMs?: number;
}

export interface FramedLinkInit extends FramedLinkOptions {
  remoteNodeId: NodeId;
  remoteCertificate: Uint8Array;
  remote: Endpoint;
  outbound: boolean;
}

export interface FramedLinkComponents {
  clock: Clock;
  log: Logger;
  /** The byte stream: a `tls.TLSSocket` in production, any `Duplex` in tests. */
  socket: Duplex;
}

const HALF_SEQUENCE_SPACE = 2 ** 31;
let nextLinkId = 1;

/** `a` is at or before `b` in the 32-bit sequence space. */
function seqAtOrBefore(a: number, b: number): boolean {
  return ((b - a) >>> 0) < HALF_SEQUENCE_SPACE;
}

/**
 * A `Link` over a duplex stream. Reading starts once `onMessage` is set, so no message can
 * arrive before the owner listens. `stats.framesSent`/`framesReceived` count data frames.
 */
export class FramedLink implements Link {
  readonly id = nextLinkId++;
  readonly remoteNodeId: NodeId;
  readonly remoteCertificate: Uint8Array;
  readonly remote: Endpoint;
  readonly outbound: boolean;
  readonly stats: LinkStats;
  onClose: (reason: string) => void = () => {};
  onIdle?: () => void;
  onOversize?: (detail: string) => void;

  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly socket: Duplex;
  private readonly reader: FrameReader;
  private readonly maxMessageSize: number;
  private readonly sendQueueLimit: number;
  private readonly writeBufferLimit: number;
  private readonly failureTimeoutMs: number;
  private readonly minRtoMs: number;
  /** A cork is on the socket until the current turn of the event loop ends. */
  private corked = false;
  private readonly keepaliveIdleMs: number;
  private readonly ackRepeatIdleMs: number;
  private messageHandler: (message: Uint8Array) => void = () => {};
  private nextSequence = 0;
  /** Send time of each data frame not yet acknowledged, by sequence number, oldest first. */
  private readonly unacked = new Map<number, number>();
  /** Sequence numbers of the most recent data frames received (§6.6.2 `received`). */
  private readonly history: number[] = [];
  private lastAck: FramedMessage | undefined;
  private rttvar = 0;
  private lastSentMs: number;
  private lastKeepaliveMs: number;
  private failureTimer: TimerHandle | undefined;
  private keepaliveTimer: TimerHandle | undefined;
  private closeReason: string | undefined;

  constructor(components: FramedLinkComponents, init: FramedLinkInit) {
    this.clock = components.clock;
    this.log = components.log;
    this.socket = components.socket;
    this.remoteNodeId = init.remoteNodeId;
    this.remoteCertificate = init.remoteCertificate;
    this.remote = init.remote;
    this.outbound = init.outbound;
    this.maxMessageSize = init.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE_BYTES;
    this.sendQueueLimit = init.sendQueueLimit ?? LINK_SEND_QUEUE_LIMIT_FRAMES;
    this.writeBufferLimit = init.writeBufferLimitBytes ?? LINK_WRITE_BUFFER_LIMIT_BYTES;
    this.failureTimeoutMs = init.failureTimeoutMs ?? LINK_FAILURE_TIMEOUT_MS;
    this.minRtoMs = init.minRtoMs ?? LINK_MIN_RTO_MS;
    this.keepaliveIdleMs = init.keepaliveIdleMs ?? LINK_KEEPALIVE_IDLE_MS;
    this.ackRepeatIdleMs = init.ackRepeatIdleMs ?? LINK_ACK_REPEAT_IDLE_MS;
    this.reader = new FrameReader({ maxMessageSize: this.maxMessageSize });
    const now = this.clock.now();
    this.lastSentMs = now;
    this.lastKeepaliveMs = now;
    this.stats = {
      srttMs: undefined,
      rtoMs: Math.max(this.minRtoMs, init.initialRtoMs ?? LINK_INITIAL_RTO_MS),
      framesSent: 0, framesReceived: 0, acksReceived: 0, bytesSent: 0, bytesReceived: 0, sendQueueDrops: 0,
      lastReceivedMs: now,
    };

    const s = this.socket;
    s.on('data', (chunk: Uint8Array) => this.receive(chunk));
    s.pause();
    s.on('error', (e: NodeJS.ErrnoException) => this.close(`socket error: ${e.code ?? e.message}`));
    s.on('end', () => this.close('remote closed'));
    s.on('close', () => this.close('socket closed'));
    if (s instanceof Socket) {
      // Small request/answer messages: no Nagle delay. TCP keepalive keeps NAT state when the
      // overlay is quiet (§6.6.5 has no STUN keepalives); its probes are too slow to find a
      // dead peer, which is what the owner's Ping on `onIdle` is for.
      s.setNoDelay(true);
      s.setKeepAlive(true, this.ackRepeatIdleMs);
    }
    this.armKeepalive();
  }

  get closed(): boolean {
    return this.closeReason !== undefined;
  }

  get onMessage(): (message: Uint8Array) => void {
    return this.messageHandler;
  }

  set onMessage(handler: (message: Uint8Array) => void) {
    this.messageHandler = handler;
    if (!this.closed) this.socket.resume();
  }

  send(message: Uint8Array): boolean {
    if (this.closed || !this.socket.writable) return this.refuse('closed');
    if (message.length > this.maxMessageSize) return this.refuse('message over max-message-size');
    if (this.unacked.size >= this.sendQueueLimit) return this.refuse('send queue full');
    if (this.socket.writableLength > this.writeBufferLimit) return this.refuse('socket write buffer full');
    // §6.6.2: each connection numbers its frames from 0, +1 per frame.
    const sequence = this.nextSequence;
    this.nextSequence = (sequence + 1) >>> 0;
    this.unacked.set(sequence, this.clock.now());
    this.stats.framesSent++;
    this.write(encode(FramedMessage, { type: 'data', sequence, message }));
    this.armFailureTimer();
    return true;
  }

  close(reason: string): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    this.clock.clearTimeout(this.failureTimer);
    this.clock.clearTimeout(this.keepaliveTimer);
    this.unacked.clear();
    this.releaseSocket();
    this.log.debug('link closed', { link: this.id, reason });
    this.callOwner('onClose', () => this.onClose(reason));
  }

  private refuse(why: string): false {
    this.stats.sendQueueDrops++;
    this.log.debug('send refused', { link: this.id, why });
    return false;
  }

  private write(frame: Uint8Array): void {
    this.stats.bytesSent += frame.length;
    this.lastSentMs = this.clock.now();
    // Frames written in one turn of the event loop (an ACK and the answer it provoked, which
    // follows after promise jobs) go out together at its end: one TLS record and one system
    // call instead of one each.
    if (!this.corked && typeof this.socket.cork === 'function') {
      this.corked = true;
      this.socket.cork();
      setImmediate(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(frame);
  }

  private receive(chunk: Uint8Array): void {
    if (this.closed) return;
    this.stats.bytesReceived += chunk.length;
    let frames: FramedMessage[];
    try {
      // A plain view of the socket's Buffer: messages reach the owner as Uint8Array.
      frames = this.reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (e) {
      this.framingError(e);
      return;
    }
    for (const frame of frames) {
      if (this.closed) return;
      this.stats.lastReceivedMs = this.clock.now();
      if (frame.type === 'data') this.receiveData(frame.sequence, frame.message);
      else this.receiveAck(frame.ackSequence);
    }
  }

  private framingError(e: unknown): void {
    if (e instanceof InvalidEncoding && e.reason === 'too_large') {
      // §6.6: the peer SHOULD send Error_Message_Too_Large and close the session; the
      // owner answers if it wants to, the link only closes.
      this.log.warn('message too large', { link: this.id, detail: e.message });
      this.callOwner('onOversize', () => this.onOversize?.(e.message));
      this.close('message too large');
    } else if (e instanceof InvalidEncoding) {
      // The stream has lost its framing: nothing after this point can be trusted.
      this.log.warn('framing error', { link: this.id, detail: e.message });
      this.close('framing error');
    } else {
      this.log.error('frame reader failed', { link: this.id, error: e });
      this.close('internal error');
    }
  }

  private receiveData(sequence: number, message: Uint8Array): void {
    this.stats.framesReceived++;
    // §6.6.2: bit (N - M) is set for each M among the last 32 received with N-32 < M < N.
    // [AMBIG] bit numbering: bit 0 is the least significant, so bit 0 is never set.
    let received = 0;
    for (const m of this.history) {
      const d = (sequence - m) >>> 0;
      if (d >= 1 && d < 32) received |= 1 << d;
    }
    this.history.push(sequence);
    if (this.history.length > ACK_HISTORY_FRAMES) this.history.shift();
    this.lastAck = { type: 'ack', ackSequence: sequence, received: received >>> 0 };
    // §6.6.2: the receiver SHOULD ACK immediately. A peer that sends while never reading
    // would grow our buffer with ACKs; past twice the send cap it is cut off.
    if (this.socket.writableLength > 2 * this.writeBufferLimit) {
      this.log.warn('peer is not reading', { link: this.id, buffered: this.socket.writableLength });
      this.close('write buffer overflow');
      return;
    }
    this.write(encode(FramedMessage, this.lastAck));
    this.callOwner('onMessage', () => this.messageHandler(message));
  }

  private receiveAck(ackSequence: number): void {
    this.stats.acksReceived++;
    if (this.stats.framesSent === 0) return;
    const lastSent = (this.nextSequence - 1) >>> 0;
    if (!seqAtOrBefore(ackSequence, lastSent)) return; // acknowledges a frame never sent
    // No retransmission at this layer, so Karn's ambiguity never arises: every ACK of an
    // outstanding frame is an RTT sample (RFC 6298 §3, RFC 6940 §6.6.3.1).
    const sentAt = this.unacked.get(ackSequence);
    if (sentAt !== undefined) this.rttSample(this.clock.now() - sentAt);
    // TCP delivers in order: an ACK for N means the peer has every frame up to N.
    for (const sequence of this.unacked.keys()) {
      if (!seqAtOrBefore(sequence, ackSequence)) break;
      this.unacked.delete(sequence);
    }
  }

  /** RFC 6298 §2.2, §2.3; RTO rounded up to the millisecond, not the second (§6.6.3.1). */
  private rttSample(r: number): void {
    const srtt = this.stats.srttMs;
    if (srtt === undefined) {
      this.stats.srttMs = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = (1 - RTO_BETA) * this.rttvar + RTO_BETA * Math.abs(srtt - r);
      this.stats.srttMs = (1 - RTO_ALPHA) * srtt + RTO_ALPHA * r;
    }
    const rto = Math.ceil(this.stats.srttMs + Math.max(LINK_CLOCK_GRANULARITY_MS, RTO_K * this.rttvar));
    this.stats.rtoMs = Math.min(LINK_MAX_RTO_MS, Math.max(this.minRtoMs, rto));
  }

  private failureTimeout(): number {
    return Math.max(this.failureTimeoutMs, LINK_FAILURE_TIMEOUT_RTOS * this.stats.rtoMs);
  }

  /** One timer for the oldest unacknowledged frame; it re-arms itself for the next one. */
  private armFailureTimer(): void {
    if (this.failureTimer || this.closed) return;
    const oldest = this.unacked.values().next();
    if (oldest.done) return;
    const due = oldest.value + this.failureTimeout() - this.clock.now();
    this.failureTimer = this.clock.setTimeout(() => {
      this.failureTimer = undefined;
      this.checkFailure();
    }, Math.max(0, due));
  }

  private checkFailure(): void {
    const oldest = this.unacked.values().next();
    if (this.closed || oldest.done) return;
    const waited = this.clock.now() - oldest.value;
    // §6.6.5: the RTO is "a timeout to indicate when the link SHOULD be removed".
    if (waited >= this.failureTimeout()) {
      this.log.warn('no ACK, link failed', { link: this.id, waitedMs: waited, rtoMs: this.stats.rtoMs });
      this.close('ack timeout');
      return;
    }
    this.armFailureTimer();
  }

  private armKeepalive(): void {
    if (this.closed) return;
    const due = Math.max(this.lastSentMs, this.lastKeepaliveMs) + this.keepaliveIdleMs - this.clock.now();
    this.keepaliveTimer = this.clock.setTimeout(() => {
      this.keepaliveTimer = undefined;
      this.keepalive();
    }, Math.max(0, due));
  }

  /**
   * Repeating the last ACK is harmless to the peer (it acknowledges nothing new) and keeps
   * NAT and TCP state warm; an ACK for a frame never received is not invented, so a link
   * that has received nothing only calls `onIdle`. The owner's Ping is what makes a silent
   * dead peer visible, since only data frames are timed.
   */
  private keepalive(): void {
    if (this.closed) return;
    const now = this.clock.now();
    if (now - this.lastSentMs >= this.keepaliveIdleMs) {
      this.lastKeepaliveMs = now;
      const repeat = now - this.lastSentMs >= this.ackRepeatIdleMs;
      if (repeat && this.lastAck && this.socket.writableLength === 0) this.write(encode(FramedMessage, this.lastAck));
      this.callOwner('onIdle', () => this.onIdle?.());
    }
    this.armKeepalive();
  }

  /** Flushes what is buffered (an error answer, say) but never waits past the linger time. */
  private releaseSocket(): void {
    const s = this.socket;
    if (s.destroyed) return;
    if (s.writableLength === 0 || !s.writable) {
      s.destroy();
      return;
    }
    const linger = this.clock.setTimeout(() => s.destroy(), LINK_CLOSE_LINGER_MS);
    s.once('close', () => this.clock.clearTimeout(linger));
    s.once('finish', () => s.destroy());
    s.end();
  }

  /** Owner callbacks run inside socket and timer callbacks, where a throw would be fatal. */
  private callOwner(name: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log.error('link owner callback threw', { link: this.id, callback: name, error: e });
    }
  }
}
