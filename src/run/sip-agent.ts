// The device's SIP side on top of its overlay node: the SIP transport on UDP and TCP, the
// transaction layer, the user agent, the AOR registration of RFC 7904 §3 under the
// certificate's user name, and calls located through the overlay (§4, §5).
import { nodeDestination } from '../codec/index.ts';
import { SipTransport } from '../sip/core/transport.ts';
import { TransactionLayer } from '../sip/core/transaction-layer.ts';
import { rtpMediaFactory } from '../sip/ua/rtp-media-leg.ts';
import { UserAgent } from '../sip/ua/user-agent.ts';
import { AdmissibleDomains } from '../usage/sip/admissible-domains.ts';
import { OverlayLocator } from '../usage/sip/locator.ts';
import { AorRegistrations } from '../usage/sip/registrations.ts';
import { SipConnections } from '../usage/sip/sip-connections.ts';
import type { Clock } from '../util/clock.ts';
import { type Logger, createLogger } from '../util/log.ts';
import type { DeviceConfig } from './config.ts';
import type { OverlayDevice } from './overlay-device.ts';

export interface SipAgent {
  readonly ua: UserAgent;
  readonly transport: SipTransport;
  readonly registrations: AorRegistrations;
  readonly connections: SipConnections;
  status(): object;
  stop(): Promise<void>;
}

export async function startSipAgent(device: OverlayDevice, config: DeviceConfig, components: { clock: Clock; log?: Logger }): Promise<SipAgent> {
  const logFor = (name: string): Logger => components.log ?? createLogger(name);
  const sip = config.sip ?? {};
  const listen = sip.listen ?? { host: config.listen.host, port: 5060 };
  const transport = new SipTransport({ log: logFor('sip:transport') }, {
    host: listen.host, port: listen.port, advertisedHost: sip.advertise ?? config.advertise,
  });
  await transport.start();
  const transactions = new TransactionLayer({ clock: components.clock, log: logFor('sip:transaction'), transport });
  transport.onMessage = (message, source) => transactions.receive(message, source);
  const connections = new SipConnections({
    node: device.node, transport, log: logFor('usage:sip'),
    tls: { key: device.identity.privateKeyPem, cert: device.identity.certificatePem, verifyPeer: (der) => device.security.verifyPeer(der) },
  });
  await connections.start(listen.host);
  transport.onFlowClosed = (flow) => connections.flowClosed(flow);
  const aor = config.userName;
  const locator = new OverlayLocator({ data: device.data, connections, log: logFor('usage:sip') }, {
    aor, nodeId: device.identity.nodeId,
    servesDomain: (domain) => AdmissibleDomains.of(device.configuration.current).admits(domain),
  });
  const media = rtpMediaFactory({ clock: components.clock, log: logFor('sip:media') }, {
    address: transport.advertisedHost, source: sip.audioIn, sink: sip.audioOut,
  });
  // The first RTP session of a process costs tens of ms (socket bindings and tables set up on
  // first use); paying it at start keeps it out of the first call's setup time.
  await media().then((leg) => { leg.offer(); leg.close(); }, () => {});
  const ua = new UserAgent({ clock: components.clock, log: logFor('sip:ua'), transport, transactions, locator, media }, {
    aor, autoAnswerMs: sip.autoAnswerMs, noAnswerMs: sip.noAnswerMs, ringTimeoutMs: sip.ringTimeoutMs,
  });
  const registrations = new AorRegistrations({
    clock: components.clock, log: logFor('usage:sip'), data: device.data, security: device.security,
    configuration: () => device.configuration.current,
  });
  // RFC 7904 §3: our AOR is the certificate's user name, stored with our Node-ID as the key
  // and ourselves as the trivial destination list. Clients register too: any node may store.
  const contactPrefs = sip.scheme === 'sips' ? '(sip.schemes=SIPS)' : '(sip.schemes=SIP)';
  void registrations.register(aor, { destinationList: [nodeDestination(device.identity.nodeId)], contactPrefs }).catch((e: Error) => {
    // Network failures stay in the registration's status and are retried with backoff;
    // only a registration that can never succeed (not our AOR) ends up here.
    logFor('usage:sip').error('AOR not registered', { aor, error: e.message });
  });
  let stopped = false;
  return {
    ua, transport, registrations, connections,
    status: () => ({ ...ua.status(), registrations: registrations.status(), connections: connections.status() }),
    async stop() {
      if (stopped) return;
      stopped = true;
      ua.close();
      // Let the BYEs and CANCELs of the calls just ended reach the wire before the sockets close.
      await new Promise((r) => setTimeout(r, 50));
      await registrations.remove(aor).catch(() => {});
      registrations.close();
      connections.close();
      transactions.close();
      transport.close();
    },
  };
}
