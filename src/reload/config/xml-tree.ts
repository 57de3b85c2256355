// A namespace-resolved element tree over @rgrove/parse-xml, which checks well-formedness but
// leaves names as written. Every element keeps its offsets in the source text, because
// signatures cover exact bytes of the document (RFC 6940 §11.1).
import { type XmlNode, XmlCdata, XmlDeclaration, XmlElement, XmlText, parseXml } from '@rgrove/parse-xml';
import { MAX_CONFIGURATION_DOCUMENT_BYTES, MAX_ELEMENT_DEPTH, XML_NS } from './constants.ts';
import { ConfigurationError } from './errors.ts';

/** A name resolved by namespace URI, never by its prefix ('' = no namespace). */
export interface ExpandedName {
  readonly ns: string;
  readonly local: string;
}

export interface NsAttribute extends ExpandedName {
  /** The name as written, prefix included. */
  readonly qname: string;
  readonly value: string;
}

export interface NsElement extends ExpandedName {
  /** The name as written, prefix included. */
  readonly qname: string;
  readonly attributes: readonly NsAttribute[];
  /** Prefix bindings declared on this element ('' = the default namespace). */
  readonly declarations: ReadonlyMap<string, string>;
  /** Prefix bindings in scope at this element, its own included. */
  readonly scope: ReadonlyMap<string, string>;
  readonly children: readonly NsElement[];
  /** Character data of the direct children, CDATA and references resolved. */
  readonly text: string;
  /** Offsets (UTF-16 code units) of the first `<` and just past the last `>`, in `XmlSource.text`. */
  readonly start: number;
  readonly end: number;
}

export interface XmlSource {
  /** The document as text (a byte-order mark, if any, kept as U+FEFF). */
  readonly text: string;
  /** The bytes it was decoded from; undefined when the caller passed text. */
  readonly bytes: Uint8Array | undefined;
  readonly root: NsElement;
}

const BASE_SCOPE: ReadonlyMap<string, string> = new Map([['xml', XML_NS]]);
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * Parses a document. `defaults` are bindings assumed outside the root, e.g. the default
 * namespace of a ConfigUpdate kind-block (§6.5.4). Throws ConfigurationError only.
 */
export function readXml(input: string | Uint8Array, defaults?: ReadonlyMap<string, string>): XmlSource {
  const size = typeof input === 'string' ? input.length : input.byteLength;
  if (size > MAX_CONFIGURATION_DOCUMENT_BYTES) {
    throw new ConfigurationError('malformed_xml', '', `document of ${size} bytes exceeds the ${MAX_CONFIGURATION_DOCUMENT_BYTES}-byte limit`);
  }
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      text = decoder.decode(input);
    } catch (e) {
      // §11.1: "The file MUST use the UTF-8 character encoding."
      throw new ConfigurationError('malformed_xml', '', 'document is not valid UTF-8', { cause: e });
    }
  }
  let children: readonly XmlNode[];
  try {
    children = parseXml(text, { includeOffsets: true, preserveXmlDeclaration: true }).children;
  } catch (e) {
    // XmlError for ill-formed input; RangeError for nesting deeper than the parser's stack.
    const detail = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new ConfigurationError('malformed_xml', '', `not well-formed XML: ${detail}`, { cause: e });
  }
  let rootNode: XmlElement | undefined;
  for (const n of children) {
    if (n instanceof XmlDeclaration && n.encoding !== null && n.encoding.toLowerCase() !== 'utf-8') {
      throw new ConfigurationError('malformed_xml', '', `encoding ${n.encoding} declared; the document MUST be UTF-8 (§11.1)`);
    }
    if (n instanceof XmlElement) rootNode = n;
  }
  if (!rootNode) throw new ConfigurationError('malformed_xml', '', 'no root element');
  const scope = new Map(BASE_SCOPE);
  for (const [p, uri] of defaults ?? []) scope.set(p, uri);
  return { text, bytes: typeof input === 'string' ? undefined : input, root: resolve(rootNode, scope, 0) };
}

function splitName(qname: string): [prefix: string, local: string] {
  const i = qname.indexOf(':');
  return i < 0 ? ['', qname] : [qname.slice(0, i), qname.slice(i + 1)];
}

function resolve(el: XmlElement, outer: ReadonlyMap<string, string>, depth: number): NsElement {
  if (depth >= MAX_ELEMENT_DEPTH) throw new ConfigurationError('malformed_xml', el.name, `elements nested deeper than ${MAX_ELEMENT_DEPTH}`);
  const declarations = new Map<string, string>();
  for (const [name, value] of Object.entries(el.attributes)) {
    if (name === 'xmlns') declarations.set('', value);
    else if (name.startsWith('xmlns:')) {
      const prefix = name.slice(6);
      // Namespaces in XML 1.0 §3: prefixes cannot be undeclared, nor xml/xmlns rebound.
      if (value === '' || prefix === 'xmlns' || (prefix === 'xml') !== (value === XML_NS)) {
        throw new ConfigurationError('malformed_xml', el.name, `illegal namespace declaration ${name}="${value}"`);
      }
      declarations.set(prefix, value);
    }
  }
  const scope = declarations.size === 0 ? outer : new Map([...outer, ...declarations]);
  const lookup = (prefix: string, what: string): string => {
    const uri = scope.get(prefix);
    if (uri === undefined) {
      if (prefix === '') return '';
      throw new ConfigurationError('malformed_xml', el.name, `unbound namespace prefix ${prefix}: in ${what}`);
    }
    return uri;
  };
  const [prefix, local] = splitName(el.name);
  const ns = lookup(prefix, `element ${el.name}`);
  const attributes: NsAttribute[] = [];
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(el.attributes)) {
    if (name === 'xmlns' || name.startsWith('xmlns:')) continue;
    const [p, l] = splitName(name);
    // Unprefixed attributes are in no namespace, whatever the default namespace is.
    const attrNs = p === '' ? '' : lookup(p, `attribute ${name}`);
    const key = `${attrNs} ${l}`;
    if (seen.has(key)) throw new ConfigurationError('malformed_xml', el.name, `attribute ${l} appears twice`);
    seen.add(key);
    attributes.push({ ns: attrNs, local: l, qname: name, value });
  }
  const children: NsElement[] = [];
  let text = '';
  for (const c of el.children) {
    if (c instanceof XmlElement) children.push(resolve(c, scope, depth + 1));
    else if (c instanceof XmlText || c instanceof XmlCdata) text += c.text;
  }
  return { ns, local, qname: el.name, attributes, declarations, scope, children, text, start: el.start, end: el.end };
}

/** The value of the unqualified attribute `local`, or undefined. */
export function attributeValue(el: NsElement, local: string): string | undefined {
  return el.attributes.find((a) => a.ns === '' && a.local === local)?.value;
}

export function isElement(el: NsElement, ns: string, ...locals: string[]): boolean {
  return el.ns === ns && locals.includes(el.local);
}

/**
 * The exact bytes of `el` in the document: a subarray of the input bytes when the caller
 * passed bytes, else the UTF-8 encoding of that stretch of the text.
 */
export function elementBytes(src: XmlSource, el: NsElement): Uint8Array {
  const piece = src.text.slice(el.start, el.end);
  if (!src.bytes) return encoder.encode(piece);
  const from = Buffer.byteLength(src.text.slice(0, el.start), 'utf8');
  return src.bytes.subarray(from, from + Buffer.byteLength(piece, 'utf8'));
}

/** The exact text of `el` in the document. */
export function elementText(src: XmlSource, el: NsElement): string {
  return src.text.slice(el.start, el.end);
}

/**
 * Prefix bindings that the text of `el` relies on but does not declare itself: what a copy of
 * that text needs declared around it to mean the same elsewhere (`xml` excluded).
 */
export function inheritedBindings(el: NsElement): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (e: NsElement, declaredInside: ReadonlySet<string>): void => {
    const inside = e.declarations.size === 0 ? declaredInside : new Set([...declaredInside, ...e.declarations.keys()]);
    const used = [splitName(e.qname)[0], ...e.attributes.filter((a) => a.ns !== '').map((a) => splitName(a.qname)[0])];
    for (const p of used) {
      if (p === 'xml' || inside.has(p)) continue;
      out[p] = e.scope.get(p) ?? '';
    }
    for (const c of e.children) walk(c, inside);
  };
  walk(el, new Set());
  return sortedRecord(out);
}

function sortedRecord(r: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k];
  return out;
}

/** Character data with `&`, `<` and `>` escaped. */
export function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** An attribute value for double quotes; whitespace escaped so it survives normalization. */
export function escapeAttribute(s: string): string {
  return escapeText(s).replace(/"/g, '&quot;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}
