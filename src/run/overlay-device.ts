// Builds a running overlay node from a DeviceConfig: identity from flash, TLS links, the
// message transport, and CHORD-RELOAD as a peer or a client.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../codec/index.ts';
import { TlsTransport } from '../link/tls-transport.ts';
import type { Endpoint } from '../link/link.ts';
import type { TransportInit } from '../reload/message-transport.ts';
import { ReloadNode } from '../reload/node.ts';
import { type NodeIdentity, loadOrCreateIdentity } from '../reload/security/identity.ts';
import { ROOT_CERT_FILE } from '../enroll/constants.ts';
import { CaTrust } from '../reload/security/ca-trust.ts';
import { IDENTITY_CERT_FILE } from '../reload/security/constants.ts';
import { type OverlayConfiguration, embeddedDefaultConfiguration, isNewerConfigurationSequence, parseOverlayConfiguration } from '../reload/config/index.ts';
import { OverlayConfigurationInForce } from '../reload/handlers/config-update.ts';
import { writeFileAtomic } from '../reload/security/atomic-file.ts';
import { nodeSecurity } from '../reload/security/node-security.ts';
import { SelfSignedTrust, type TrustPolicy } from '../reload/security/trust.ts';
import { DataClient, KindRegistry, Storage } from '../reload/storage/index.ts';
import type { MessageSecurity } from '../reload/types.ts';
import { ChordClient } from '../topology/chord/client.ts';
import { type ChordInit, ChordPeer } from '../topology/chord/chord.ts';
import { type Clock, systemClock } from '../util/clock.ts';
import { type Logger, createLogger } from '../util/log.ts';
import type { DeviceConfig } from './config.ts';

/** Message security for a self-signed overlay (§11.3.1): our signer, everyone's verifier. */
export function selfSignedSecurity(identity: NodeIdentity, clock: Clock): MessageSecurity {
  return nodeSecurity(identity, clock);
}

/**
 * CA mode when the device has root certificates (§11.3: certificates must chain to a
 * root-cert), self-signed mode (§11.3.1) otherwise. An enrolled overlay never falls back
 * to a self-signed identity: without its certificate the device must enroll first.
 */
function overlayTrust(config: DeviceConfig, overlay: OverlayConfiguration): TrustPolicy {
  const rootsPath = join(config.dataDir, ROOT_CERT_FILE);
  const roots = [...overlay.rootCerts, ...(existsSync(rootsPath) ? pemCertificates(readFileSync(rootsPath, 'utf8')) : [])];
  if (roots.length === 0) return new SelfSignedTrust({ overlay: config.overlay, digest: overlay.selfSignedPermitted?.digest });
  if (!existsSync(join(config.dataDir, IDENTITY_CERT_FILE))) throw new Error(`the overlay has a CA but the device has no certificate: enroll first (p2psip enroll)`);
  return new CaTrust({ roots, overlay: config.overlay });
}

/**
 * The transport's parameters: a configuration document's (§11.1) where one was given, the
 * device's flags over them; without a document the transport's own defaults.
 */
function transportSettings(config: DeviceConfig, loaded: { configuration: OverlayConfiguration; xml?: string }): Partial<TransportInit> {
  const c = loaded.xml ? loaded.configuration : undefined;
  return {
    reliabilityTimerMs: config.reliabilityTimerMs ?? c?.overlayReliabilityTimerMs,
    initialTtl: c?.initialTtl,
    maxMessageSize: c?.maxMessageSize,
  };
}

/** CHORD-RELOAD's intervals and reactive recovery from the document (§10.7), flags over them. */
function chordSettings(config: DeviceConfig, loaded: { configuration: OverlayConfiguration; xml?: string }): ChordInit {
  const c = loaded.xml ? loaded.configuration.chord : undefined;
  return {
    updateIntervalMs: c?.updateIntervalS !== undefined ? c.updateIntervalS * 1000 : undefined,
    fingerIntervalMs: c?.pingIntervalS !== undefined ? c.pingIntervalS * 1000 : undefined,
    reactive: c?.reactive,
    ...config.chord,
  };
}

/** Where the configuration in force is kept across power cuts. */
export const OVERLAY_CONFIGURATION_FILE = 'overlay-config.xml';

/**
 * The overlay configuration document (§11.1): the newer of the one saved on flash (the last
 * ConfigUpdate accepted) and the one given with --overlay-config; without either, the
 * embedded default of a self-signed building overlay.
 */
function loadConfiguration(config: DeviceConfig): { configuration: OverlayConfiguration; xml?: string } {
  const candidates: string[] = [];
  const saved = join(config.dataDir, OVERLAY_CONFIGURATION_FILE);
  if (existsSync(saved)) candidates.push(readFileSync(saved, 'utf8'));
  if (config.overlayConfiguration) candidates.push(readFileSync(config.overlayConfiguration, 'utf8'));
  let best: { configuration: OverlayConfiguration; xml?: string } | undefined;
  for (const xml of candidates) {
    const configuration = parseOverlayConfiguration(xml, { instanceName: config.overlay });
    if (!best || isNewerConfigurationSequence(configuration.sequence, best.configuration.sequence)) best = { configuration, xml };
  }
  return best ?? { configuration: embeddedDefaultConfiguration(config.overlay) };
}

function pemCertificates(pem: string): Uint8Array[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new Uint8Array(new X509Certificate(b).raw));
}

export interface OverlayDevice {
  readonly identity: NodeIdentity;
  readonly node: ReloadNode;
  readonly topology: ChordPeer | ChordClient;
  readonly listening: Endpoint;
  /** A peer's storage (§7); a client stores nothing (§4.2). */
  readonly storage: Storage | undefined;
  /** Store, Fetch, Stat and Find from this device. */
  readonly data: DataClient;
  readonly kinds: KindRegistry;
  readonly security: MessageSecurity;
  /** The overlay configuration in force; ConfigUpdate replaces it (§6.5.4). */
  readonly configuration: OverlayConfigurationInForce;
  status(): object;
  /** Leaves the overlay (a peer tells its neighbours, §10.9), then closes everything. */
  stop(): Promise<void>;
}

export async function startOverlayDevice(config: DeviceConfig, components: { clock?: Clock; log?: Logger } = {}): Promise<OverlayDevice> {
  const clock = components.clock ?? systemClock;
  const log = components.log ?? createLogger('reload:node');
  mkdirSync(config.dataDir, { recursive: true });
  const loaded = loadConfiguration(config);
  const trust = overlayTrust(config, loaded.configuration);
  const identity = await loadOrCreateIdentity(config.dataDir, { overlay: config.overlay, userName: config.userName, clock, trust });
  const security = nodeSecurity(identity, clock, trust);
  const tls = new TlsTransport({ clock, log: createLogger('link:tls') }, {
    key: identity.privateKey, cert: identity.certificatePem, verifyPeer: security.verifyPeer,
    failureTimeoutMs: config.linkFailureTimeoutMs,
  });
  const listening = await tls.listen(config.listen.host, config.listen.port);
  const advertised = { host: config.advertise ?? (config.listen.host === '0.0.0.0' ? '127.0.0.1' : config.listen.host), port: listening.port };
  const kinds = new KindRegistry();
  const node = new ReloadNode({ clock, log, security, connector: tls }, {
    overlay: config.overlay, advertised, maxLinks: config.maxLinks, models: kinds.models(),
    ...transportSettings(config, loaded),
  });
  tls.onLink = (link) => node.acceptLink(link);
  const configuration = new OverlayConfigurationInForce({
    clock, log: createLogger('reload:config'), node, kinds, trust,
    save: (xml) => writeFileAtomic(join(config.dataDir, OVERLAY_CONFIGURATION_FILE), xml, { mode: 0o644, overwrite: true }).then(() => {}),
  }, loaded.configuration, loaded.xml);
  const chordLog = createLogger('reload:chord');
  const topology = config.role === 'client'
    ? new ChordClient({ clock, log: chordLog, node })
    : new ChordPeer({ clock, log: chordLog, node }, chordSettings(config, loaded));
  let storage: Storage | undefined;
  if (topology instanceof ChordPeer) {
    const table = topology.table;
    storage = new Storage({
      clock, log: createLogger('reload:storage'), node, security, kinds,
      topology: { isResponsible: (id) => topology.isResponsible(id), predecessors: () => table.predecessors, successors: () => table.successors },
    }, { budgetBytes: config.storageBudgetBytes });
    const s = storage;
    table.onNeighboursChanged = () => s.neighboursChanged();
  }
  const data = new DataClient({ clock, security, transport: node.transport });
  try {
    if (topology instanceof ChordPeer && config.bootstrap.length === 0) topology.createOverlay();
    else await topology.join(config.bootstrap);
    storage?.start();
  } catch (e) {
    storage?.close();
    topology.close();
    node.close();
    await tls.close();
    throw e;
  }
  let stopped = false;
  return {
    identity, node, topology, listening: advertised, storage, data, kinds, security, configuration,
    status: () => ({
      ...deviceStatus(config, identity, node, topology, advertised), trust: trust instanceof CaTrust ? 'ca' : 'self-signed',
      configuration: configuration.status(), storage: storage?.status() ?? null,
    }),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (topology instanceof ChordPeer) {
        // §10.9: the data we are responsible for goes to our successor before we leave.
        if (topology.state === 'joined') await storage?.handover().catch(() => {});
        await topology.leave();
      }
      storage?.close();
      topology.close();
      node.close();
      await tls.close();
    },
  };
}

function deviceStatus(config: DeviceConfig, identity: NodeIdentity, node: ReloadNode, topology: ChordPeer | ChordClient, advertised: Endpoint): object {
  const t = node.transport;
  return {
    nodeId: toHex(identity.nodeId),
    overlay: config.overlay,
    role: config.role,
    state: topology.state,
    listen: `${advertised.host}:${advertised.port}`,
    routingTable: topology instanceof ChordPeer ? topology.table.toJSON() : { peer: topology.peer ? toHex(topology.peer.remoteNodeId) : null },
    connections: node.links.all().map((l) => ({
      nodeId: toHex(l.remoteNodeId), remote: `${l.remote.host}:${l.remote.port}`, outbound: l.outbound,
      srttMs: l.stats.srttMs, rtoMs: l.stats.rtoMs, framesSent: l.stats.framesSent, framesReceived: l.stats.framesReceived,
    })),
    counters: {
      transport: t.counters,
      transactions: { pending: t.transactions.size, retransmissions: t.transactions.retransmissions, timeouts: t.transactions.timeouts, refused: t.transactions.refused },
      answerCache: { size: t.answers.size, evictions: t.answers.evictions },
      reassembly: { pending: t.reassembly.size, refused: t.reassembly.refused, timedOut: t.reassembly.timedOut },
      links: { open: node.links.size, ...node.links.stats },
      topology: topology.counters,
    },
    memory: memoryStatus(),
  };
}

function memoryStatus(): { rssBytes: number; heapTotalBytes: number; heapUsedBytes: number; externalBytes: number } {
  const m = process.memoryUsage();
  return { rssBytes: m.rss, heapTotalBytes: m.heapTotal, heapUsedBytes: m.heapUsed, externalBytes: m.external };
}
