// Where a call goes (RFC 7904 §4.1): a GRUU of this overlay is attached to directly (§6); an
// AOR of a domain the overlay serves is resolved in the overlay (§4.2) and every device it
// names becomes a branch over its own AppAttach connection (§5); anything else — an IP
// address, a host with a port, a domain the overlay does not serve — is plain SIP.
import { isIP } from 'node:net';
import { type NodeId, nodeDestination, toHex } from '../../codec/index.ts';
import type { DataClient } from '../../reload/storage/index.ts';
import type { Logger } from '../../util/log.ts';
import { destinationOfUri } from '../../sip/core/transport.ts';
import type { Fork } from '../../sip/ua/call.ts';
import type { Locator } from '../../sip/ua/user-agent.ts';
import { gruuFor, gruuParameter, isGruu, parseGruu } from './gruu.ts';
import { resolveAor } from './resolve.ts';
import type { SipConnections } from './sip-connections.ts';

export interface OverlayLocatorComponents {
  data: Pick<DataClient, 'fetch'>;
  connections: Pick<SipConnections, 'connect'>;
  log: Logger;
}

export interface OverlayLocatorInit {
  /** Our AOR, `user@domain`: with our Node-ID it makes the GRUU we offer as Contact (§6). */
  aor: string;
  nodeId: NodeId;
  /** Whether this overlay serves an AOR domain (§4.1 step b). */
  servesDomain(domain: string): boolean;
}

export class OverlayLocator implements Locator {
  constructor(private readonly components: OverlayLocatorComponents, private readonly init: OverlayLocatorInit) {}

  /** Our GRUU as a Contact value: requests in the dialog can reach this device (§6). */
  get contact(): string {
    return `<sip:${this.init.aor};gr=${gruuParameter([nodeDestination(this.init.nodeId)])}>`;
  }

  async locate(target: string, progress: (event: string) => void = () => {}): Promise<Fork[]> {
    const direct = plainSipTarget(target, this.init.servesDomain);
    if (direct) return [direct];
    if (isGruu(target)) {
      const gruu = parseGruu(target);
      const { flow, nodeId } = await this.components.connections.connect(gruu.destinationList, /^sips:/i.test(target) ? 'sips' : 'sip');
      return [{ label: toHex(nodeId).slice(0, 8), requestUri: withScheme(target), destination: { flow }, contact: this.contact }];
    }
    const resolution = await resolveAor(this.components.data, target, { servesDomain: this.init.servesDomain });
    progress(`fetched ${resolution.fetched.join(', ')}: ${resolution.targets.length} device(s)`);
    if (resolution.targets.length === 0) throw new Error(`no registration found for ${resolution.aor}`);
    // Parallel forking is the caller's choice (§4.2 step 3): every device gets its own branch;
    // one that cannot be reached does not hold up the others.
    const settled = await Promise.allSettled(resolution.targets.map(async (t) => {
      const scheme = schemeFor(target, t.contactPrefs);
      const { flow, nodeId } = await this.components.connections.connect(t.destinationList, scheme);
      progress(`${scheme.toUpperCase()} connection to ${toHex(nodeId).slice(0, 8)}`);
      const fork: Fork = {
        label: toHex(nodeId).slice(0, 8), requestUri: withScheme(gruuFor(t.aor, t.destinationList)), destination: { flow }, contact: this.contact,
      };
      return fork;
    }));
    const forks: Fork[] = [];
    for (const [i, s] of settled.entries()) {
      if (s.status === 'fulfilled') forks.push(s.value);
      else this.components.log.warn('a registered device could not be reached', { aor: resolution.targets[i].aor, error: (s.reason as Error).message });
    }
    if (forks.length === 0) {
      const why = settled.map((s) => (s.status === 'rejected' ? (s.reason as Error).message : '')).filter(Boolean).join('; ');
      throw new Error(`no device registered for ${resolution.aor} could be reached: ${why}`);
    }
    return forks;
  }
}

/**
 * §5: "the caller SHOULD follow the callee's contact_prefs": a registration preferring
 * `sip.schemes=SIPS` (RFC 3840 §9) is reached over SIPS, as is a `sips:` target.
 */
export function schemeFor(target: string, contactPrefs: string): 'sip' | 'sips' {
  if (/^sips:/i.test(target)) return 'sips';
  return /sip\.schemes\s*=\s*"?<?sips\b/i.test(contactPrefs) ? 'sips' : 'sip';
}

function withScheme(uri: string): string {
  return /^sips?:/i.test(uri) ? uri : `sip:${uri}`;
}

/**
 * A target reached by plain SIP (§4.1 step c): a sip: URI or user@host whose host is an IP
 * address, carries a port, or names a domain this overlay does not serve.
 */
export function plainSipTarget(target: string, servesDomain: (domain: string) => boolean): Fork | undefined {
  const uri = withScheme(target);
  if (/;\s*gr=/i.test(uri)) return undefined;
  const destination = destinationOfUri(uri);
  if (!destination) return undefined;
  const explicitPort = /^sip:(?:[^@;?]*@)?(?:\[[^\]]*\]|[^:;?]*):\d+/i.test(uri);
  if (!isIP(destination.host) && !explicitPort && servesDomain(destination.host)) return undefined;
  return { label: `${destination.host}:${destination.port}`, requestUri: uri, destination };
}
