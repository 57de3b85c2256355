// The SIP usage's AOR domain restriction in the configuration document (RFC 7904 §3.4, §9.2).
// [AMBIG] RFC 7904 §3.4: the prose names a `<domain-restrictions>` container "in the overlay
// configuration document"; the RELAX NG names `sip:domain-restriction` as a kind-parameter.
// Both spellings are read, in the sip or the config-base namespace, at configuration level or
// inside a kind; the grammar's form inside SIP-REGISTRATION is the one written, and the one
// that wins when both are present.
import { KindId } from '../../codec/index.ts';
import { CONFIG_BASE_NS, CONFIG_SIP_NS } from './constants.ts';
import { invalid } from './errors.ts';
import type { OverlayConfiguration, SipDomainRestriction } from './types.ts';
import { parseBoolean, textOf } from './values.ts';
import { type NsElement, attributeValue, escapeAttribute, escapeText } from './xml-tree.ts';

const SPELLINGS = ['domain-restriction', 'domain-restrictions'];

export function isDomainRestriction(el: NsElement): boolean {
  return (el.ns === CONFIG_SIP_NS || el.ns === CONFIG_BASE_NS) && SPELLINGS.includes(el.local);
}

export function parseDomainRestriction(el: NsElement): SipDomainRestriction {
  const enable = attributeValue(el, 'enable');
  const patterns: string[] = [];
  for (const c of el.children) {
    if ((c.ns === CONFIG_SIP_NS || c.ns === el.ns) && c.local === 'pattern') {
      const p = textOf(c);
      if (p === '') invalid('pattern', 'empty domain pattern');
      patterns.push(p);
    } else if (c.ns === CONFIG_SIP_NS || c.ns === CONFIG_BASE_NS || c.ns === '') {
      invalid(el.local, `unexpected element <${c.qname}>`);
    }
  }
  return { enable: enable === undefined ? false : parseBoolean(enable, `${el.local} enable`), patterns };
}

/**
 * The restriction in force for SIP-REGISTRATION: the one inside that kind, else the one at
 * configuration level; undefined means any AOR is accepted (RFC 7904 §3.4).
 */
export function sipDomainRestriction(cfg: OverlayConfiguration): SipDomainRestriction | undefined {
  const kind = cfg.kinds.find((k) => k.id === KindId.SIP_REGISTRATION);
  return kind?.domainRestriction ?? cfg.domainRestrictions;
}

/** The grammar's spelling, `sip:domain-restriction`, with `prefix` bound to the sip namespace. */
export function domainRestrictionXml(r: SipDomainRestriction, prefix = 'sip'): string {
  const p = prefix === '' ? '' : `${prefix}:`;
  const patterns = r.patterns.map((s) => `<${p}pattern>${escapeText(s)}</${p}pattern>`).join('');
  const open = `<${p}domain-restriction enable="${escapeAttribute(String(r.enable))}"`;
  return patterns === '' ? `${open}/>` : `${open}>${patterns}</${p}domain-restriction>`;
}
