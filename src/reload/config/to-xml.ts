// Writing an overlay configuration document (RFC 6940 §11.1) that parseOverlayDocument reads
// back to the same values. Every parameter is written, defaults included, so the document says
// everything a node will use. Kinds are copied verbatim (their text is what kind-signatures
// cover); the configuration itself is new text, so it is written unsigned: sign it afterwards
// with signConfiguration. To keep a received signed document, keep its bytes.
import { toHex } from '../../codec/index.ts';
import { CONFIG_BASE_NS, CONFIG_CHORD_NS, CONFIG_SIP_NS, XML_NS } from './constants.ts';
import { kindBlockXml } from './kind-block.ts';
import { domainRestrictionXml } from './sip-domain-restriction.ts';
import type { OverlayConfiguration } from './types.ts';
import { escapeAttribute, escapeText } from './xml-tree.ts';

/** Bindings declared on the root, in scope for everything inside it. */
const ROOT_SCOPE: ReadonlyMap<string, string> = new Map([['xml', XML_NS], ['', CONFIG_BASE_NS], ['chord', CONFIG_CHORD_NS], ['sip', CONFIG_SIP_NS]]);

const INDENT = '    ';

function element(name: string, value: string | number | boolean, attributes = ''): string {
  return `${INDENT}<${name}${attributes}>${escapeText(String(value))}</${name}>`;
}

/** Base64 in lines of 64 characters, as PEM writes certificates (whitespace is ignored on reading). */
function base64(b: Uint8Array): string {
  const text = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
  if (text.length <= 64) return text;
  const lines = text.match(/.{1,64}/g) ?? [];
  return `\n${lines.join('\n')}\n${INDENT}`;
}

function configurationXml(cfg: OverlayConfiguration): string {
  const attrs = [`instance-name="${escapeAttribute(cfg.instanceName)}"`, `sequence="${cfg.sequence}"`];
  if (cfg.expiration) attrs.push(`expiration="${cfg.expiration.toISOString()}"`);
  const lines: string[] = [`  <configuration ${attrs.join(' ')}>`];
  lines.push(element('topology-plugin', cfg.topologyPlugin));
  lines.push(element('node-id-length', cfg.nodeIdLength));
  for (const c of cfg.rootCerts) lines.push(element('root-cert', base64(c)));
  for (const u of cfg.enrollmentServers) lines.push(element('enrollment-server', u));
  if (cfg.selfSignedPermitted) {
    lines.push(element('self-signed-permitted', cfg.selfSignedPermitted.value, ` digest="${cfg.selfSignedPermitted.digest}"`));
  }
  for (const b of cfg.bootstrapNodes) lines.push(`${INDENT}<bootstrap-node address="${escapeAttribute(b.host)}" port="${b.port}"/>`);
  lines.push(element('turn-density', cfg.turnDensity));
  lines.push(element('clients-permitted', cfg.clientsPermitted));
  lines.push(element('no-ice', cfg.noIce));
  if (cfg.chord.updateIntervalS !== undefined) lines.push(element('chord:chord-update-interval', cfg.chord.updateIntervalS));
  if (cfg.chord.pingIntervalS !== undefined) lines.push(element('chord:chord-ping-interval', cfg.chord.pingIntervalS));
  lines.push(element('chord:chord-reactive', cfg.chord.reactive));
  if (cfg.sharedSecret !== undefined) lines.push(element('shared-secret', cfg.sharedSecret));
  lines.push(element('max-message-size', cfg.maxMessageSize));
  lines.push(element('initial-ttl', cfg.initialTtl));
  lines.push(element('overlay-reliability-timer', cfg.overlayReliabilityTimerMs));
  for (const p of cfg.overlayLinkProtocols) lines.push(element('overlay-link-protocol', p));
  for (const id of cfg.kindSigners) lines.push(element('kind-signer', toHex(id)));
  for (const id of cfg.configurationSigners) lines.push(element('configuration-signer', toHex(id)));
  for (const id of cfg.badNodes) lines.push(element('bad-node', toHex(id)));
  for (const ns of cfg.mandatoryExtensions) lines.push(element('mandatory-extension', ns));
  if (cfg.domainRestrictions) lines.push(`${INDENT}${domainRestrictionXml(cfg.domainRestrictions, 'sip')}`);
  if (cfg.kinds.length > 0) {
    lines.push(`${INDENT}<required-kinds>`);
    for (const k of cfg.kinds) lines.push(`${INDENT}${INDENT}${kindBlockXml(k, ROOT_SCOPE)}`);
    lines.push(`${INDENT}</required-kinds>`);
  }
  lines.push('  </configuration>');
  return lines.join('\n');
}

/**
 * A document holding `configurations` in order, unsigned. An empty overlayLinkProtocols
 * list is written as none, which reads back as the default ["TLS"] (§11.1).
 */
export function toXml(configurations: OverlayConfiguration | readonly OverlayConfiguration[]): string {
  const list: readonly OverlayConfiguration[] = Array.isArray(configurations) ? configurations : [configurations as OverlayConfiguration];
  if (list.length === 0) throw new RangeError('a configuration document needs at least one configuration (§11.1)');
  const decls = [...ROOT_SCOPE].filter(([p]) => p !== 'xml').map(([p, uri]) => (p === '' ? `xmlns="${uri}"` : `xmlns:${p}="${uri}"`));
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<overlay ${decls.join(' ')}>`,
    ...list.map(configurationXml),
    '</overlay>',
    '',
  ].join('\n');
}
