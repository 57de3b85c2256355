// Whom a joining device contacts first (RFC 6940 §11.4), and what it does when nobody answers.
//
// §11.4: "If the Joining Node has cached a list of peers that it has previously been connected
// with in this overlay, as an optimization it MAY attempt to use one or more of them as
// bootstrap nodes before falling back to the bootstrap nodes listed in the configuration
// file." Between the two sit the peers found on the LAN (lan-discovery.ts; RFC 7890 §2.5):
// alive a moment ago, but announced without proof, so after the peers we once linked to.
import type { Endpoint } from '../link/link.ts';

/** Candidates tried in one round at most. */
export const BOOTSTRAP_MAX_CANDIDATES = 16;
/** Slots kept for configured bootstrap nodes, so remembered and LAN peers never crowd them all out. */
export const BOOTSTRAP_CONFIGURED_RESERVED = 4;
/** How long a round listens for LAN answers before trying anyone. */
export const BOOTSTRAP_DISCOVERY_MS = 1500;
/** Waits between rounds when the device must keep trying: from 1 s, doubling, at most 60 s. */
export const BOOTSTRAP_RETRY_MIN_MS = 1000;
export const BOOTSTRAP_RETRY_MAX_MS = 60_000;

export type BootstrapSource = 'remembered' | 'lan' | 'configured';

/** A peer this device was directly connected with (§11.4: "Peers that are not directly connected MUST NOT be cached"). */
export interface RememberedPeer extends Endpoint {
  /** When the link was last up, any monotonic or wall-clock unit; the most recent is tried first. */
  lastSeenMs: number;
  nodeId?: string;
}

export interface BootstrapCandidate extends Endpoint {
  source: BootstrapSource;
  nodeId?: string;
}

export interface BootstrapSources {
  /** Peers cached from earlier sessions in this overlay (§11.4). */
  remembered?: readonly RememberedPeer[];
  /** Peers LAN discovery found, earliest first. */
  discovered?: readonly (Endpoint & { nodeId?: string })[];
  /** --bootstrap, else the document's bootstrap-node elements (§11.1). */
  configured?: readonly Endpoint[];
  /**
   * Our own endpoints (listen and advertised). A wildcard host (0.0.0.0, ::) stands for the
   * loopback addresses only: pass each interface address too if those should be excluded.
   */
  self?: readonly Endpoint[];
  /** Our Node-ID, hex: a remembered or discovered entry carrying it is us at an old address. */
  selfNodeId?: string;
  /** Default BOOTSTRAP_MAX_CANDIDATES. */
  max?: number;
}

/**
 * The order to try: remembered peers (most recently seen first), then LAN-discovered ones,
 * then configured bootstrap nodes; one entry per host:port (the first source wins), none of
 * them ourselves, at most `max`, of which up to BOOTSTRAP_CONFIGURED_RESERVED go to configured
 * nodes whatever the others hold.
 */
export function bootstrapOrder(sources: BootstrapSources): BootstrapCandidate[] {
  const max = Math.max(0, Math.floor(sources.max ?? BOOTSTRAP_MAX_CANDIDATES));
  const self = new Set((sources.self ?? []).map(endpointKey));
  const wildcardPorts = new Set((sources.self ?? []).filter((e) => isUnspecified(e.host)).map((e) => e.port));
  const selfNodeId = sources.selfNodeId?.toLowerCase();
  const seen = new Set<string>();
  const usable = (e: Endpoint & { nodeId?: string }): boolean => {
    const key = endpointKey(e);
    if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535 || e.host === '' || isUnspecified(e.host)) return false;
    if (self.has(key) || (wildcardPorts.has(e.port) && isLoopback(e.host))) return false;
    if (selfNodeId !== undefined && e.nodeId?.toLowerCase() === selfNodeId) return false;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
  const tag = (source: BootstrapSource) => (e: Endpoint & { nodeId?: string }): BootstrapCandidate =>
    ({ host: e.host, port: e.port, source, ...(e.nodeId !== undefined ? { nodeId: e.nodeId } : {}) });
  // Stable: equal times keep the order they were given in.
  const remembered = (sources.remembered ?? []).map((p, i) => ({ p, i }))
    .sort((a, b) => b.p.lastSeenMs - a.p.lastSeenMs || a.i - b.i).map(({ p }) => p);
  const early = [...remembered.filter(usable).map(tag('remembered')), ...(sources.discovered ?? []).filter(usable).map(tag('lan'))];
  const configured = (sources.configured ?? []).filter(usable).map(tag('configured'));
  const reserved = Math.min(configured.length, BOOTSTRAP_CONFIGURED_RESERVED, max);
  const head = early.slice(0, max - reserved);
  return [...head, ...configured.slice(0, max - head.length)];
}

/** What a device does when a round of bootstrapping reached nobody. */
export type NoAnswerDecision = 'create-overlay' | 'retry';

export interface NoAnswerSituation {
  role: 'peer' | 'client';
  /** Configured bootstrap nodes other than this device (`bootstrapsOf(...).bootstraps.length`). */
  configured: number;
  /** True when this device is itself one of the configured bootstrap nodes. */
  selfConfigured: boolean;
  /** Our Node-ID, hex. */
  selfNodeId: string;
  /** Node-IDs (hex) of the peers of this overlay LAN discovery saw in this round, none of which answered. */
  discovered: readonly string[];
}

/**
 * The "first node" rule. Starting an overlay when one already exists forks the building into
 * rings that never merge, so a device starts one only when nothing says another may exist:
 * - a client never starts an overlay: it needs a peer to attach to (RFC 6940 §4.2);
 * - bootstrap nodes are configured and this device is not one of them: they are where the
 *   overlay is, so keep trying them, however long they stay unreachable;
 * - peers of our overlay announce themselves on the LAN yet none answered: they are joining
 *   too (devices powered on together after a power cut) or gone with their records not yet
 *   expired (RFC 6762 §10: 120 s). The lowest Node-ID among them and us starts the overlay and
 *   the others join it in their next round; without this rule they would wait on each other
 *   for ever, and with "everyone starts" they would fork;
 * - otherwise (no bootstrap configured, or we are a configured bootstrap node and no other
 *   answered) this device is the first: it starts the overlay.
 * Remembered peers that do not answer do not count: the cache is an optimization (§11.4), and
 * after a building-wide power cut the first device up must still start the overlay.
 */
export function whenNoBootstrapAnswers(s: NoAnswerSituation): NoAnswerDecision {
  if (s.role === 'client') return 'retry';
  if (s.configured > 0 && !s.selfConfigured) return 'retry';
  const self = s.selfNodeId.toLowerCase();
  const others = s.discovered.map((id) => id.toLowerCase()).filter((id) => id !== self);
  // Node-IDs of one overlay have one length (§11.1 node-id-length): hex order is numeric order.
  if (others.some((id) => id < self)) return 'retry';
  return 'create-overlay';
}

/** The wait before round `attempt` (0-based) of retrying: doubling, capped, half of it jittered. */
export function bootstrapRetryDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(BOOTSTRAP_RETRY_MAX_MS, BOOTSTRAP_RETRY_MIN_MS * 2 ** Math.max(0, Math.min(attempt, 30)));
  // Devices restarted together (a power cut) should not retry in step.
  return Math.round(base / 2 + (base / 2) * random());
}

/**
 * One round's candidates: listens on the LAN for `discoveryMs` (never failing: discovery is an
 * optimization), then orders everything. Also returns the Node-IDs of the LAN peers seen, for
 * whenNoBootstrapAnswers.
 */
export async function bootstrapCandidates(
  sources: Omit<BootstrapSources, 'discovered'>,
  lan: { discover(timeoutMs: number, options?: { signal?: AbortSignal }): Promise<(Endpoint & { nodeId?: string })[]> } | undefined,
  options: { discoveryMs?: number; signal?: AbortSignal } = {},
): Promise<{ candidates: BootstrapCandidate[]; discovered: string[] }> {
  const found = lan && !options.signal?.aborted
    ? await lan.discover(options.discoveryMs ?? BOOTSTRAP_DISCOVERY_MS, { signal: options.signal }).catch(() => [])
    : [];
  const candidates = bootstrapOrder({ ...sources, discovered: found });
  const lanPeers = bootstrapOrder({ discovered: found, self: sources.self, selfNodeId: sources.selfNodeId, max: found.length });
  return { candidates, discovered: lanPeers.flatMap((p) => (p.nodeId !== undefined ? [p.nodeId] : [])) };
}

/** host:port with the host in one spelling: lower case, no IPv6 brackets, IPv4-mapped IPv6 unwrapped. */
export function endpointKey(e: Endpoint): string {
  let host = e.host.trim().toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
  if (mapped) host = mapped[1];
  return host.includes(':') ? `[${host}]:${e.port}` : `${host}:${e.port}`;
}

function isUnspecified(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === '0.0.0.0' || h === '::' || h === '0:0:0:0:0:0:0:0';
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\./.test(h) || /^::ffff:127\./.test(h);
}
