// Reading an overlay configuration document, application/p2p-overlay+xml (RFC 6940 §11.1,
// grammar §11.1.1). Names are matched by namespace URI, never by prefix. Elements of other
// namespaces are ignored, as the grammar's foreign-elements allow; unknown elements of the
// config-base and config-chord namespaces are errors, so a misspelt parameter is not lost.
import { isIP } from 'node:net';
import {
  BUILT_IN_NAMESPACES, CONFIG_BASE_NS, CONFIG_CHORD_NS, DEFAULT_BOOTSTRAP_PORT, DEFAULT_CHORD_REACTIVE, DEFAULT_CLIENTS_PERMITTED,
  DEFAULT_INITIAL_TTL_HOPS, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_NODE_ID_LENGTH_BYTES, DEFAULT_NO_ICE, DEFAULT_OVERLAY_LINK_PROTOCOLS,
  DEFAULT_OVERLAY_RELIABILITY_TIMER_MS, DEFAULT_TOPOLOGY_PLUGIN, DEFAULT_TURN_DENSITY, MAX_CONFIGURATION_SEQUENCE, MAX_NODE_ID_LENGTH_BYTES,
  MIN_NODE_ID_LENGTH_BYTES, MIN_OVERLAY_RELIABILITY_TIMER_MS,
} from './constants.ts';
import { ConfigurationError, invalid } from './errors.ts';
import { isOwnNamespace, parseKindBlockElement, parseSignatureElement } from './kind-block.ts';
import { isDomainRestriction, parseDomainRestriction } from './sip-domain-restriction.ts';
import type { BootstrapNode, KindDefinition, OverlayConfiguration, OverlayDocument, SelfSignedPermitted } from './types.ts';
import { base64Of, booleanOf, integerOf, nodeIdOf, parseDateTime, parseInteger, textOf } from './values.ts';
import { type NsElement, type XmlSource, attributeValue, elementBytes, isElement, readXml } from './xml-tree.ts';

export interface ParseOptions {
  /** Which configuration parseOverlayConfiguration returns (case-insensitive); default the first. */
  instanceName?: string;
  /**
   * Extension namespaces this node supports, beyond config-base, config-chord and the SIP
   * usage's config-base:sip; a mandatory-extension outside them is an error (§11.1). Default none.
   */
  supportedExtensions?: readonly string[];
}

/** A configuration element with the signature elements that follow it (§11.1). */
export interface ConfigurationEntry {
  configuration: NsElement;
  signatures: NsElement[];
}

/** The overlay root's configurations and signatures, in document order. */
export function configurationEntries(src: XmlSource): ConfigurationEntry[] {
  const root = src.root;
  if (!isElement(root, CONFIG_BASE_NS, 'overlay')) {
    throw new ConfigurationError('invalid', root.local, `the root must be <overlay> in namespace ${CONFIG_BASE_NS}, found <${root.qname}> in ${root.ns === '' ? 'no namespace' : root.ns}`);
  }
  const entries: ConfigurationEntry[] = [];
  for (const c of root.children) {
    if (isElement(c, CONFIG_BASE_NS, 'configuration')) entries.push({ configuration: c, signatures: [] });
    else if (isElement(c, CONFIG_BASE_NS, 'signature')) {
      // "Each configuration element MAY be followed by signature elements" (§11.1).
      const last = entries.at(-1);
      if (!last) invalid('signature', 'appears before any <configuration>');
      last.signatures.push(c);
    } else if (isOwnNamespace(c.ns)) invalid('overlay', `unexpected element <${c.qname}>`);
  }
  if (entries.length === 0) invalid('overlay', 'no <configuration> element');
  return entries;
}

/** Every configuration of the document. Throws ConfigurationError only. */
export function parseOverlayDocument(xml: string | Uint8Array, options: ParseOptions = {}): OverlayDocument {
  const src = readXml(xml);
  return { configurations: configurationEntries(src).map((e) => parseConfigurationEntry(src, e, options)) };
}

/**
 * The configuration named `options.instanceName`, else the first. Only that one is
 * interpreted: another overlay's configuration in the same file may use extensions this node
 * lacks. Throws ConfigurationError only.
 */
export function parseOverlayConfiguration(xml: string | Uint8Array, options: ParseOptions = {}): OverlayConfiguration {
  const src = readXml(xml);
  return parseConfigurationEntry(src, selectEntry(configurationEntries(src), options.instanceName), options);
}

export function selectEntry(entries: readonly ConfigurationEntry[], instanceName: string | undefined): ConfigurationEntry {
  if (instanceName === undefined) return entries[0];
  const wanted = instanceName.toLowerCase();
  const found = entries.find((e) => attributeValue(e.configuration, 'instance-name')?.trim().toLowerCase() === wanted);
  if (!found) throw new ConfigurationError('no_such_configuration', 'configuration', `no configuration with instance-name ${JSON.stringify(instanceName)}`);
  return found;
}

// Elements that may appear at most once (§11.1.1 `?`), by their expanded name.
const SINGLE = new Set([
  'topology-plugin', 'node-id-length', 'self-signed-permitted', 'turn-density', 'clients-permitted', 'no-ice', 'shared-secret',
  'max-message-size', 'initial-ttl', 'overlay-reliability-timer', 'required-kinds',
].map((l) => `${CONFIG_BASE_NS} ${l}`).concat(['chord-update-interval', 'chord-ping-interval', 'chord-reactive'].map((l) => `${CONFIG_CHORD_NS} ${l}`)));
const MULTIPLE = new Set([
  'root-cert', 'enrollment-server', 'bootstrap-node', 'overlay-link-protocol', 'kind-signer', 'configuration-signer', 'bad-node', 'mandatory-extension',
].map((l) => `${CONFIG_BASE_NS} ${l}`));

function keyOf(el: NsElement): string {
  // §11.1's prose spells it "topology-plug-in"; the grammar "topology-plugin".
  const local = el.ns === CONFIG_BASE_NS && el.local === 'topology-plug-in' ? 'topology-plugin' : el.local;
  return `${el.ns} ${local}`;
}

function parseConfigurationEntry(src: XmlSource, entry: ConfigurationEntry, options: ParseOptions): OverlayConfiguration {
  const el = entry.configuration;
  const instanceName = attributeValue(el, 'instance-name')?.trim();
  if (!instanceName) invalid('configuration', 'attribute instance-name is missing or empty');
  const sequenceText = attributeValue(el, 'sequence');
  const sequence = sequenceText === undefined ? 0 : parseInteger(sequenceText, 'configuration sequence', 0, MAX_CONFIGURATION_SEQUENCE);
  const expirationText = attributeValue(el, 'expiration');
  const expiration = expirationText === undefined ? undefined : parseDateTime(expirationText, 'configuration expiration');

  const byName = new Map<string, NsElement[]>();
  let domainRestriction: NsElement | undefined;
  for (const c of el.children) {
    const key = keyOf(c);
    if (isDomainRestriction(c)) {
      if (domainRestriction) invalid(c.local, 'more than one domain restriction at configuration level');
      domainRestriction = c;
    } else if (SINGLE.has(key) || MULTIPLE.has(key)) {
      const list = byName.get(key) ?? [];
      if (SINGLE.has(key) && list.length > 0) invalid(c.local, `appears more than once in configuration ${instanceName}`);
      list.push(c);
      byName.set(key, list);
    } else if (isOwnNamespace(c.ns)) {
      invalid(c.local, `unknown element <${c.qname}> in configuration ${instanceName}`);
    }
  }
  const all = (local: string, ns = CONFIG_BASE_NS): NsElement[] => byName.get(`${ns} ${local}`) ?? [];
  const one = (local: string, ns = CONFIG_BASE_NS): NsElement | undefined => all(local, ns)[0];

  const mandatoryExtensions = all('mandatory-extension').map(textOf);
  const supported = new Set([...BUILT_IN_NAMESPACES, ...(options.supportedExtensions ?? [])]);
  for (const ns of mandatoryExtensions) {
    // §11.1: a namespace "that a node joining the overlay MUST support"; case-sensitive.
    if (!supported.has(ns)) throw new ConfigurationError('unsupported_extension', 'mandatory-extension', `extension ${ns} is not supported`);
  }

  const topology = one('topology-plugin');
  const reliability = one('overlay-reliability-timer');
  const linkProtocols = all('overlay-link-protocol').map(textOf);
  const updateInterval = one('chord-update-interval', CONFIG_CHORD_NS);
  const pingInterval = one('chord-ping-interval', CONFIG_CHORD_NS);
  const reactive = one('chord-reactive', CONFIG_CHORD_NS);
  const secret = one('shared-secret');
  const requiredKinds = one('required-kinds');
  return {
    instanceName,
    sequence,
    expiration,
    topologyPlugin: topology ? nonEmpty(topology) : DEFAULT_TOPOLOGY_PLUGIN,
    nodeIdLength: optionalInteger(one('node-id-length'), MIN_NODE_ID_LENGTH_BYTES, MAX_NODE_ID_LENGTH_BYTES, DEFAULT_NODE_ID_LENGTH_BYTES),
    rootCerts: all('root-cert').map(base64Of),
    enrollmentServers: all('enrollment-server').map(enrollmentServer),
    selfSignedPermitted: selfSignedPermitted(one('self-signed-permitted')),
    bootstrapNodes: all('bootstrap-node').map(bootstrapNode),
    turnDensity: optionalInteger(one('turn-density'), 0, 255, DEFAULT_TURN_DENSITY),
    clientsPermitted: optionalBoolean(one('clients-permitted'), DEFAULT_CLIENTS_PERMITTED),
    noIce: optionalBoolean(one('no-ice'), DEFAULT_NO_ICE),
    chord: {
      updateIntervalS: updateInterval ? integerOf(updateInterval, 1, 0x7fffffff) : undefined,
      pingIntervalS: pingInterval ? integerOf(pingInterval, 1, 0x7fffffff) : undefined,
      reactive: optionalBoolean(reactive, DEFAULT_CHORD_REACTIVE),
    },
    sharedSecret: secret ? textOf(secret) : undefined,
    maxMessageSize: optionalInteger(one('max-message-size'), 1, 0xffffffff, DEFAULT_MAX_MESSAGE_SIZE),
    // The forwarding header's ttl is one byte (§6.3.2).
    initialTtl: optionalInteger(one('initial-ttl'), 1, 255, DEFAULT_INITIAL_TTL_HOPS),
    // [AMBIG] §11.1 prose and example carry overlay-reliability-timer; §11.1.1 omits it. Read it.
    overlayReliabilityTimerMs: optionalInteger(reliability, MIN_OVERLAY_RELIABILITY_TIMER_MS, 0x7fffffff, DEFAULT_OVERLAY_RELIABILITY_TIMER_MS),
    overlayLinkProtocols: linkProtocols.length > 0 ? linkProtocols : [...DEFAULT_OVERLAY_LINK_PROTOCOLS],
    kindSigners: all('kind-signer').map(nodeIdOf),
    configurationSigners: all('configuration-signer').map(nodeIdOf),
    badNodes: all('bad-node').map(nodeIdOf),
    mandatoryExtensions,
    kinds: requiredKinds ? kindBlocks(src, requiredKinds) : [],
    domainRestrictions: domainRestriction ? parseDomainRestriction(domainRestriction) : undefined,
    signature: entry.signatures.length === 0 ? undefined : {
      signedBytes: elementBytes(src, el).slice(),
      elements: entry.signatures.map(parseSignatureElement),
    },
  };
}

function nonEmpty(el: NsElement): string {
  const v = textOf(el);
  if (v === '') invalid(el.local, 'is empty');
  return v;
}

function optionalInteger(el: NsElement | undefined, min: number, max: number, fallback: number): number {
  return el ? integerOf(el, min, max) : fallback;
}

function optionalBoolean(el: NsElement | undefined, fallback: boolean): boolean {
  return el ? booleanOf(el) : fallback;
}

/**
 * [AMBIG] §11.1: the URL is "in a "url" element"; the grammar makes enrollment-server itself
 * an xsd:anyURI. Both are read. "This URL MUST be of type "https:"".
 */
function enrollmentServer(el: NsElement): string {
  let text: string;
  if (el.children.length > 0) {
    const url = el.children.filter((c) => c.local === 'url' && (c.ns === CONFIG_BASE_NS || c.ns === el.ns));
    if (url.length !== 1 || el.text.trim() !== '') invalid('enrollment-server', 'expected a URL or one <url> element');
    text = textOf(url[0]);
  } else {
    text = textOf(el);
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(text);
  } catch {
    parsed = undefined;
  }
  if (!parsed || parsed.protocol !== 'https:') invalid('enrollment-server', `not an https URL: ${JSON.stringify(text.slice(0, 80))}`);
  return text;
}

function selfSignedPermitted(el: NsElement | undefined): SelfSignedPermitted | undefined {
  if (!el) return undefined;
  const value = booleanOf(el);
  const digest = attributeValue(el, 'digest')?.trim();
  // The grammar requires the attribute; it only matters when the value is true.
  if (digest === undefined && !value) return { value, digest: 'sha256' };
  if (digest !== 'sha1' && digest !== 'sha256') {
    return invalid('self-signed-permitted', `digest must be sha1 or sha256 (§11.1), found ${JSON.stringify(digest ?? null)}`);
  }
  return { value, digest };
}

function bootstrapNode(el: NsElement): BootstrapNode {
  if (el.children.length > 0 || el.text.trim() !== '') invalid('bootstrap-node', 'must be empty');
  const host = attributeValue(el, 'address')?.trim();
  if (host === undefined) return invalid('bootstrap-node', 'attribute address is missing');
  // "either IPv4 or IPv6, since they can be distinguished" (§11.1): no host names.
  if (isIP(host) === 0) invalid('bootstrap-node', `address is not an IPv4 or IPv6 literal: ${JSON.stringify(host.slice(0, 60))}`);
  const port = attributeValue(el, 'port');
  return { host, port: port === undefined ? DEFAULT_BOOTSTRAP_PORT : parseInteger(port, 'bootstrap-node port', 1, 0xffff) };
}

function kindBlocks(src: XmlSource, requiredKinds: NsElement): KindDefinition[] {
  const kinds: KindDefinition[] = [];
  for (const c of requiredKinds.children) {
    if (isElement(c, CONFIG_BASE_NS, 'kind-block')) {
      const kind = parseKindBlockElement(src, c);
      if (kinds.some((k) => k.id === kind.id)) invalid('kind', `Kind-ID ${kind.id} is defined twice`);
      kinds.push(kind);
    } else if (isOwnNamespace(c.ns)) {
      invalid('required-kinds', `unexpected element <${c.qname}>`);
    }
  }
  return kinds;
}
