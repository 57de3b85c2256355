// The UDP socket pair of one RTP session: RTP on an even port, RTCP on the next odd one
// (RFC 3550 §11: "RTP SHOULD use an even destination port number and the corresponding
// RTCP stream SHOULD use the next higher (odd) destination port number").
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { MEDIA_PORT_ATTEMPTS } from './constants.ts';

export interface PortRange {
  /** Lowest RTP port (rounded up to even). */
  min: number;
  /** Highest RTCP port, i.e. the last RTP port is max - 1. */
  max: number;
}

export interface RtpSocketPair {
  rtp: Socket;
  rtcp: Socket;
  /** The RTP port; RTCP is on port + 1. */
  port: number;
}

function bind(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
    const onError = (err: Error): void => {
      closeQuietly(socket);
      reject(err);
    };
    socket.once('error', onError);
    socket.bind(port, address, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function closeQuietly(s: Socket | undefined): void {
  try {
    s?.close();
  } catch {
    // already closed
  }
}

function isAddressInUse(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EADDRINUSE' || code === 'EACCES';
}

/**
 * Binds an even/odd port pair on `address`: from `range`, starting at a random even port
 * and walking up, or from the system's ephemeral ports when no range is given. Throws when
 * no pair is free after a bounded number of attempts, or when the address cannot be bound.
 */
export async function bindRtpSocketPair(address: string, range?: PortRange): Promise<RtpSocketPair> {
  if (range) {
    const first = range.min + (range.min & 1);
    const pairs = Math.floor((range.max - first + 1) / 2);
    if (!(pairs > 0 && range.max <= 65535 && range.min >= 1)) throw new RangeError(`RTP port range ${range.min}-${range.max} holds no even/odd pair`);
    const start = randomInt(pairs);
    for (let i = 0; i < Math.min(pairs, MEDIA_PORT_ATTEMPTS); i++) {
      const port = first + 2 * ((start + i) % pairs);
      const pair = await tryPair(address, port);
      if (pair) return pair;
    }
    throw new Error(`no free RTP port pair in ${range.min}-${range.max} on ${address}`);
  }
  for (let i = 0; i < MEDIA_PORT_ATTEMPTS; i++) {
    const rtp = await bind(address, 0);
    const port = rtp.address().port;
    if (port % 2 === 0 && port < 65535) {
      const rtcp = await bind(address, port + 1).catch((err: unknown) => {
        if (isAddressInUse(err)) return undefined;
        closeQuietly(rtp);
        throw err;
      });
      if (rtcp) return { rtp, rtcp, port };
    }
    closeQuietly(rtp);
  }
  throw new Error(`no free even/odd ephemeral port pair on ${address}`);
}

async function tryPair(address: string, port: number): Promise<RtpSocketPair | undefined> {
  let rtp: Socket | undefined;
  try {
    rtp = await bind(address, port);
    const rtcp = await bind(address, port + 1);
    return { rtp, rtcp, port };
  } catch (err) {
    closeQuietly(rtp);
    if (isAddressInUse(err)) return undefined;
    throw err;
  }
}
