// Builds a running overlay node from a DeviceConfig: identity from flash, TLS links, the
// message transport, and CHORD-RELOAD as a peer or a client.
import { mkdirSync } from 'node:fs';
import { KindId, toHex } from '../codec/index.ts';
import { TlsTransport } from '../link/tls-transport.ts';
import type { Endpoint } from '../link/link.ts';
import { ReloadNode } from '../reload/node.ts';
import type { NodeIdentity } from '../reload/security/identity.ts';
import { CaTrust } from '../reload/security/ca-trust.ts';
import { OverlayConfigurationInForce } from '../reload/handlers/config-update.ts';
import { nodeSecurity } from '../reload/security/node-security.ts';
import { AnyOfTrust } from '../reload/security/trust.ts';
import { DataClient, KindRegistry, Storage } from '../reload/storage/index.ts';
import type { MessageSecurity } from '../reload/types.ts';
import { ChordClient } from '../topology/chord/client.ts';
import { sipRegistrationStoreCheck } from '../usage/sip/storing-peer-check.ts';
import { ChordPeer } from '../topology/chord/chord.ts';
import { type Clock, systemClock } from '../util/clock.ts';
import { type Logger, createLogger } from '../util/log.ts';
import { linkedPeerEndpoints } from '../device/flash-peers.ts';
import { type DeviceFlash, openDeviceFlash } from '../device/flash-state.ts';
import { LanDiscovery } from '../device/lan-discovery.ts';
import { advertisedAddress } from '../util/address.ts';
import { bootstrapOrder } from '../device/bootstrap-order.ts';

/** Joins tried after a role change before giving up (the device stays in its new role, unjoined). */
const ROLE_SWITCH_JOIN_ATTEMPTS = 4;
/** How long a device with no bootstrap peer listens for peers announcing themselves on the LAN. */
const LAN_BOOTSTRAP_DISCOVERY_MS = 1500;
import type { DeviceConfig } from './config.ts';
import { bootstrapsOf, chordSettings, loadConfiguration, overlayTrust, transportSettings } from './overlay-settings.ts';

/** Message security for a self-signed overlay (§11.3.1): our signer, everyone's verifier. */
export function selfSignedSecurity(identity: NodeIdentity, clock: Clock): MessageSecurity {
  return nodeSecurity(identity, clock);
}

export interface OverlayDevice {
  readonly identity: NodeIdentity;
  readonly node: ReloadNode;
  /** The topology of the role in force; replaced when the role changes. */
  readonly topology: ChordPeer | ChordClient;
  readonly role: 'peer' | 'client';
  readonly listening: Endpoint;
  /** A peer's storage (§7); a client stores nothing (§4.2). */
  readonly storage: Storage | undefined;
  /** Store, Fetch, Stat and Find from this device. */
  readonly data: DataClient;
  readonly kinds: KindRegistry;
  readonly security: MessageSecurity;
  /** The overlay configuration in force; ConfigUpdate replaces it (§6.5.4). */
  readonly configuration: OverlayConfigurationInForce;
  /** What the device keeps on flash: identity, configuration, remembered peers, settings. */
  readonly flash: DeviceFlash;
  status(): object;
  /**
   * Changes role while running: a peer hands its data to its successor and leaves (§10.9),
   * then attaches as a client (§4.2); a client closes its attachment and joins as a peer
   * (§10.5). Switches are serialised; switching to the role in force does nothing.
   */
  switchRole(to: 'peer' | 'client'): Promise<void>;
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
  // Identity, the configuration in force and the remembered peers live in the flash store.
  const flash = await openDeviceFlash(config.dataDir, { clock, log: logFor('device:flash') });
  const loaded = loadConfiguration(config, { saved: await flash.configuration.load() });
  // §11.1 clients-permitted: "There is currently no way for the overlay to enforce this", so
  // the device does: it will not run as a client where the overlay wants peers only.
  if (config.role === 'client' && !loaded.configuration.clientsPermitted) {
    throw new Error('the overlay configuration does not permit clients (clients-permitted is false): run as a peer');
  }
  const trust = overlayTrust(config, loaded, await flash.identity.enrollmentState());
  const identity = await flash.identity.loadOrCreate({ overlay: config.overlay, userName: config.userName, clock, trust });
  const security = nodeSecurity(identity, clock, trust);
  const tls = new TlsTransport({ clock, log: logFor('link:tls') }, {
    key: identity.privateKey, cert: identity.certificatePem, verifyPeer: security.verifyPeer,
    failureTimeoutMs: config.linkFailureTimeoutMs,
  });
  const listening = await tls.listen(config.listen.host, config.listen.port);
  const advertised = { host: config.advertise ?? advertisedAddress(config.listen.host), port: listening.port };
  const kinds = new KindRegistry();
  const node = new ReloadNode({ clock, log, security, connector: tls }, {
    overlay: config.overlay, advertised, maxLinks: config.maxLinks, models: kinds.models(),
    ...transportSettings(config, loaded),
  });
  tls.onLink = (link) => node.acceptLink(link);
  const configuration = new OverlayConfigurationInForce({
    clock, log: logFor('reload:config'), node, kinds, trust,
    save: (xml) => flash.configuration.save(xml),
  }, loaded.configuration, loaded.xml);
  // RFC 7904 §3.3: the Storing Peer's own checks of SIP-REGISTRATION, under whichever
  // configuration is in force when the Store arrives.
  kinds.setStoreCheck(KindId.SIP_REGISTRATION, sipRegistrationStoreCheck({ configuration: () => configuration.current, log: logFor('usage:sip') }));
  const chordLog = logFor('reload:chord');
  let role: 'peer' | 'client' = config.role;
  let topology: ChordPeer | ChordClient;
  let storage: Storage | undefined;
  // A peer's topology and storage, or a client's topology: built at start and again when the
  // device changes role (resources short or back, src/device/resources.ts).
  const assemble = (as: 'peer' | 'client'): void => {
    role = as;
    storage = undefined;
    if (as === 'client') {
      topology = new ChordClient({ clock, log: chordLog, node });
      return;
    }
    const peer = new ChordPeer({ clock, log: chordLog, node }, chordSettings(config, loaded));
    topology = peer;
    const table = peer.table;
    const s = new Storage({
      clock, log: logFor('reload:storage'), node, security, kinds,
      topology: { isResponsible: (id) => peer.isResponsible(id), predecessors: () => table.predecessors, successors: () => table.successors },
    }, { budgetBytes: config.storageBudgetBytes });
    storage = s;
    table.onNeighboursChanged = () => s.neighboursChanged();
    peer.onAdmitted = (joining) => s.admitted(joining);
    peer.onDeparted = (leaving) => s.departed(leaving);
  };
  /** §10.9: a joined peer hands the data it is responsible for to its successor, then leaves. */
  const leavePeerRole = async (): Promise<void> => {
    if (topology instanceof ChordPeer) {
      if (topology.state === 'joined') await storage?.handover().catch(() => {});
      await topology.leave();
    }
    storage?.close();
    topology.close();
  };
  assemble(config.role);
  const data = new DataClient({ clock, security, transport: node.transport });
  // §11.4 allows finding a bootstrap peer by multicast: peers announce themselves on the LAN
  // (DNS-SD over mDNS), and a device with nothing remembered and nothing configured looks there.
  const lan = config.lanDiscovery ? new LanDiscovery({ log: logFor('device:lan'), clock }, {
    overlay: config.overlay, nodeId: toHex(identity.nodeId), advertised: config.role === 'peer' ? advertised : undefined,
  }) : undefined;
  try {
    // §11.4, in the order a building wants after a power cut: the peers this device was last
    // linked to, then peers announcing themselves on the LAN, then the configured bootstrap
    // nodes; a peer with none of them (or configured as the first) starts the overlay.
    const { bootstraps: configured, first } = bootstrapsOf(config, loaded, advertised);
    // The remembered list is kept most recent first; its order is the order to try.
    const remembered = bootstrapOrder({ discovered: flash.peers.rememberedPeers(), self: [advertised], selfNodeId: toHex(identity.nodeId) })
      .filter((r) => !configured.some((c) => c.host === r.host && c.port === r.port));
    const t = topology!;
    const tried: string[] = [];
    const attempt = async (stage: string, list: Endpoint[]): Promise<boolean> => {
      if (list.length === 0) return false;
      try {
        await t.join(list);
        return true;
      } catch (e) {
        tried.push(`${stage}: ${(e as Error).message}`);
        return false;
      }
    };
    let joined = await attempt('remembered peers', remembered);
    if (!joined && lan) {
      const found = await lan.discover(LAN_BOOTSTRAP_DISCOVERY_MS, { enough: 3 });
      if (found.length) log.info('bootstrap peers found on the LAN', { peers: found.map((p) => `${p.host}:${p.port}`) });
      joined = await attempt('LAN', bootstrapOrder({ discovered: found, self: [advertised], selfNodeId: toHex(identity.nodeId) }));
    }
    if (!joined) {
      if (t instanceof ChordPeer && configured.length === 0) t.createOverlay();
      else if (t instanceof ChordPeer && first) {
        // A configured bootstrap node joins the others if one answers, else starts the overlay.
        await t.join(configured).catch(() => t.createOverlay());
      } else if (configured.length > 0) await t.join(configured);
      else throw new Error(`no bootstrap peer answered${tried.length ? ` (${tried.join('; ')})` : ''}: a client needs one`);
    }
    storage?.start();
    // §11.4: the peers we are linked to become bootstraps of the next boot.
    flash.peers.track(() => linkedPeerEndpoints(node, advertised));
  } catch (e) {
    await lan?.close();
    storage?.close();
    topology!.close();
    node.close();
    await tls.close();
    throw e;
  }
  let stopped = false;
  let switching: Promise<void> | undefined;
  return {
    identity, node, listening: advertised, data, kinds, security, configuration, flash,
    get topology() { return topology; },
    get storage() { return storage; },
    get role() { return role; },
    status: () => ({
      ...deviceStatus(config, role, identity, node, topology, advertised), trust: trust instanceof CaTrust ? 'ca' : trust instanceof AnyOfTrust ? 'ca+self-signed' : 'self-signed',
      configuration: configuration.status(), storage: storage?.status() ?? null,
    }),
    switchRole(to: 'peer' | 'client'): Promise<void> {
      if (stopped) return Promise.reject(new Error('device stopped'));
      if (to === role && !switching) return Promise.resolve();
      if (to === 'client' && !configuration.current.clientsPermitted) {
        return Promise.reject(new Error('the overlay configuration does not permit clients (clients-permitted is false)'));
      }
      const run = async (): Promise<void> => {
        if (to === role) return;
        // Whom to come back through: the peers we are linked to now, then the configured ones.
        const known = [
          ...node.links.all().map((l) => node.endpointOf(l.remoteNodeId)).filter((e): e is Endpoint => e !== undefined),
          ...node.knownEndpoints(),
        ].filter((e) => e.host !== advertised.host || e.port !== advertised.port);
        const { bootstraps } = bootstrapsOf(config, loaded, advertised);
        const via = [...known, ...bootstraps];
        if (role === 'peer') await leavePeerRole();
        else topology.close();
        assemble(to);
        const t = topology;
        if (t instanceof ChordPeer && via.length === 0) t.createOverlay();
        else {
          // A busy overlay may not answer the first Attach or Join: a few more tries, spaced out.
          for (let attempt = 1; ; attempt++) {
            try {
              await t.join(via);
              break;
            } catch (e) {
              if (attempt >= ROLE_SWITCH_JOIN_ATTEMPTS || stopped) throw e;
              log.warn('rejoining after a role change failed; trying again', { role: to, attempt, error: (e as Error).message });
              await new Promise((r) => setTimeout(r, 1000 * attempt));
            }
          }
        }
        storage?.start();
      };
      switching = (switching ?? Promise.resolve()).then(run).finally(() => { switching = undefined; });
      return switching;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await switching?.catch(() => {});
      if (role === 'peer') await leavePeerRole();
      else topology.close();
      await lan?.close();
      node.close();
      await tls.close();
      await flash.close();
    },
  };
}

function deviceStatus(config: DeviceConfig, role: 'peer' | 'client', identity: NodeIdentity, node: ReloadNode, topology: ChordPeer | ChordClient, advertised: Endpoint): object {
  const t = node.transport;
  return {
    nodeId: toHex(identity.nodeId),
    overlay: config.overlay,
    role,
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
