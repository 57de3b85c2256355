// Namespaces, defaults and limits of the overlay configuration document (RFC 6940 §11.1),
// with the section each comes from.
import { DEFAULT_INITIAL_TTL, DEFAULT_MAX_MESSAGE_SIZE_BYTES, KindId, RELOAD_PORT } from '../../codec/index.ts';
import { OVERLAY_RELIABILITY_TIMER_MS } from '../constants.ts';

/** Default namespace of the document (§11.1, §14.17). */
export const CONFIG_BASE_NS = 'urn:ietf:params:xml:ns:p2p:config-base';
/** Namespace of the CHORD-RELOAD parameters, usually prefixed `chord:` (§11.1.1). */
export const CONFIG_CHORD_NS = 'urn:ietf:params:xml:ns:p2p:config-chord';
/** Namespace of the SIP usage's domain restriction, usually prefixed `sip:` (RFC 7904 §3.4, §9.2). */
export const CONFIG_SIP_NS = 'urn:ietf:params:xml:ns:p2p:config-base:sip';
/** The `xml:` prefix is bound by definition (Namespaces in XML 1.0 §3). */
export const XML_NS = 'http://www.w3.org/XML/1998/namespace';

/** Namespaces whose content this module understands: always "supported" for mandatory-extension. */
export const BUILT_IN_NAMESPACES: readonly string[] = [CONFIG_BASE_NS, CONFIG_CHORD_NS, CONFIG_SIP_NS];

/** MIME type of the document (§11.1, §14.16). */
export const OVERLAY_CONFIGURATION_MIME_TYPE = 'application/p2p-overlay+xml';

/** topology-plugin default (§11.1). */
export const DEFAULT_TOPOLOGY_PLUGIN = 'CHORD-RELOAD';
/** node-id-length default and bounds, bytes (§11.1). */
export const DEFAULT_NODE_ID_LENGTH_BYTES = 16;
export const MIN_NODE_ID_LENGTH_BYTES = 16;
export const MAX_NODE_ID_LENGTH_BYTES = 20;
/** bootstrap-node port default (§11.1, §14.2). */
export const DEFAULT_BOOTSTRAP_PORT = RELOAD_PORT;
/** turn-density default (§11.1); 0 means the overlay has no TURN servers. */
export const DEFAULT_TURN_DENSITY = 1;
/** clients-permitted default (§11.1). */
export const DEFAULT_CLIENTS_PERMITTED = true;
/** no-ice default (§11.1). */
export const DEFAULT_NO_ICE = false;
/** chord-reactive default (§11.1, §10.7.1). */
export const DEFAULT_CHORD_REACTIVE = true;
/**
 * RFC values of the Chord intervals when the document names none: Update "about every ten
 * minutes" (§10.7.4.1) and finger Pings at most hourly (§10.7.4.2). The parser leaves an
 * absent interval undefined so the topology plug-in applies its own tuned default.
 */
export const RFC_CHORD_UPDATE_INTERVAL_S = 600;
export const RFC_CHORD_PING_INTERVAL_S = 3600;
/** max-message-size default, bytes (§11.1). */
export const DEFAULT_MAX_MESSAGE_SIZE = DEFAULT_MAX_MESSAGE_SIZE_BYTES;
/** initial-ttl default (§11.1, §6.3.2). */
export const DEFAULT_INITIAL_TTL_HOPS = DEFAULT_INITIAL_TTL;
/** overlay-reliability-timer default and floor, ms (§11.1, §6.2.1). */
export const DEFAULT_OVERLAY_RELIABILITY_TIMER_MS = OVERLAY_RELIABILITY_TIMER_MS;
export const MIN_OVERLAY_RELIABILITY_TIMER_MS = 200;
/** overlay-link-protocol when none is listed: "TLS" means TLS and DTLS (§11.1). */
export const DEFAULT_OVERLAY_LINK_PROTOCOLS: readonly string[] = ['TLS'];
/**
 * Highest configuration sequence a document may carry: "between 0 and 2^16-2" (§11.1);
 * 65535 is the forwarding header's "accept regardless" value (§6.3.2.1).
 */
export const MAX_CONFIGURATION_SEQUENCE = 0xfffe;
/** Sequence numbers wrap modulo this: "monotonically increasing mod 65535" (§6.3.2.1). */
export const CONFIGURATION_SEQUENCE_MODULUS = 0xffff;

// Limits of this implementation: a document is network input (ConfigUpdate, §6.5.4).
/** Largest document accepted, checked before decoding; a building's document is a few kB. */
export const MAX_CONFIGURATION_DOCUMENT_BYTES = 1024 * 1024;
/** Deepest element nesting accepted; the grammar needs six levels. */
export const MAX_ELEMENT_DEPTH = 32;

/**
 * Kinds registered with IANA (§14.6; RFC 7904 §9.1; RFC 7374 §7.1). §11.1: for these "the
 * data-model and access-control elements MUST match those in the Kind registration, and
 * clients MUST ignore them in favor of the IANA versions".
 */
export const REGISTERED_KINDS: ReadonlyMap<string, RegisteredKind> = new Map<string, RegisteredKind>([
  ['SIP-REGISTRATION', { id: KindId.SIP_REGISTRATION, dataModel: 'dictionary', accessControl: 'USER-NODE-MATCH' }],
  // §9: "NODE-MULTIPLE, with a maximum iteration of counter 20".
  ['TURN-SERVICE', { id: KindId.TURN_SERVICE, dataModel: 'single', accessControl: 'NODE-MULTIPLE', maxNodeMultiple: 20 }],
  ['CERTIFICATE_BY_NODE', { id: KindId.CERTIFICATE_BY_NODE, dataModel: 'array', accessControl: 'NODE-MATCH' }],
  ['CERTIFICATE_BY_USER', { id: KindId.CERTIFICATE_BY_USER, dataModel: 'array', accessControl: 'USER-MATCH' }],
  ['REDIR', { id: KindId.REDIR, dataModel: 'dictionary', accessControl: 'NODE-ID-MATCH' }],
]);

export interface RegisteredKind {
  readonly id: number;
  readonly dataModel: 'single' | 'array' | 'dictionary';
  readonly accessControl: string;
  /** The registration's NODE-MULTIPLE counter limit, used when the document gives none. */
  readonly maxNodeMultiple?: number;
}

// Kind limits of the embedded building overlay (embeddedDefaultConfiguration).
/** SIP-REGISTRATION: one dictionary entry per device of a flat's AOR (RFC 7904 §2). */
export const DEFAULT_SIP_REGISTRATION_MAX_COUNT = 32;
/** A SipRegistration route value is ~60 bytes; room for contact_prefs and longer lists. */
export const DEFAULT_SIP_REGISTRATION_MAX_SIZE_BYTES = 1024;
/** TURN-SERVICE: one TurnServer per Resource-ID (§9). */
export const DEFAULT_TURN_SERVICE_MAX_COUNT = 1;
/** TurnServer = iteration u8 + IpAddressPort (at most 20 bytes) (§9). */
export const DEFAULT_TURN_SERVICE_MAX_SIZE_BYTES = 64;
/** TURN-SERVICE counter limit of the registration (§9). */
export const DEFAULT_TURN_SERVICE_MAX_NODE_MULTIPLE = 20;
/** CERTIFICATE_BY_NODE: appended certificates of one Node-ID, across renewals (§8). */
export const DEFAULT_CERTIFICATE_BY_NODE_MAX_COUNT = 16;
/** CERTIFICATE_BY_USER: certificates of every device sharing a user name (§8). */
export const DEFAULT_CERTIFICATE_BY_USER_MAX_COUNT = 16;
/** A DER certificate: ~500 bytes for ECDSA P-256, ~1200 for RSA-2048; stays under max-message-size. */
export const DEFAULT_CERTIFICATE_MAX_SIZE_BYTES = 4096;
