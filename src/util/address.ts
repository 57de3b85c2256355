// Which address to offer others when listening on a wildcard address.
import { networkInterfaces } from 'node:os';

/**
 * `host` itself unless it is a wildcard; for 0.0.0.0 (or ::) the first IPv4 address of a
 * non-loopback interface, which is what the other devices on the LAN can reach, else 127.0.0.1.
 */
export function advertisedAddress(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
