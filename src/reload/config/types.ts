// The overlay configuration as values (RFC 6940 §11.1): what one `<configuration>` element of
// an application/p2p-overlay+xml document says, with the defaults of §11.1 filled in.
import type { NodeId } from '../../codec/index.ts';
import type { NodeIdDigest } from '../security/index.ts';

/** Data models of §7.2, from the data-model element (SINGLE, ARRAY, DICTIONARY). */
export type DataModel = 'single' | 'array' | 'dictionary';

/** Access-control policies of §7.3 and later RFCs' extensions, as written. */
export type AccessControl = 'USER-MATCH' | 'NODE-MATCH' | 'USER-NODE-MATCH' | 'NODE-MULTIPLE' | (string & {});

/** A `<signature>` or `<kind-signature>` element: a base64 SecurityBlock (§11.1, §6.3.4). */
export interface SignatureElement {
  /** The decoded bytes, a SecurityBlock when well formed; checked only on verification. */
  securityBlock: Uint8Array;
  /** The optional `algorithm` attribute, informational; the SecurityBlock names its own. */
  algorithm: string | undefined;
}

/** The signatures that follow a configuration element and the exact bytes they cover (§11.1). */
export interface ConfigurationSignature {
  /** The document's bytes from `<configuration` through `</configuration>`. */
  signedBytes: Uint8Array;
  /** Each `<signature>` element after the configuration, before the next one. */
  elements: SignatureElement[];
}

/**
 * The SIP usage's AOR domain restriction (RFC 7904 §3.4). No element: any AOR. Present with
 * enable false: only AORs of the overlay's own domain. enable true: only AORs whose domain
 * matches one of the patterns (POSIX extended regular expressions).
 */
export interface SipDomainRestriction {
  /** The `enable` attribute; absent means false. */
  enable: boolean;
  patterns: string[];
}

/** One kind of a kind-block (§11.1); ConfigUpdate carries kind-blocks too (§6.5.4). */
export interface KindDefinition {
  /** Kind-ID: the id attribute, or the IANA number of the name attribute (§14.6). */
  id: number;
  /** The name attribute when the kind was given by name, e.g. "SIP-REGISTRATION". */
  name: string | undefined;
  /** For a registered kind the registration's, whatever the element says (§11.1). */
  dataModel: DataModel;
  /** For a registered kind the registration's, whatever the element says (§11.1). */
  accessControl: AccessControl;
  maxCount: number;
  /** Bytes of one value. */
  maxSize: number;
  /** Highest i of NODE-MULTIPLE (§7.3.4); undefined for other policies. */
  maxNodeMultiple: number | undefined;
  /** A `sip:domain-restriction` kind-parameter inside this kind (RFC 7904 §3.4). */
  domainRestriction: SipDomainRestriction | undefined;
  /**
   * The kind element exactly as written, `<kind` through `</kind>`: what the kind-signature
   * covers (§11.1), so it is re-emitted verbatim, never rebuilt.
   */
  xml: string;
  /**
   * Prefix bindings the text of `xml` uses but declares outside itself ('' = default
   * namespace); re-emitted around it wherever it is copied.
   */
  namespaces: Record<string, string>;
  /** The kind-signature element, when present. */
  signature: SignatureElement | undefined;
}

/** The self-signed-permitted element (§11.1, §11.3.1). */
export interface SelfSignedPermitted {
  value: boolean;
  /** Digest over the SubjectPublicKeyInfo that gives a self-signed Node-ID. */
  digest: NodeIdDigest;
}

/** A bootstrap-node element (§11.1, §11.4). */
export interface BootstrapNode {
  /** IPv4 or IPv6 address literal, as written. */
  host: string;
  /** Default 6084 (§14.2). */
  port: number;
}

/** The CHORD-RELOAD parameters, elements of the config-chord namespace (§11.1, §10.7). */
export interface ChordParameters {
  /** chord-update-interval, seconds; undefined: the plug-in's default (RFC: ~600 s). */
  updateIntervalS: number | undefined;
  /** chord-ping-interval, seconds; undefined: the plug-in's default (RFC: 3600 s). */
  pingIntervalS: number | undefined;
  /** chord-reactive; default true. */
  reactive: boolean;
}

export interface OverlayConfiguration {
  /** instance-name: the overlay name (§11.1). */
  instanceName: string;
  /** sequence, 0..65534 (§11.1, §6.3.2.1); [AMBIG] optional in the grammar: absent reads as 0. */
  sequence: number;
  /** expiration; undefined when absent. */
  expiration: Date | undefined;
  /** topology-plugin; default "CHORD-RELOAD". */
  topologyPlugin: string;
  /** node-id-length, bytes, 16..20; default 16. */
  nodeIdLength: number;
  /** root-cert trust anchors, DER; not parsed here (the RFC's example holds a bogus one). */
  rootCerts: Uint8Array[];
  /** enrollment-server https URLs. */
  enrollmentServers: string[];
  /** self-signed-permitted; undefined when absent (self-signed certificates not permitted). */
  selfSignedPermitted: SelfSignedPermitted | undefined;
  bootstrapNodes: BootstrapNode[];
  /** turn-density; default 1, 0 = no TURN servers. */
  turnDensity: number;
  /** clients-permitted; default true. */
  clientsPermitted: boolean;
  /** no-ice; default false. */
  noIce: boolean;
  chord: ChordParameters;
  /** shared-secret (TLS-PSK admission); undefined when absent. */
  sharedSecret: string | undefined;
  /** max-message-size, bytes; default 5000. */
  maxMessageSize: number;
  /** initial-ttl; default 100. */
  initialTtl: number;
  /** overlay-reliability-timer, ms, >= 200; default 3000 ([AMBIG] in prose, not in the grammar). */
  overlayReliabilityTimerMs: number;
  /** overlay-link-protocol elements; default ["TLS"] (TLS and DTLS). */
  overlayLinkProtocols: string[];
  /** Node-IDs that may sign kinds (§11.1). */
  kindSigners: NodeId[];
  /** Node-IDs that may sign the next configuration of this instance-name (§11.1). */
  configurationSigners: NodeId[];
  /** Node-IDs whose certificates MUST NOT be considered valid (§11.1). */
  badNodes: NodeId[];
  /** XML namespaces every node MUST support (§11.1). */
  mandatoryExtensions: string[];
  /** The kind-blocks of required-kinds: every kind a node MUST support (§11.1). */
  kinds: KindDefinition[];
  /**
   * A domain restriction at configuration level: RFC 7904 §3.4's prose places a
   * `<domain-restrictions>` "in the overlay configuration document"; its grammar places
   * `sip:domain-restriction` in a kind (see KindDefinition). Use `sipDomainRestriction()`.
   */
  domainRestrictions: SipDomainRestriction | undefined;
  /** The signature elements after this configuration; undefined when there are none. */
  signature: ConfigurationSignature | undefined;
}

/** Every configuration of one document, in document order (§11.1: "MAY contain multiple"). */
export interface OverlayDocument {
  configurations: OverlayConfiguration[];
}
