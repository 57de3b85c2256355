// SIP URIs, name-addr, Via and CSeq values (RFC 3261 §19.1, §20, §25.1).
// Every parser here throws SipParseError (status 400) for input it cannot read, and nothing else.
import {
  CHAR_CLASS, HNV, HOST, PARAM, PASSWORD, USER,
  allIn, hasScheme, isToken, isTokenChar, isWsp, skipWsp, trimWspEnd,
} from './chars.ts';
import { syntaxError as bad } from './errors.ts';
import { type Params, formatHeaderParams, quotedEnd, readHeaderParams, unquote } from './params.ts';

export type { Params } from './params.ts';

export interface SipUri {
  /** `sip`, `sips` (lower case), or another scheme kept opaque in `host`. */
  scheme: string;
  /** Percent-decoded user part, if any. */
  user?: string;
  password?: string;
  /** Host name, IPv4 address, or IPv6 reference with its brackets. */
  host: string;
  port?: number;
  params: Params;
  /** URI headers after `?`, percent-decoded. */
  headers: Map<string, string>;
}

// ---- escaping (§19.1.2) ----

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Decodes `%HH` escapes as UTF-8 octets. A `%` not followed by two hex digits is an error. */
function unescape(text: string, from: number, to: number): string {
  const raw = text.slice(from, to);
  if (raw.indexOf('%') < 0) return raw;
  const bytes = Buffer.from(raw, 'utf8');
  let w = 0;
  for (let r = 0; r < bytes.length; r++, w++) {
    if (bytes[r] === 0x25) {
      const hi = r + 2 < bytes.length ? hexValue(bytes[r + 1]) : -1;
      const lo = hi >= 0 ? hexValue(bytes[r + 2]) : -1;
      if (lo < 0) throw bad('bad %-escape in URI', raw);
      bytes[w] = (hi << 4) | lo;
      r += 2;
    } else {
      bytes[w] = bytes[r];
    }
  }
  return bytes.toString('utf8', 0, w);
}

const HEX = '0123456789ABCDEF';

/** Escapes every character outside `allowed` (and every non-ASCII one) as `%HH` UTF-8 octets. */
function escape(text: string, allowed: number): string {
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c >= 128 || (CHAR_CLASS[c] & allowed) === 0) break;
    i++;
  }
  if (i === text.length) return text;
  let out = text.slice(0, i);
  for (const byte of Buffer.from(text.slice(i), 'utf8')) {
    out += byte < 128 && (CHAR_CLASS[byte] & allowed) !== 0
      ? String.fromCharCode(byte)
      : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

/**
 * Characters that can never appear unescaped in a URI component. Anything else is accepted
 * (deployed phones send `#` or `^` unescaped) and re-escaped by formatUri.
 */
function hasForbidden(text: string, from: number, to: number, alsoAt: boolean): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x22 || c === 0x3c || c === 0x3e || c === 0x5c || (alsoAt && c === 0x40)) return true;
  }
  return false;
}

// ---- SIP URI (§19.1.1) ----

/** Reads `host [":" port]` at `from`; IPv6 references keep their brackets (§25.1 IPv6reference). */
function readHostPort(text: string, from: number, to: number, stop: (c: number) => boolean): { host: string; port?: number; end: number } {
  let i = from;
  if (text.charCodeAt(i) === 0x5b) {
    const close = text.indexOf(']', i);
    if (close < 0 || close >= to || close === i + 1) throw bad('unterminated IPv6 reference', text);
    for (let k = i + 1; k < close; k++) {
      const c = text.charCodeAt(k);
      if (!(hexValue(c) >= 0 || c === 0x3a || c === 0x2e)) throw bad('bad IPv6 reference', text);
    }
    i = close + 1;
  } else {
    while (i < to && !stop(text.charCodeAt(i))) i++;
    if (!allIn(text, HOST, from, i)) throw bad('bad host', text);
  }
  const host = text.slice(from, i);
  if (i < to && text.charCodeAt(i) === 0x3a) {
    const start = ++i;
    while (i < to && !stop(text.charCodeAt(i))) i++;
    return { host, port: readPort(text, start, i), end: i };
  }
  return { host, end: i };
}

function readPort(text: string, from: number, to: number): number {
  if (to - from < 1 || to - from > 5) throw bad('bad port', text);
  let port = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) throw bad('bad port', text);
    port = port * 10 + d;
  }
  if (port > 65535) throw bad('port out of range', text);
  return port;
}

const isUriHostEnd = (c: number): boolean => c === 0x3a || c === 0x3b || c === 0x3f;
const isUriPortEnd = (c: number): boolean => c === 0x3b || c === 0x3f;

export function parseUri(text: string): SipUri {
  if (!hasScheme(text)) throw bad('URI without a scheme', text);
  const colon = text.indexOf(':');
  const scheme = text.slice(0, colon).toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips') {
    // tel:, urn:, http: … (§19.1.6, §20.10): kept opaque; whoever needs them parses them.
    return { scheme, host: text.slice(colon + 1), params: new Map(), headers: new Map() };
  }
  const end = text.length;
  const uri: SipUri = { scheme, host: '', params: new Map(), headers: new Map() };
  let i = colon + 1;
  // user and password cannot hold an unescaped "@" (§25.1), so the first one ends userinfo.
  const at = text.indexOf('@', i);
  if (at >= 0) {
    const pw = text.indexOf(':', i);
    const userEnd = pw >= 0 && pw < at ? pw : at;
    if (userEnd === i || hasForbidden(text, i, at, false)) throw bad('bad userinfo', text);
    uri.user = unescape(text, i, userEnd);
    if (userEnd < at) uri.password = unescape(text, userEnd + 1, at);
    i = at + 1;
  }
  if (i >= end) throw bad('URI without a host', text);
  const hp = readHostPort(text, i, end, isUriHostEnd);
  uri.host = hp.host;
  if (hp.port !== undefined) uri.port = hp.port;
  i = hp.end;
  if (i < end && !isUriPortEnd(text.charCodeAt(i))) throw bad('bad host', text);
  // uri-parameters = *( ";" uri-parameter )
  while (i < end && text.charCodeAt(i) === 0x3b) {
    const start = i + 1;
    i = start;
    while (i < end && !isUriPortEnd(text.charCodeAt(i))) i++;
    const eq = text.indexOf('=', start);
    const nameEnd = eq >= 0 && eq < i ? eq : i;
    if (nameEnd === start || hasForbidden(text, start, i, true)) throw bad('bad URI parameter', text);
    const name = unescape(text, start, nameEnd).toLowerCase();
    if (uri.params.has(name)) throw bad(`URI parameter ${name} appears twice`, text);
    uri.params.set(name, nameEnd < i ? unescape(text, nameEnd + 1, i) : null);
  }
  // headers = "?" header *( "&" header )
  if (i < end) {
    let start = i + 1;
    if (start >= end) throw bad('empty URI headers', text);
    while (start <= end) {
      let amp = text.indexOf('&', start);
      if (amp < 0) amp = end;
      const eq = text.indexOf('=', start);
      if (eq < 0 || eq >= amp || eq === start || hasForbidden(text, start, amp, true)) throw bad('bad URI header', text);
      uri.headers.set(unescape(text, start, eq), unescape(text, eq + 1, amp));
      start = amp + 1;
    }
  }
  return uri;
}

/** Re-escapes what needs escaping (§19.1.2). */
export function formatUri(uri: SipUri): string {
  if (uri.scheme !== 'sip' && uri.scheme !== 'sips') return `${uri.scheme}:${uri.host}`;
  let out = `${uri.scheme}:`;
  if (uri.user !== undefined) {
    out += escape(uri.user, USER);
    if (uri.password !== undefined) out += `:${escape(uri.password, PASSWORD)}`;
    out += '@';
  }
  out += uri.host;
  if (uri.port !== undefined) out += `:${uri.port}`;
  for (const [name, value] of uri.params) out += value === null ? `;${escape(name, PARAM)}` : `;${escape(name, PARAM)}=${escape(value, PARAM)}`;
  let sep = '?';
  for (const [name, value] of uri.headers) {
    out += `${sep}${escape(name, HNV)}=${escape(value, HNV)}`;
    sep = '&';
  }
  return out;
}

// ---- name-addr / addr-spec (§20.10, §20.20, §20.39, §25.1) ----

/** `"Alice" <sip:alice@x>;tag=1`, `<sip:x>`, or a bare addr-spec `sip:x;tag=1` (§20.10, §20.20). */
export interface NameAddr {
  displayName?: string;
  uri: string;
  params: Params;
}

export function parseNameAddr(text: string): NameAddr {
  const end = trimWspEnd(text, 0, text.length);
  let i = skipWsp(text, 0, end);
  let displayName: string | undefined;
  let uri: string;
  if (text.charCodeAt(i) === 0x22) {
    const close = quotedEnd(text, i, end);
    if (close < 0) throw bad('unterminated display name', text);
    displayName = unquote(text, i, close);
    i = skipWsp(text, close, end);
    if (text.charCodeAt(i) !== 0x3c) throw bad('expected "<" after the display name', text);
  }
  // A display name is tokens or a quoted-string, so a "<" before any ";" or '"' opens a name-addr.
  let lt = i;
  for (let c = text.charCodeAt(lt); lt < end && c !== 0x3c && c !== 0x3b && c !== 0x22; c = text.charCodeAt(++lt));
  if (lt < end && text.charCodeAt(lt) === 0x3c) {
    if (displayName === undefined && lt > i) {
      // display-name = *(token LWS): a bare run of words, no quotes.
      const words = text.slice(i, trimWspEnd(text, i, lt));
      for (let k = 0; k < words.length; k++) {
        const c = words.charCodeAt(k);
        if (c < 0x20 || c === 0x22 || c === 0x7f) throw bad('bad display name', text);
      }
      displayName = words;
    }
    const gt = text.indexOf('>', lt + 1);
    if (gt < 0 || gt >= end) throw bad('unterminated "<"', text);
    uri = text.slice(skipWsp(text, lt + 1, gt), trimWspEnd(text, lt + 1, gt));
    i = gt + 1;
  } else {
    // §20.10: in a bare addr-spec, parameters after the URI are header parameters.
    let semi = text.indexOf(';', i);
    if (semi < 0 || semi > end) semi = end;
    uri = text.slice(i, trimWspEnd(text, i, semi));
    i = semi;
  }
  if (!hasScheme(uri) || hasForbidden(uri, 0, uri.length, false)) throw bad('bad URI in name-addr', text);
  const params: Params = new Map();
  readHeaderParams(text, i, end, params);
  return displayName === undefined ? { uri, params } : { displayName, uri, params };
}

/** Always uses the `<…>` form, so URI parameters and header parameters cannot be confused. */
export function formatNameAddr(value: NameAddr): string {
  const name = value.displayName === undefined ? '' : `"${value.displayName.replace(/["\\]/g, '\\$&')}" `;
  return `${name}<${value.uri}>${formatHeaderParams(value.params)}`;
}

// ---- Via (§20.42) ----

export interface Via {
  /** e.g. `SIP/2.0`. */
  protocol: string;
  /** Upper case: `UDP`, `TCP`, `TLS`. */
  transport: string;
  host: string;
  port?: number;
  params: Params;
}

function readToken(text: string, from: number, to: number): number {
  let i = from;
  while (i < to && isTokenChar(text.charCodeAt(i))) i++;
  if (i === from) throw bad('expected a token', text);
  return i;
}

/** SLASH = SWS "/" SWS (§25.1). */
function readSlash(text: string, from: number, to: number): number {
  const i = skipWsp(text, from, to);
  if (text.charCodeAt(i) !== 0x2f) throw bad('expected "/" in sent-protocol', text);
  return skipWsp(text, i + 1, to);
}

const isViaHostEnd = (c: number): boolean => c === 0x3a || c === 0x3b || isWsp(c);
const isViaPortEnd = (c: number): boolean => c === 0x3b || isWsp(c);

/** `SIP/2.0/UDP host:port;branch=z9hG4bK…;received=…;rport` (§20.42, §18.2.1; RFC 3581). */
export function parseVia(text: string): Via {
  const end = trimWspEnd(text, 0, text.length);
  let i = skipWsp(text, 0, end);
  const nameStart = i;
  i = readToken(text, i, end);
  const name = text.slice(nameStart, i);
  const versionStart = readSlash(text, i, end);
  i = readToken(text, versionStart, end);
  const version = text.slice(versionStart, i);
  const transportStart = readSlash(text, i, end);
  i = readToken(text, transportStart, end);
  const transport = text.slice(transportStart, i).toUpperCase();
  // sent-protocol LWS sent-by
  if (i >= end || !isWsp(text.charCodeAt(i))) throw bad('expected whitespace before sent-by', text);
  i = skipWsp(text, i, end);
  const hostStart = i;
  if (text.charCodeAt(i) === 0x5b) {
    const close = text.indexOf(']', i);
    if (close < 0 || close >= end) throw bad('unterminated IPv6 reference', text);
    i = close + 1;
  } else {
    while (i < end && !isViaHostEnd(text.charCodeAt(i))) i++;
  }
  // COLON = SWS ":" SWS between host and port.
  const hp = readHostPort(text, hostStart, i, isViaHostEnd);
  const via: Via = { protocol: `${name}/${version}`, transport, host: hp.host, params: new Map() };
  i = skipWsp(text, i, end);
  if (i < end && text.charCodeAt(i) === 0x3a) {
    const portStart = skipWsp(text, i + 1, end);
    i = portStart;
    while (i < end && !isViaPortEnd(text.charCodeAt(i))) i++;
    via.port = readPort(text, portStart, i);
  }
  readHeaderParams(text, i, end, via.params);
  return via;
}

export function formatVia(via: Via): string {
  const port = via.port === undefined ? '' : `:${via.port}`;
  return `${via.protocol}/${via.transport} ${via.host}${port}${formatHeaderParams(via.params)}`;
}

// ---- CSeq (§20.16) ----

export interface CSeq {
  seq: number;
  method: string;
}

/** §20.16, §8.1.1.5: the number is a 32-bit unsigned integer below 2**31. */
export function parseCSeq(text: string): CSeq {
  const end = trimWspEnd(text, 0, text.length);
  let i = skipWsp(text, 0, end);
  const digitsStart = i;
  while (i < end && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
  // More than ten digits (after leading zeros) cannot be below 2**31.
  let first = digitsStart;
  while (first < i - 1 && text.charCodeAt(first) === 0x30) first++;
  if (i === digitsStart || i - first > 10) throw bad('bad CSeq number', text);
  const seq = Number(text.slice(first, i));
  // §8.1.1.5: the sequence number MUST be less than 2**31.
  if (seq >= 2 ** 31) throw bad('CSeq number out of range', text);
  if (i >= end || !isWsp(text.charCodeAt(i))) throw bad('expected whitespace before the CSeq method', text);
  const methodStart = skipWsp(text, i, end);
  if (!isToken(text.slice(methodStart, end))) throw bad('bad CSeq method', text);
  return { seq, method: text.slice(methodStart, end) };
}
