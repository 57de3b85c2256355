// The configuration a building's first device starts from when it was given none (RFC 6940
// §11.1, §11.3.1): a closed overlay of self-signed devices on one LAN, with the base kinds of
// §8, §9 and RFC 7904.
import type { NodeId } from '../../codec/index.ts';
import {
  DEFAULT_CERTIFICATE_BY_NODE_MAX_COUNT, DEFAULT_CERTIFICATE_BY_USER_MAX_COUNT, DEFAULT_CERTIFICATE_MAX_SIZE_BYTES, DEFAULT_CHORD_REACTIVE,
  DEFAULT_CLIENTS_PERMITTED, DEFAULT_INITIAL_TTL_HOPS, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_NODE_ID_LENGTH_BYTES, DEFAULT_OVERLAY_LINK_PROTOCOLS,
  DEFAULT_OVERLAY_RELIABILITY_TIMER_MS, DEFAULT_SIP_REGISTRATION_MAX_COUNT, DEFAULT_SIP_REGISTRATION_MAX_SIZE_BYTES, DEFAULT_TOPOLOGY_PLUGIN,
  DEFAULT_TURN_DENSITY, DEFAULT_TURN_SERVICE_MAX_COUNT, DEFAULT_TURN_SERVICE_MAX_NODE_MULTIPLE, DEFAULT_TURN_SERVICE_MAX_SIZE_BYTES,
} from './constants.ts';
import { defineKind } from './kind-block.ts';
import type { BootstrapNode, KindDefinition, OverlayConfiguration, SipDomainRestriction } from './types.ts';

export interface EmbeddedConfigurationInit {
  /** Node-IDs allowed to sign the next configuration (§11.1); default none, so it can never be replaced by ConfigUpdate. */
  configurationSigners?: readonly NodeId[];
  /** bootstrap-node entries (§11.4); default none. */
  bootstrapNodes?: readonly BootstrapNode[];
  /** Written inside SIP-REGISTRATION (RFC 7904 §3.4); default none: any AOR. */
  domainRestriction?: SipDomainRestriction;
}

/** The base kinds by their IANA names (§14.6, RFC 7904 §9.1), sized for a building's intercoms. */
export function baseKinds(domainRestriction?: SipDomainRestriction): KindDefinition[] {
  return [
    defineKind({ name: 'SIP-REGISTRATION', dataModel: 'dictionary', accessControl: 'USER-NODE-MATCH',
      maxCount: DEFAULT_SIP_REGISTRATION_MAX_COUNT, maxSize: DEFAULT_SIP_REGISTRATION_MAX_SIZE_BYTES, domainRestriction }),
    defineKind({ name: 'TURN-SERVICE', dataModel: 'single', accessControl: 'NODE-MULTIPLE',
      maxCount: DEFAULT_TURN_SERVICE_MAX_COUNT, maxSize: DEFAULT_TURN_SERVICE_MAX_SIZE_BYTES, maxNodeMultiple: DEFAULT_TURN_SERVICE_MAX_NODE_MULTIPLE }),
    defineKind({ name: 'CERTIFICATE_BY_NODE', dataModel: 'array', accessControl: 'NODE-MATCH',
      maxCount: DEFAULT_CERTIFICATE_BY_NODE_MAX_COUNT, maxSize: DEFAULT_CERTIFICATE_MAX_SIZE_BYTES }),
    defineKind({ name: 'CERTIFICATE_BY_USER', dataModel: 'array', accessControl: 'USER-MATCH',
      maxCount: DEFAULT_CERTIFICATE_BY_USER_MAX_COUNT, maxSize: DEFAULT_CERTIFICATE_MAX_SIZE_BYTES }),
  ];
}

/**
 * A self-signed building overlay named `overlayName`: self-signed-permitted with sha256
 * Node-IDs (§11.3.1), no root-cert or enrollment server, sequence 0, no expiration. Nodes
 * link with TLS over TCP without ICE (Node has no DTLS), so no-ice is true. The Chord
 * intervals are left to the plug-in's building-tuned defaults.
 */
export function embeddedDefaultConfiguration(overlayName: string, init: EmbeddedConfigurationInit = {}): OverlayConfiguration {
  return {
    instanceName: overlayName,
    sequence: 0,
    expiration: undefined,
    topologyPlugin: DEFAULT_TOPOLOGY_PLUGIN,
    nodeIdLength: DEFAULT_NODE_ID_LENGTH_BYTES,
    rootCerts: [],
    enrollmentServers: [],
    selfSignedPermitted: { value: true, digest: 'sha256' },
    bootstrapNodes: (init.bootstrapNodes ?? []).map((b) => ({ ...b })),
    turnDensity: DEFAULT_TURN_DENSITY,
    clientsPermitted: DEFAULT_CLIENTS_PERMITTED,
    noIce: true,
    chord: { updateIntervalS: undefined, pingIntervalS: undefined, reactive: DEFAULT_CHORD_REACTIVE },
    sharedSecret: undefined,
    maxMessageSize: DEFAULT_MAX_MESSAGE_SIZE,
    initialTtl: DEFAULT_INITIAL_TTL_HOPS,
    overlayReliabilityTimerMs: DEFAULT_OVERLAY_RELIABILITY_TIMER_MS,
    overlayLinkProtocols: [...DEFAULT_OVERLAY_LINK_PROTOCOLS],
    kindSigners: [],
    configurationSigners: (init.configurationSigners ?? []).map((id) => id.slice()),
    badNodes: [],
    mandatoryExtensions: [],
    kinds: baseKinds(init.domainRestriction),
    domainRestrictions: undefined,
    signature: undefined,
  };
}
