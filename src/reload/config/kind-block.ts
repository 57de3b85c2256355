// Kind definitions: the kind-block element of required-kinds (RFC 6940 §11.1) and the
// KindDescription of a ConfigUpdate (§6.5.4), which is the same production with config-base
// as its default namespace. A kind's text is signed on its own, so it is kept verbatim.
import { CONFIG_BASE_NS, CONFIG_CHORD_NS, CONFIG_SIP_NS, REGISTERED_KINDS, type RegisteredKind } from './constants.ts';
import { ConfigurationError, invalid } from './errors.ts';
import { domainRestrictionXml, isDomainRestriction, parseDomainRestriction } from './sip-domain-restriction.ts';
import type { AccessControl, DataModel, KindDefinition, SignatureElement, SipDomainRestriction } from './types.ts';
import { base64Of, integerOf, parseInteger, textOf } from './values.ts';
import {
  type NsElement, type XmlSource, attributeValue, elementText, escapeAttribute, escapeText, inheritedBindings, isElement, readXml,
} from './xml-tree.ts';

const INT_MAX = 0x7fffffff; // xsd:int
const DATA_MODELS: Readonly<Record<string, DataModel>> = { SINGLE: 'single', ARRAY: 'array', DICTIONARY: 'dictionary' };
const REGISTERED_BY_ID: ReadonlyMap<number, RegisteredKind> = new Map([...REGISTERED_KINDS.values()].map((k) => [k.id, k]));
const KIND_BLOCK_CONTEXT: ReadonlyMap<string, string> = new Map([['', CONFIG_BASE_NS]]);

/** Elements of the base and chord namespaces, and unqualified ones, are never foreign (§11.1.1). */
export function isOwnNamespace(ns: string): boolean {
  return ns === CONFIG_BASE_NS || ns === CONFIG_CHORD_NS || ns === '';
}

export function parseSignatureElement(el: NsElement): SignatureElement {
  return { securityBlock: base64Of(el), algorithm: attributeValue(el, 'algorithm')?.trim() };
}

/**
 * A kind-block element: one kind and a kind-signature. [AMBIG] §11.1's prose says the block
 * "MUST contain a kind-signature"; the grammar makes it optional. Absent is read as unsigned,
 * which verifyKindSignature refuses.
 */
export function parseKindBlockElement(src: XmlSource, block: NsElement): KindDefinition {
  let kind: NsElement | undefined;
  let signature: SignatureElement | undefined;
  for (const c of block.children) {
    if (isElement(c, CONFIG_BASE_NS, 'kind')) {
      if (kind) invalid('kind-block', 'more than one <kind>');
      kind = c;
    } else if (isElement(c, CONFIG_BASE_NS, 'kind-signature')) {
      if (signature) invalid('kind-block', 'more than one <kind-signature>');
      signature = parseSignatureElement(c);
    } else if (isOwnNamespace(c.ns)) {
      invalid('kind-block', `unexpected element <${c.qname}>`);
    }
  }
  if (!kind) return invalid('kind-block', 'no <kind> element');
  return parseKindElement(src, kind, signature);
}

function parseKindId(kind: NsElement): { id: number; name: string | undefined } {
  const name = attributeValue(kind, 'name')?.trim();
  const id = attributeValue(kind, 'id');
  if ((name === undefined) === (id === undefined)) invalid('kind', 'needs exactly one of the attributes name and id');
  if (name !== undefined) {
    const registered = REGISTERED_KINDS.get(name);
    if (!registered) invalid('kind', `unknown kind name ${JSON.stringify(name.slice(0, 40))}; give private kinds an id`);
    return { id: registered.id, name };
  }
  // xsd:unsignedInt; Kind-ID 0 is reserved (§14.6).
  return { id: parseInteger(id!, 'kind id', 1, 0xffffffff), name: undefined };
}

function parseKindElement(src: XmlSource, kind: NsElement, signature: SignatureElement | undefined): KindDefinition {
  const { id, name } = parseKindId(kind);
  const label = name ?? String(id);
  const one = new Map<string, NsElement>();
  let domainRestriction: SipDomainRestriction | undefined;
  for (const c of kind.children) {
    if (isDomainRestriction(c)) {
      if (domainRestriction) invalid(c.local, `more than one domain restriction in kind ${label}`);
      domainRestriction = parseDomainRestriction(c);
    } else if (isElement(c, CONFIG_BASE_NS, 'data-model', 'access-control', 'max-count', 'max-size', 'max-node-multiple')) {
      if (one.has(c.local)) invalid(c.local, `appears twice in kind ${label}`);
      one.set(c.local, c);
    } else if (isOwnNamespace(c.ns)) {
      invalid('kind', `unexpected element <${c.qname}> in kind ${label}`);
    }
  }
  const required = (local: string): NsElement => one.get(local) ?? invalid(local, `missing in kind ${label} (§11.1: MUST be provided)`);
  const modelText = textOf(required('data-model'));
  const declaredModel = DATA_MODELS[modelText.toUpperCase()];
  if (!declaredModel) invalid('data-model', `unsupported data model ${JSON.stringify(modelText.slice(0, 40))} in kind ${label}`);
  const declaredAccess = textOf(required('access-control'));
  if (declaredAccess === '') invalid('access-control', `empty in kind ${label}`);
  const maxCount = integerOf(required('max-count'), 0, INT_MAX);
  const maxSize = integerOf(required('max-size'), 0, INT_MAX);
  const multipleEl = one.get('max-node-multiple');
  let maxNodeMultiple = multipleEl ? integerOf(multipleEl, 1, INT_MAX) : undefined;
  // §11.1: "If the access control is NODE-MULTIPLE, this element MUST be included".
  if (declaredAccess === 'NODE-MULTIPLE' && maxNodeMultiple === undefined) invalid('max-node-multiple', `missing in NODE-MULTIPLE kind ${label}`);

  // §11.1: for registered kinds "clients MUST ignore them in favor of the IANA versions".
  const registered = REGISTERED_BY_ID.get(id);
  const dataModel = registered?.dataModel ?? declaredModel;
  const accessControl: AccessControl = registered?.accessControl ?? declaredAccess;
  if (accessControl === 'NODE-MULTIPLE') maxNodeMultiple ??= registered?.maxNodeMultiple;
  else maxNodeMultiple = undefined;

  return {
    id, name, dataModel, accessControl, maxCount, maxSize, maxNodeMultiple, domainRestriction,
    xml: elementText(src, kind), namespaces: inheritedBindings(kind), signature,
  };
}

/**
 * A KindDescription of a ConfigUpdate (§6.5.4): one kind-block, "assume a default namespace
 * of urn:ietf:params:xml:ns:p2p:config-base". Throws ConfigurationError only.
 */
export function parseKindBlock(xml: string | Uint8Array): KindDefinition {
  const src = readXml(xml, KIND_BLOCK_CONTEXT);
  if (!isElement(src.root, CONFIG_BASE_NS, 'kind-block')) {
    throw new ConfigurationError('invalid', src.root.local, `expected <kind-block> in ${CONFIG_BASE_NS}`);
  }
  return parseKindBlockElement(src, src.root);
}

export interface KindInit {
  /** Kind-ID of a private kind (§14.6); give either this or `name`. */
  id?: number;
  /** IANA name of a registered kind, e.g. "SIP-REGISTRATION"; give either this or `id`. */
  name?: string;
  dataModel: DataModel;
  accessControl: AccessControl;
  maxCount: number;
  /** Bytes of one value. */
  maxSize: number;
  /** Required for NODE-MULTIPLE (§11.1); no default. */
  maxNodeMultiple?: number;
  /** Written as `sip:domain-restriction` inside the kind (RFC 7904 §3.4); default none. */
  domainRestriction?: SipDomainRestriction;
}

/** A new, unsigned kind: its element text written once, then read back like a received one. */
export function defineKind(init: KindInit): KindDefinition {
  if ((init.id === undefined) === (init.name === undefined)) throw new TypeError('defineKind needs exactly one of id and name');
  const attr = init.name !== undefined ? `name="${escapeAttribute(init.name)}"` : `id="${init.id}"`;
  const parts = [
    `<data-model>${init.dataModel.toUpperCase()}</data-model>`,
    `<access-control>${escapeText(init.accessControl)}</access-control>`,
    `<max-count>${init.maxCount}</max-count>`,
    `<max-size>${init.maxSize}</max-size>`,
  ];
  if (init.maxNodeMultiple !== undefined) parts.push(`<max-node-multiple>${init.maxNodeMultiple}</max-node-multiple>`);
  if (init.domainRestriction) parts.push(domainRestrictionXml(init.domainRestriction, 'sip'));
  const xml = `<kind ${attr}>${parts.join('')}</kind>`;
  const src = readXml(xml, new Map([['', CONFIG_BASE_NS], ['sip', CONFIG_SIP_NS]]));
  return parseKindElement(src, src.root, undefined);
}

/**
 * The kind-block of `kind` for a document or a ConfigUpdate: the kind text verbatim, with the
 * bindings it relies on declared on the kind-block where `context` (the bindings in scope
 * there; default: config-base as default namespace, §6.5.4) lacks them.
 */
export function kindBlockXml(kind: KindDefinition, context: ReadonlyMap<string, string> = KIND_BLOCK_CONTEXT): string {
  const decls: string[] = [];
  for (const [p, uri] of Object.entries(kind.namespaces)) {
    if (context.get(p) !== uri && !(p === '' && uri === '' && !context.has(''))) decls.push(`${p === '' ? 'xmlns' : `xmlns:${p}`}="${escapeAttribute(uri)}"`);
  }
  // If the kind text moves the default namespace, the block's own names need a prefix.
  const defaultNs = kind.namespaces[''] ?? context.get('') ?? '';
  let q = '';
  if (defaultNs !== CONFIG_BASE_NS) {
    let prefix = 'p2pcf';
    while (prefix in kind.namespaces) prefix += '_';
    decls.push(`xmlns:${prefix}="${CONFIG_BASE_NS}"`);
    q = `${prefix}:`;
  }
  const sig = kind.signature;
  const sigXml = sig
    ? `<${q}kind-signature${sig.algorithm !== undefined ? ` algorithm="${escapeAttribute(sig.algorithm)}"` : ''}>${Buffer.from(sig.securityBlock).toString('base64')}</${q}kind-signature>`
    : '';
  return `<${q}kind-block${decls.map((d) => ` ${d}`).join('')}>${kind.xml}${sigXml}</${q}kind-block>`;
}
