// A link from a node to itself: what it sends is delivered back to it on the next microtask.
// The message transport routes requests for IDs it is responsible for round it.
import type { NodeId } from '../codec/index.ts';
import type { Link } from './link.ts';

export function loopbackLink(nodeId: NodeId, deliver: (bytes: Uint8Array) => void): Link {
  const link: Link = {
    id: 0, remoteNodeId: nodeId, remoteCertificate: new Uint8Array(0), remote: { host: 'loopback', port: 0 }, outbound: false, closed: false,
    stats: { srttMs: 0, rtoMs: 0, framesSent: 0, framesReceived: 0, acksReceived: 0, bytesSent: 0, bytesReceived: 0, sendQueueDrops: 0, lastReceivedMs: 0 },
    send(bytes) {
      queueMicrotask(() => deliver(bytes));
      return true;
    },
    close() {},
    onMessage() {},
    onClose() {},
  };
  return link;
}
