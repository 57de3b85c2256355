// Addresses of record as the SIP usage names resources (RFC 7904 §2, §7): `user@domain`
// without a scheme, so that it compares with the certificate's rfc822Name. A SIP URI becomes
// one by removing `sip:` (or `sips:`; the scheme is signalled by the Application-ID, §2),
// dropping its parameters and percent-decoding the user part (§7, RFC 3986 §2.1).
import { isIPv4, isIPv6 } from 'node:net';
import { type ResourceId, resourceId } from '../../codec/index.ts';

export type AorErrorReason =
  /** Not `user@domain`, nor a sip:/sips: URI of one. */
  | 'not_an_aor'
  /** A `%` escape that is not two hex digits, or escapes that are not UTF-8. */
  | 'bad_escape'
  /** The domain is not a host of RFC 3261 §19.1. */
  | 'bad_domain';

export class AorError extends Error {
  override readonly name = 'AorError';
  constructor(readonly reason: AorErrorReason, message: string) {
    super(`${reason}: ${message}`);
  }
}

/** An AOR and, when it was written as a URI, the URI parameters that came with it. */
export interface AorAddress {
  /** `user@domain`, the Resource Name (§7). */
  aor: string;
  user: string;
  domain: string;
  /** URI parameters by lower-case name, `null` for one without a value; empty for a bare AOR. */
  params: Map<string, string | null>;
}

const SCHEME = /^sips?:/i;
// RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved ).
const URI_USER = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
// RFC 3261 §25.1 hostname: labels of alphanumerics and inner hyphens, the last one starting
// with a letter, an optional final dot.
const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?$/;
const PARAM = /^[A-Za-z0-9\-_.!~*'()%[\]/:&+$]+$/;
const MAX_DOMAIN_LENGTH = 255;
/** Control characters and white space never belong to an AOR, escaped or not. */
const UNPRINTABLE = /[\u0000-\u0020\u007f-\u009f]/;

/** True for a host of RFC 3261 §19.1: a host name, an IPv4 address or a bracketed IPv6 reference. */
export function isSipHost(domain: string): boolean {
  if (domain.length === 0 || domain.length > MAX_DOMAIN_LENGTH) return false;
  if (domain.startsWith('[') && domain.endsWith(']')) return isIPv6(domain.slice(1, -1));
  return isIPv4(domain) || HOSTNAME.test(domain);
}

/**
 * True when `text` is an AOR as the usage stores it: `user@domain`, no scheme, the user part
 * already decoded (printable, without `@`), the domain a host of RFC 3261 §19.1.
 */
export function isAor(text: string): boolean {
  return aorProblem(text) === undefined;
}

function aorProblem(text: string): AorErrorReason | undefined {
  const at = text.lastIndexOf('@');
  if (at <= 0 || SCHEME.test(text)) return 'not_an_aor';
  const user = text.slice(0, at);
  if (user.includes('@') || UNPRINTABLE.test(user)) return 'not_an_aor';
  return isSipHost(text.slice(at + 1)) ? undefined : 'bad_domain';
}

/**
 * Reads an AOR written either as the usage's `user@domain` or as a sip:/sips: URI
 * (`sip:alice@example.com;transport=tls`). Throws an AorError. URI headers (`?…`), passwords
 * and ports have no place in an AOR and are refused.
 */
export function parseAorAddress(text: string): AorAddress {
  if (!SCHEME.test(text)) {
    const problem = aorProblem(text);
    if (problem) throw new AorError(problem, `not user@domain: ${show(text)}`);
    const at = text.lastIndexOf('@');
    return { aor: text, user: text.slice(0, at), domain: text.slice(at + 1), params: new Map() };
  }
  const rest = text.slice(text.indexOf(':') + 1);
  // RFC 3261 §25.1: the user part cannot hold a raw `@`, so the first one ends it.
  const at = rest.indexOf('@');
  if (at <= 0) throw new AorError('not_an_aor', `no user part: ${show(text)}`);
  const rawUser = rest.slice(0, at);
  if (!URI_USER.test(rawUser)) throw new AorError('not_an_aor', `user part ${show(rawUser)} is not RFC 3261 user syntax`);
  const hostAndParams = rest.slice(at + 1);
  if (hostAndParams.includes('?')) throw new AorError('not_an_aor', `URI headers in an AOR: ${show(text)}`);
  const [domain, ...paramTexts] = hostAndParams.split(';');
  if (!isSipHost(domain)) throw new AorError('bad_domain', `${show(domain)} is not a host (RFC 3261 §19.1)`);
  const params = new Map<string, string | null>();
  for (const p of paramTexts) {
    const eq = p.indexOf('=');
    const name = (eq < 0 ? p : p.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? null : p.slice(eq + 1);
    if (!PARAM.test(name) || (value !== null && !PARAM.test(value)) || params.has(name)) {
      throw new AorError('not_an_aor', `URI parameter ${show(p)}`);
    }
    params.set(name, value);
  }
  let user: string;
  try {
    user = decodeURIComponent(rawUser);
  } catch {
    throw new AorError('bad_escape', `user part ${show(rawUser)}`);
  }
  const aor = `${user}@${domain}`;
  if (!isAor(aor)) throw new AorError('not_an_aor', `decoded AOR ${show(aor)} is not user@domain`);
  return { aor, user, domain, params };
}

/** The AOR of `text` (a bare AOR or a sip:/sips: URI) as the usage stores it: `user@domain`. */
export function aorOf(text: string): string {
  return parseAorAddress(text).aor;
}

/** The domain of an AOR: what the overlay's domain restriction judges (RFC 7904 §3.4). */
export function aorDomain(aor: string): string {
  return parseAorAddress(aor).domain;
}

/** The Resource-ID the registrations of `aor` are stored at (RFC 7904 §7). */
export function aorResourceId(aor: string): ResourceId {
  return resourceId(aorOf(aor));
}

function show(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}
