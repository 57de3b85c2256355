// Connecting for SIP through the overlay (RFC 7904 §5): AppAttach with Application-ID 5060
// to a registered device, then a direct TCP connection to the candidate it answers with,
// carrying plain SIP. The callee side offers its SIP listener as the candidate.
import { connect as tcpConnect } from 'node:net';
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
}

export class SipConnections {
  readonly counters = { appAttachesSent: 0, appAttachesAnswered: 0, connected: 0, refused: 0, reused: 0 };
  /** Open SIP connections by the Node-ID they reach (§5: "an existing SIP connection MAY be reused"). */
  private readonly byNode = new Map<string, SipFlow>();

  constructor(private readonly components: SipConnectionsComponents) {
    // The callee side: our SIP listener is the candidate; the caller connects to it.
    components.node.application(ApplicationId.SIP, {
      candidates: () => [this.candidate()],
      attached: () => { this.counters.appAttachesAnswered++; },
    });
  }

  private candidate(): IceCandidate {
    const t = this.components.transport;
    const host = t.advertisedHost;
    return {
      addrPort: host.includes(':') ? { type: 'ipv6', address: host, port: t.port } : { type: 'ipv4', address: host, port: t.port },
      overlayLink: OverlayLinkType['TLS-TCP-FH-NO-ICE'], foundation: 'sip', priority: 1, type: 'host', extensions: [],
    };
  }

  /**
   * A SIP flow to the device at the end of `destinations`: reused if one is open, else an
   * AppAttach for Application-ID 5060 and a TCP connection to the answer's candidate.
   */
  async connect(destinations: Destination[]): Promise<{ flow: SipFlow; nodeId: NodeId }> {
    const last = destinations[destinations.length - 1];
    if (!last || last.type !== 'node') throw new Error('a SIP destination list must end in a Node-ID');
    const key = toHex(last.id);
    const open = this.byNode.get(key);
    if (open?.open) {
      this.counters.reused++;
      return { flow: open, nodeId: last.id };
    }
    this.counters.appAttachesSent++;
    const { answer, signer } = await this.components.node.appAttach(destinations, ApplicationId.SIP);
    // §5: the answering peer must be the node the destination list ends in. Over plain TCP
    // there is no certificate on the SIP connection, so the signer of the AppAttach answer,
    // whose signature the message transport verified, stands in for it.
    if (!signer[0] || !idEquals(signer[0], last.id)) {
      this.counters.refused++;
      throw new Error(`AppAttach answered by ${signer[0] ? toHex(signer[0]) : 'nobody'}, not ${key}`);
    }
    const candidate = answer.candidates.find((c) => c.addrPort.type === 'ipv4' || c.addrPort.type === 'ipv6');
    if (!candidate) throw new Error(`AppAttach answer from ${key} has no address candidate`);
    const { address, port } = candidate.addrPort as { address: string; port: number };
    const socket = tcpConnect({ host: address, port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`SIP connection to ${address}:${port} timed out`)); }, SIP_APPATTACH_CONNECT_TIMEOUT_MS);
      socket.once('connect', () => { clearTimeout(timer); resolve(); });
      socket.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
    const flow = this.components.transport.adoptSocket(socket, 'appattach');
    if (!flow) throw new Error('no room for another SIP connection');
    this.counters.connected++;
    this.byNode.set(key, flow);
    this.components.log.debug('SIP connection through AppAttach', { node: key, remote: `${address}:${port}` });
    return { flow, nodeId: last.id };
  }

  /** A flow closed: forget it so the next call attaches again. */
  flowClosed(flow: SipFlow): void {
    for (const [k, f] of this.byNode) if (f.id === flow.id) this.byNode.delete(k);
  }

  status(): object {
    return { ...this.counters, open: this.byNode.size };
  }
}
