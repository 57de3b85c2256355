// Builds a running overlay node from a DeviceConfig: identity from flash, TLS links, the
// message transport, and CHORD-RELOAD as a peer or a client.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { KindId, toHex } from '../codec/index.ts';
import { TlsTransport } from '../link/tls-transport.ts';
import type { Endpoint } from '../link/link.ts';
import { ReloadNode } from '../reload/node.ts';
import { type NodeIdentity, loadOrCreateIdentity } from '../reload/security/identity.ts';
import { CaTrust } from '../reload/security/ca-trust.ts';
import { OverlayConfigurationInForce } from '../reload/handlers/config-update.ts';
import { writeFileAtomic } from '../reload/security/atomic-file.ts';
import { nodeSecurity } from '../reload/security/node-security.ts';
import { AnyOfTrust } from '../reload/security/trust.ts';
import { DataClient, KindRegistry, Storage } from '../reload/storage/index.ts';
import type { MessageSecurity } from '../reload/types.ts';
import { ChordClient } from '../topology/chord/client.ts';
import { sipRegistrationStoreCheck } from '../usage/sip/storing-peer-check.ts';
import { ChordPeer } from '../topology/chord/chord.ts';
import { type Clock, systemClock } from '../util/clock.ts';
import { type Logger, createLogger } from '../util/log.ts';
import type { DeviceConfig } from './config.ts';
import { OVERLAY_CONFIGURATION_FILE, bootstrapsOf, chordSettings, loadConfiguration, overlayTrust, transportSettings } from './overlay-settings.ts';

/** Message security for a self-signed overlay (§11.3.1): our signer, everyone's verifier. */
export function selfSignedSecurity(identity: NodeIdentity, clock: Clock): MessageSecurity {
  return nodeSecurity(identity, clock);
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

/**
 * `log` replaces every component's logger (tests pass a silent one); by default each
 * component logs under its own name.
 */
export async function startOverlayDevice(config: DeviceConfig, components: { clock?: Clock; log?: Logger } = {}): Promise<OverlayDevice> {
  const clock = components.clock ?? systemClock;
  const logFor = (name: string): Logger => components.log ?? createLogger(name);
  const log = logFor('reload:node');
  mkdirSync(config.dataDir, { recursive: true });
  const loaded = loadConfiguration(config);
  // §11.1 clients-permitted: "There is currently no way for the overlay to enforce this", so
  // the device does: it will not run as a client where the overlay wants peers only.
  if (config.role === 'client' && !loaded.configuration.clientsPermitted) {
    throw new Error('the overlay configuration does not permit clients (clients-permitted is false): run as a peer');
  }
  const trust = overlayTrust(config, loaded);
  const identity = await loadOrCreateIdentity(config.dataDir, { overlay: config.overlay, userName: config.userName, clock, trust });
  const security = nodeSecurity(identity, clock, trust);
  const tls = new TlsTransport({ clock, log: logFor('link:tls') }, {
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
    clock, log: logFor('reload:config'), node, kinds, trust,
    save: (xml) => writeFileAtomic(join(config.dataDir, OVERLAY_CONFIGURATION_FILE), xml, { mode: 0o644, overwrite: true }).then(() => {}),
  }, loaded.configuration, loaded.xml);
  // RFC 7904 §3.3: the Storing Peer's own checks of SIP-REGISTRATION, under whichever
  // configuration is in force when the Store arrives.
  kinds.setStoreCheck(KindId.SIP_REGISTRATION, sipRegistrationStoreCheck({ configuration: () => configuration.current, log: logFor('usage:sip') }));
  const chordLog = logFor('reload:chord');
  const topology = config.role === 'client'
    ? new ChordClient({ clock, log: chordLog, node })
    : new ChordPeer({ clock, log: chordLog, node }, chordSettings(config, loaded));
  let storage: Storage | undefined;
  if (topology instanceof ChordPeer) {
    const table = topology.table;
    storage = new Storage({
      clock, log: logFor('reload:storage'), node, security, kinds,
      topology: { isResponsible: (id) => topology.isResponsible(id), predecessors: () => table.predecessors, successors: () => table.successors },
    }, { budgetBytes: config.storageBudgetBytes });
    const s = storage;
    table.onNeighboursChanged = () => s.neighboursChanged();
  }
  const data = new DataClient({ clock, security, transport: node.transport });
  try {
    const { bootstraps, first } = bootstrapsOf(config, loaded, advertised);
    if (topology instanceof ChordPeer && bootstraps.length === 0) topology.createOverlay();
    else if (topology instanceof ChordPeer && first) {
      // A configured bootstrap node joins the others if one answers, else starts the overlay.
      await topology.join(bootstraps).catch(() => topology.createOverlay());
    } else await topology.join(bootstraps);
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
      ...deviceStatus(config, identity, node, topology, advertised), trust: trust instanceof CaTrust ? 'ca' : trust instanceof AnyOfTrust ? 'ca+self-signed' : 'self-signed',
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
