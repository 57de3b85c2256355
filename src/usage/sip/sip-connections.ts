// Connecting for SIP through the overlay (RFC 7904 §5): AppAttach with Application-ID 5060
// to a registered device, then a direct TCP connection to the candidate it answers with,
// carrying plain SIP. The callee side offers its SIP listener as the candidate.
import { type Socket, connect as tcpConnect } from 'node:net';
import { type Server as TlsServer, type TLSSocket, connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import {
  type Destination, type IceCandidate, type NodeId, ApplicationId, OverlayLinkType, idEquals, toHex,
} from '../../codec/index.ts';
import type { ReloadNode } from '../../reload/node.ts';
import type { Logger } from '../../util/log.ts';
import type { SipFlow, SipTransport } from '../../sip/core/transport.ts';

/** Giving up on the TCP connection to an AppAttach candidate. */
const SIP_APPATTACH_CONNECT_TIMEOUT_MS = 5_000;

export interface SipConnectionsComponents {
  node: ReloadNode;
  transport: SipTransport;
  log: Logger;
  /**
   * The node's key and certificate and the overlay's certificate check: with them SIPS
   * (Application-ID 5061) is offered and used, over TLS (RFC 7904 §5).
   */
  tls?: { key: string; cert: string; verifyPeer(certDer: Uint8Array): NodeId };
}

export type SipScheme = 'sip' | 'sips';

export class SipConnections {
  readonly counters = { appAttachesSent: 0, appAttachesAnswered: 0, connected: 0, refused: 0, reused: 0 };
  /** Open SIP connections by scheme and the Node-ID they reach (§5: "an existing SIP connection MAY be reused"). */
  private readonly byNode = new Map<string, SipFlow>();
  private tlsServer: TlsServer | undefined;
  private tlsPort = 0;

  constructor(private readonly components: SipConnectionsComponents) {
    // The callee side: our SIP listener is the candidate; the caller connects to it.
    components.node.application(ApplicationId.SIP, {
      candidates: () => [this.candidate(this.components.transport.port)],
      attached: () => { this.counters.appAttachesAnswered++; },
    });
  }

  /** Opens the SIPS listener and offers Application-ID 5061; without TLS material only SIP is offered. */
  async start(host: string): Promise<void> {
    const tls = this.components.tls;
    if (!tls) return;
    const server = createTlsServer({ key: tls.key, cert: tls.cert, requestCert: true, rejectUnauthorized: false }, (socket) => {
      // The caller's certificate is checked like an overlay link's; a stranger is turned away.
      try {
        const cert = socket.getPeerCertificate();
        if (!cert?.raw) throw new Error('no certificate');
        tls.verifyPeer(new Uint8Array(cert.raw));
      } catch (e) {
        this.counters.refused++;
        this.components.log.warn('SIPS connection refused', { error: (e as Error).message });
        socket.destroy();
        return;
      }
      this.components.transport.adoptSocket(socket as unknown as Socket, 'appattach', 'TLS');
    });
    server.on('tlsClientError', () => { this.counters.refused++; });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    this.tlsServer = server;
    this.tlsPort = (server.address() as { port: number }).port;
    this.components.node.application(ApplicationId.SIPS, {
      candidates: () => [this.candidate(this.tlsPort)],
      attached: () => { this.counters.appAttachesAnswered++; },
    });
  }

  private candidate(port: number): IceCandidate {
    const host = this.components.transport.advertisedHost;
    return {
      addrPort: host.includes(':') ? { type: 'ipv6', address: host, port } : { type: 'ipv4', address: host, port },
      overlayLink: OverlayLinkType['TLS-TCP-FH-NO-ICE'], foundation: 'sip', priority: 1, type: 'host', extensions: [],
    };
  }

  /**
   * A SIP flow to the device at the end of `destinations`: reused if one is open, else an
   * AppAttach for Application-ID 5060 (SIP over TCP) or 5061 (SIPS over TLS) and a
   * connection to the answer's candidate.
   */
  async connect(destinations: Destination[], scheme: SipScheme = 'sip'): Promise<{ flow: SipFlow; nodeId: NodeId }> {
    const last = destinations[destinations.length - 1];
    if (!last || last.type !== 'node') throw new Error('a SIP destination list must end in a Node-ID');
    const key = `${scheme}:${toHex(last.id)}`;
    const open = this.byNode.get(key);
    if (open?.open) {
      this.counters.reused++;
      return { flow: open, nodeId: last.id };
    }
    const tls = this.components.tls;
    if (scheme === 'sips' && !tls) throw new Error('SIPS needs the node certificate');
    this.counters.appAttachesSent++;
    const { answer, signer } = await this.components.node.appAttach(destinations, scheme === 'sips' ? ApplicationId.SIPS : ApplicationId.SIP);
    // §5: the answering peer must be the node the destination list ends in. The AppAttach
    // answer's signature, verified by the message transport, names who answered; over SIPS
    // the TLS certificate is checked as well, below.
    if (!signer[0] || !idEquals(signer[0], last.id)) {
      this.counters.refused++;
      throw new Error(`AppAttach answered by ${signer[0] ? toHex(signer[0]) : 'nobody'}, not ${toHex(last.id)}`);
    }
    const candidate = answer.candidates.find((c) => c.addrPort.type === 'ipv4' || c.addrPort.type === 'ipv6');
    if (!candidate) throw new Error(`AppAttach answer from ${toHex(last.id)} has no address candidate`);
    const { address, port } = candidate.addrPort as { address: string; port: number };
    const socket: Socket = scheme === 'sips'
      ? tlsConnect({ host: address, port, key: tls!.key, cert: tls!.cert, rejectUnauthorized: false, checkServerIdentity: () => undefined })
      : tcpConnect({ host: address, port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`SIP connection to ${address}:${port} timed out`)); }, SIP_APPATTACH_CONNECT_TIMEOUT_MS);
      socket.once(scheme === 'sips' ? 'secureConnect' : 'connect', () => { clearTimeout(timer); resolve(); });
      socket.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
    if (scheme === 'sips') {
      // §5: "the certificate … MUST contain a Node-ID that matches the last entry in the
      // destination list. If it does not, the connection MUST be closed."
      let proven: NodeId | undefined;
      try {
        const raw = (socket as TLSSocket).getPeerCertificate()?.raw;
        proven = raw ? tls!.verifyPeer(new Uint8Array(raw)) : undefined;
      } catch { /* proven stays undefined */ }
      if (!proven || !idEquals(proven, last.id)) {
        socket.destroy();
        this.counters.refused++;
        throw new Error(`SIPS peer certificate does not name ${toHex(last.id)}`);
      }
    }
    const flow = this.components.transport.adoptSocket(socket, 'appattach', scheme === 'sips' ? 'TLS' : 'TCP');
    if (!flow) throw new Error('no room for another SIP connection');
    this.counters.connected++;
    this.byNode.set(key, flow);
    this.components.log.debug('SIP connection through AppAttach', { node: toHex(last.id), scheme, remote: `${address}:${port}` });
    return { flow, nodeId: last.id };
  }

  /** A flow closed: forget it so the next call attaches again. */
  flowClosed(flow: SipFlow): void {
    for (const [k, f] of this.byNode) if (f.id === flow.id) this.byNode.delete(k);
  }

  status(): object {
    return { ...this.counters, open: this.byNode.size, sipsPort: this.tlsPort || null };
  }

  close(): void {
    this.tlsServer?.close();
  }
}
