// In-memory links for tests of the layers above: the real FramedLink over a duplex pair,
// so framing, ACKs and close behave as on a socket, without TLS or ports.
import { Duplex } from 'node:stream';
import type { NodeId } from '../codec/index.ts';
import type { Clock } from '../util/clock.ts';
import { silentLogger, type Logger } from '../util/log.ts';
import { FramedLink, type FramedLinkOptions } from './framed-link.ts';

/** One end of a duplex pair: what it writes is pushed into its peer's readable side. */
class MemoryDuplex extends Duplex {
  peer: MemoryDuplex | undefined;
  private eof = false;

  constructor() {
    super({ allowHalfOpen: false });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.peer?.deliver(chunk);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.peer?.deliver(null);
    callback();
  }

  /** Like a TCP close: the peer reads what was sent, then end of stream. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.peer?.deliver(null);
    callback(error);
  }

  private deliver(chunk: Buffer | null): void {
    if (this.destroyed || this.eof) return;
    if (chunk === null) this.eof = true;
    this.push(chunk);
  }
}

/**
 * Two connected duplex streams: bytes written to one are read from the other. Ending or
 * destroying one ends the other's readable side, as a TCP FIN would.
 */
export function duplexPair(): [Duplex, Duplex] {
  const a = new MemoryDuplex();
  const b = new MemoryDuplex();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

export interface MemoryPeer {
  nodeId: NodeId;
  /** DER the other side sees as the remote certificate; empty by default. */
  certificate?: Uint8Array;
}

/** Two FramedLinks joined back to back: `a` is the outbound side, `b` the inbound one. */
export function memoryLinkPair(
  components: { clock: Clock; log?: Logger },
  a: MemoryPeer,
  b: MemoryPeer,
  options: FramedLinkOptions = {},
): [FramedLink, FramedLink] {
  const [sa, sb] = duplexPair();
  const log = components.log ?? silentLogger;
  const remote = { host: 'memory', port: 0 };
  const la = new FramedLink({ clock: components.clock, log, socket: sa }, {
    ...options, remoteNodeId: b.nodeId, remoteCertificate: b.certificate ?? new Uint8Array(0), remote, outbound: true,
  });
  const lb = new FramedLink({ clock: components.clock, log, socket: sb }, {
    ...options, remoteNodeId: a.nodeId, remoteCertificate: a.certificate ?? new Uint8Array(0), remote, outbound: false,
  });
  return [la, lb];
}
