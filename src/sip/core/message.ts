// SIP messages (RFC 3261 §7): a request or a response, ordered headers and a body.
// Parsing lives in parse.ts, serialising in serialize.ts; this file is the shape both share.

/** Compact header forms (RFC 3261 §7.3.3, §20; RFC 3515 o/r, RFC 3841 u). */
export const COMPACT_FORMS: Readonly<Record<string, string>> = {
  i: 'Call-ID', m: 'Contact', e: 'Content-Encoding', l: 'Content-Length', c: 'Content-Type',
  f: 'From', s: 'Subject', k: 'Supported', t: 'To', v: 'Via', o: 'Event', r: 'Refer-To',
  u: 'Allow-Events', b: 'Referred-By', x: 'Session-Expires', y: 'Identity', a: 'Accept-Contact', j: 'Reject-Contact',
  d: 'Request-Disposition',
};

const CANONICAL = new Map<string, string>();
for (const name of [
  'Accept', 'Accept-Encoding', 'Accept-Language', 'Alert-Info', 'Allow', 'Authentication-Info', 'Authorization',
  'Call-ID', 'Call-Info', 'Contact', 'Content-Disposition', 'Content-Encoding', 'Content-Language', 'Content-Length',
  'Content-Type', 'CSeq', 'Date', 'Error-Info', 'Expires', 'From', 'In-Reply-To', 'Max-Forwards', 'MIME-Version',
  'Min-Expires', 'Organization', 'Priority', 'Proxy-Authenticate', 'Proxy-Authorization', 'Proxy-Require',
  'Record-Route', 'Reply-To', 'Require', 'Retry-After', 'Route', 'Server', 'Subject', 'Supported', 'Timestamp', 'To',
  'Unsupported', 'User-Agent', 'Via', 'Warning', 'WWW-Authenticate', 'Event', 'Allow-Events', 'Refer-To', 'Session-Expires',
]) CANONICAL.set(name.toLowerCase(), name);

/** Names as they usually arrive (RFC spelling, compact letters): answered with one lookup. */
const EXACT = new Map<string, string>();
for (const name of CANONICAL.values()) EXACT.set(name, name);
for (const [letter, name] of Object.entries(COMPACT_FORMS)) {
  EXACT.set(letter, name);
  EXACT.set(letter.toUpperCase(), name);
}

/**
 * Header names compare case-insensitively (§7.3.1) and compact forms equal their long form
 * (§7.3.3). Known names come back in their RFC spelling; unknown ones as received.
 */
export function canonicalHeaderName(name: string): string {
  const exact = EXACT.get(name);
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  const long = name.length === 1 ? COMPACT_FORMS[lower] : undefined;
  if (long) return long;
  return CANONICAL.get(lower) ?? name;
}

/**
 * Headers whose values may not be split at commas (§7.3.1): their grammar allows commas
 * inside a single value (dates, auth challenges).
 */
const NOT_COMMA_LISTS = new Set([
  'www-authenticate', 'authorization', 'proxy-authenticate', 'proxy-authorization', 'date', 'authentication-info',
  'retry-after', 'subject', 'user-agent', 'server', 'organization', 'call-id', 'cseq', 'from', 'to', 'content-length',
  'content-type', 'max-forwards', 'expires', 'min-expires', 'timestamp', 'mime-version', 'priority', 'reply-to',
  'content-disposition', 'refer-to', 'referred-by', 'event', 'session-expires', 'identity',
]);

export function isCommaList(name: string): boolean {
  return !NOT_COMMA_LISTS.has(canonicalHeaderName(name).toLowerCase());
}

/**
 * Ordered header fields. Names are stored canonical (long form, RFC spelling); lookups accept
 * any case or the compact form. A field line holding comma-joined values is split into one
 * entry per value on parse where the header is a list (§7.3.1), so `all('Via')` is every hop.
 */
export class SipHeaders {
  private readonly fields: { name: string; value: string }[] = [];

  constructor(fields: Iterable<readonly [string, string]> = []) {
    for (const [n, v] of fields) this.add(n, v);
  }

  /** The first value of `name`, or undefined. */
  get(name: string): string | undefined {
    const key = canonicalHeaderName(name).toLowerCase();
    for (const f of this.fields) if (f.name.toLowerCase() === key) return f.value;
    return undefined;
  }

  /** Every value of `name`, in order. */
  all(name: string): string[] {
    const key = canonicalHeaderName(name).toLowerCase();
    const out: string[] = [];
    for (const f of this.fields) if (f.name.toLowerCase() === key) out.push(f.value);
    return out;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Appends a value after any existing ones. */
  add(name: string, value: string): this {
    this.fields.push({ name: canonicalHeaderName(name), value });
    return this;
  }

  /** Inserts a value before any existing ones of that name (a Via or Record-Route hop). */
  prepend(name: string, value: string): this {
    const canonical = canonicalHeaderName(name);
    const key = canonical.toLowerCase();
    const at = this.fields.findIndex((f) => f.name.toLowerCase() === key);
    this.fields.splice(at < 0 ? this.fields.length : at, 0, { name: canonical, value });
    return this;
  }

  /** Replaces the first value of `name` (the top Via), leaving the others. */
  setFirst(name: string, value: string): this {
    const key = canonicalHeaderName(name).toLowerCase();
    const f = this.fields.find((x) => x.name.toLowerCase() === key);
    if (f) f.value = value;
    else this.add(name, value);
    return this;
  }

  /** Replaces every value of `name` with one, at the place of the first. */
  set(name: string, value: string): this {
    const canonical = canonicalHeaderName(name);
    const key = canonical.toLowerCase();
    const at = this.fields.findIndex((f) => f.name.toLowerCase() === key);
    this.delete(name);
    this.fields.splice(at < 0 ? this.fields.length : at, 0, { name: canonical, value });
    return this;
  }

  delete(name: string): this {
    const key = canonicalHeaderName(name).toLowerCase();
    for (let i = this.fields.length - 1; i >= 0; i--) if (this.fields[i].name.toLowerCase() === key) this.fields.splice(i, 1);
    return this;
  }

  /** Removes the first value of `name` (the top Via, a consumed Route). */
  shift(name: string): string | undefined {
    const key = canonicalHeaderName(name).toLowerCase();
    const at = this.fields.findIndex((f) => f.name.toLowerCase() === key);
    if (at < 0) return undefined;
    return this.fields.splice(at, 1)[0].value;
  }

  entries(): IterableIterator<{ name: string; value: string }> {
    return this.fields[Symbol.iterator]();
  }

  get size(): number {
    return this.fields.length;
  }

  clone(): SipHeaders {
    const copy = new SipHeaders();
    for (const f of this.fields) copy.fields.push({ ...f });
    return copy;
  }
}

export interface SipRequest {
  readonly type: 'request';
  /** Case-sensitive (§7.1): `INVITE`, `BYE`, or an extension method as received. */
  method: string;
  /** Request-URI as it appeared on the start line. */
  uri: string;
  headers: SipHeaders;
  body: Uint8Array;
}

export interface SipResponse {
  readonly type: 'response';
  status: number;
  reason: string;
  headers: SipHeaders;
  body: Uint8Array;
}

export type SipMessage = SipRequest | SipResponse;

/** Methods this core knows; others are parsed, kept, and answered 405 or 501 by the UA. */
export type SipMethod = 'INVITE' | 'ACK' | 'BYE' | 'CANCEL' | 'OPTIONS' | 'INFO' | 'REGISTER';

export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted',
  301: 'Moved Permanently', 302: 'Moved Temporarily',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 408: 'Request Timeout', 410: 'Gone', 413: 'Request Entity Too Large', 415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme', 420: 'Bad Extension', 480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected', 483: 'Too Many Hops', 486: 'Busy Here',
  487: 'Request Terminated', 488: 'Not Acceptable Here', 491: 'Request Pending',
  500: 'Server Internal Error', 501: 'Not Implemented', 503: 'Service Unavailable', 504: 'Server Time-out',
  505: 'Version Not Supported', 513: 'Message Too Large',
  600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
};
