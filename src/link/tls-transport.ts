// TLS over TCP links with the framing header (TLS-TCP-FH-NO-ICE, RFC 6940 §6.6.5), mutually
// authenticated by certificates whose Node-ID the overlay's own check extracts (§6.5.1, §11.3).
import { createWriteStream, type WriteStream } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import type { Socket } from 'node:net';
import * as tls from 'node:tls';
import { idEquals, type NodeId, toHex } from '../codec/index.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import { TLS_HANDSHAKE_TIMEOUT_MS, TLS_MAX_CONNECTIONS } from './constants.ts';
import { FramedLink, type FramedLinkOptions } from './framed-link.ts';
import type { Endpoint, Link } from './link.ts';

export interface TlsTransportInit extends FramedLinkOptions {
  /** This node's private key. */
  key: KeyObject | string;
  /** This node's certificate, PEM. */
  cert: string;
  /**
   * Checks a peer's certificate (DER) against the overlay's rules and returns the Node-ID it
   * proves; throws to reject the peer. TLS itself accepts any certificate, since overlay
   * certificates are self-signed or chain to the overlay's own roots (§11.3).
   */
  verifyPeer(certDer: Uint8Array): NodeId;
  /** TLS handshake plus peer check must finish within this. Default 5000. */
  handshakeTimeoutMs?: number;
  /** TCP connections a listener holds at once, handshaking or linked. Default 128. */
  maxConnections?: number;
  /**
   * File to append TLS key log lines (NSS format) to, so captures can be decrypted in
   * Wireshark. Default: the SSLKEYLOGFILE environment variable; none if unset.
   */
  keylogFile?: string;
}

export interface TlsTransportStats {
  /** Handshakes that failed or timed out. */
  handshakeFailures: number;
  /** Peers whose certificate was missing, failed `verifyPeer`, or named another Node-ID. */
  peersRejected: number;
}

class PeerRejected extends Error {
  override readonly name = 'PeerRejected';
}

export class TlsTransport {
  readonly stats: TlsTransportStats = { handshakeFailures: 0, peersRejected: 0 };
  /** Set by the owner; called for each authenticated inbound link. Default: close it. */
  onLink: (link: Link) => void = (link) => link.close('no link handler');

  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly init: TlsTransportInit;
  private readonly linkOptions: FramedLinkOptions;
  private readonly key: string;
  private readonly handshakeTimeoutMs: number;
  private readonly keylogFile: string | undefined;
  private keylogStream: WriteStream | undefined;
  private keylogFailed = false;
  private server: tls.Server | undefined;
  /** Raw TCP sockets the listener accepted, until they close. */
  private readonly accepted = new Set<Socket>();
  /** Outbound sockets still in their handshake. */
  private readonly connecting = new Set<tls.TLSSocket>();
  private readonly links = new Set<FramedLink>();
  private closing: Promise<void> | undefined;

  constructor(components: { clock: Clock; log: Logger }, init: TlsTransportInit) {
    this.clock = components.clock;
    this.log = components.log;
    this.init = init;
    const { maxMessageSize, sendQueueLimit, writeBufferLimitBytes, failureTimeoutMs, minRtoMs, initialRtoMs, keepaliveIdleMs, ackRepeatIdleMs } = init;
    this.linkOptions = { maxMessageSize, sendQueueLimit, writeBufferLimitBytes, failureTimeoutMs, minRtoMs, initialRtoMs, keepaliveIdleMs, ackRepeatIdleMs };
    this.key = typeof init.key === 'string' ? init.key : (init.key.export({ type: 'pkcs8', format: 'pem' }) as string);
    this.handshakeTimeoutMs = init.handshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS;
    this.keylogFile = init.keylogFile ?? (process.env.SSLKEYLOGFILE || undefined);
  }

  /** Starts accepting links; `port` 0 picks a free port. Resolves with the bound endpoint. */
  listen(host: string, port: number): Promise<Endpoint> {
    if (this.closing) return Promise.reject(new Error('transport closed'));
    if (this.server) return Promise.reject(new Error('already listening'));
    const server = tls.createServer({
      key: this.key,
      cert: this.init.cert,
      // §6.5.1: both sides present certificates; the server MUST ask for the client's.
      requestCert: true,
      rejectUnauthorized: false,
      // RFC 6940 names TLS 1.2 (§6.6); 1.3 is allowed.
      minVersion: 'TLSv1.2',
      handshakeTimeout: this.handshakeTimeoutMs,
    });
    this.server = server;
    server.maxConnections = this.init.maxConnections ?? TLS_MAX_CONNECTIONS;
    server.on('connection', (raw: Socket) => {
      this.accepted.add(raw);
      raw.once('close', () => this.accepted.delete(raw));
    });
    server.on('secureConnection', (socket) => this.accept(socket));
    server.on('tlsClientError', (e, socket) => {
      this.stats.handshakeFailures++;
      this.log.debug('inbound handshake failed', { error: e, from: socket.remoteAddress });
      socket.destroy();
    });
    if (this.keylogFile) server.on('keylog', (line) => this.keylog(line));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (e) => this.log.error('listener error', { error: e }));
        const address = server.address();
        resolve({ host, port: typeof address === 'object' && address ? address.port : port });
      });
    });
  }

  /**
   * Opens a link to `endpoint`. Rejects if the handshake fails or times out, if the peer's
   * certificate fails `verifyPeer`, or if it proves another Node-ID than `expectedNodeId`.
   */
  connect(endpoint: Endpoint, expectedNodeId?: NodeId, options: { signal?: AbortSignal } = {}): Promise<Link> {
    if (this.closing) return Promise.reject(new Error('transport closed'));
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: endpoint.host,
        port: endpoint.port,
        key: this.key,
        cert: this.init.cert,
        rejectUnauthorized: false,
        // Peers are named by Node-ID, not host name; `verifyPeer` is the identity check.
        checkServerIdentity: () => undefined,
        minVersion: 'TLSv1.2',
      });
      this.connecting.add(socket);
      if (this.keylogFile) socket.on('keylog', (line) => this.keylog(line));
      let settled = false;
      const timer = this.clock.setTimeout(() => fail(new Error('TLS handshake timeout')), this.handshakeTimeoutMs);
      const onAbort = (): void => fail(signal?.reason ?? new Error('aborted'));
      const onError = (e: Error): void => fail(e);
      const onClose = (): void => fail(new Error('connection closed during handshake'));
      const settle = (): void => {
        settled = true;
        this.clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.off('error', onError);
        socket.off('close', onClose);
        this.connecting.delete(socket);
      };
      function fail(e: unknown): void {
        if (settled) return;
        settle();
        socket.on('error', () => {});
        socket.destroy();
        reject(e);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.on('error', onError);
      socket.on('close', onClose);
      socket.once('secureConnect', () => {
        if (settled) return;
        try {
          const { nodeId, der } = this.authenticate(socket);
          if (expectedNodeId && !idEquals(nodeId, expectedNodeId)) {
            this.stats.peersRejected++;
            throw new PeerRejected(`peer proved Node-ID ${toHex(nodeId)}, expected ${toHex(expectedNodeId)}`);
          }
          settle();
          resolve(this.createLink(socket, nodeId, der, true, endpoint));
        } catch (e) {
          if (!(e instanceof PeerRejected)) this.stats.handshakeFailures++;
          fail(e);
        }
      });
    });
  }

  /** Closes the listener, every link and every handshake in progress; idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    for (const socket of this.connecting) socket.destroy(new Error('transport closed'));
    for (const link of [...this.links]) link.close('transport closed');
    for (const raw of this.accepted) raw.destroy();
    const server = this.server;
    const keylog = this.keylogStream;
    this.closing = Promise.all([
      new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
      new Promise<void>((resolve) => (keylog && !this.keylogFailed ? keylog.end(resolve) : resolve())),
    ]).then(() => {});
    return this.closing;
  }

  private accept(socket: tls.TLSSocket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    try {
      const { nodeId, der } = this.authenticate(socket);
      const link = this.createLink(socket, nodeId, der, false, { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 });
      try {
        this.onLink(link);
      } catch (e) {
        this.log.error('onLink threw', { error: e });
      }
    } catch (e) {
      this.log.info('inbound peer rejected', { error: e, from: socket.remoteAddress });
      socket.on('error', () => {});
      socket.destroy();
    }
  }

  /** Checks the peer's certificate right after the handshake, on both sides (§6.5.1). */
  private authenticate(socket: tls.TLSSocket): { nodeId: NodeId; der: Uint8Array } {
    const cert = socket.getPeerCertificate();
    if (!cert || !cert.raw) {
      this.stats.peersRejected++;
      throw new PeerRejected('peer presented no certificate');
    }
    const der = new Uint8Array(cert.raw);
    try {
      return { nodeId: this.init.verifyPeer(der), der };
    } catch (e) {
      this.stats.peersRejected++;
      throw new PeerRejected(`peer certificate rejected: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private createLink(socket: tls.TLSSocket, nodeId: NodeId, der: Uint8Array, outbound: boolean, remote: Endpoint): FramedLink {
    const link = new FramedLink(
      { clock: this.clock, log: this.log, socket },
      { ...this.linkOptions, remoteNodeId: nodeId, remoteCertificate: der, remote, outbound },
    );
    this.links.add(link);
    socket.once('close', () => this.links.delete(link));
    this.log.debug('link up', { link: link.id, nodeId: toHex(nodeId), outbound, protocol: socket.getProtocol() });
    return link;
  }

  private keylog(line: Buffer): void {
    if (!this.keylogFile || this.keylogFailed || this.closing) return;
    if (!this.keylogStream) {
      this.keylogStream = createWriteStream(this.keylogFile, { flags: 'a', mode: 0o600 });
      this.keylogStream.on('error', (e) => {
        this.log.warn('cannot write TLS key log', { error: e });
        this.keylogFailed = true;
      });
    }
    this.keylogStream.write(line);
  }
}
