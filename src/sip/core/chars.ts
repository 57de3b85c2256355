// Character classes of the SIP grammar (RFC 3261 §25.1), as one lookup table of bit flags so
// the parsers test a character with one array read instead of a regular expression.

export const TOKEN = 1;
/** unreserved = alphanum / mark. */
export const UNRESERVED = 2;
/** user = 1*( unreserved / escaped / user-unreserved ). */
export const USER = 4;
/** password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," ). */
export const PASSWORD = 8;
/** paramchar = param-unreserved / unreserved / escaped. */
export const PARAM = 16;
/** hname / hvalue = hnv-unreserved / unreserved / escaped. */
export const HNV = 32;
/** hostname and IPv4address characters (plus "_", which deployed host names carry). */
export const HOST = 64;
/** scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1). */
export const SCHEME = 128;

export const CHAR_CLASS = new Uint8Array(128);

function mark(chars: string, flags: number): void {
  for (let i = 0; i < chars.length; i++) CHAR_CLASS[chars.charCodeAt(i)] |= flags;
}

const ALPHANUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
mark(ALPHANUM, TOKEN | UNRESERVED | USER | PASSWORD | PARAM | HNV | HOST | SCHEME);
mark("-_.!~*'()", UNRESERVED | USER | PASSWORD | PARAM | HNV);
mark("-.!%*_+`'~", TOKEN);
mark('&=+$,;?/', USER);
mark('&=+$,', PASSWORD);
mark('[]/:&+$', PARAM);
mark('[]/?:+$', HNV);
mark('-._', HOST);
mark('+-.', SCHEME);

export const SP = 0x20;
export const HTAB = 0x09;
export const CR = 0x0d;
export const LF = 0x0a;

export function isWsp(code: number): boolean {
  return code === SP || code === HTAB;
}

/** True when `text[from, to)` is a non-empty run of characters all in `cls`. */
export function allIn(text: string, cls: number, from = 0, to = text.length): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || (CHAR_CLASS[c] & cls) === 0) return false;
  }
  return true;
}

export function isTokenChar(code: number): boolean {
  return code < 128 && (CHAR_CLASS[code] & TOKEN) !== 0;
}

/** token (§25.1): the method, header names, parameter names. */
export function isToken(text: string): boolean {
  return allIn(text, TOKEN);
}

/** `scheme:` followed by at least one character: the shape every SIP and absolute URI has. */
export function hasScheme(text: string): boolean {
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) return false;
  const first = text.charCodeAt(0);
  if (!((first >= 0x41 && first <= 0x5a) || (first >= 0x61 && first <= 0x7a))) return false;
  return allIn(text, SCHEME, 0, colon);
}

/** Index of the first character at or after `from` that is not SP or HTAB. */
export function skipWsp(text: string, from: number, to = text.length): number {
  while (from < to && isWsp(text.charCodeAt(from))) from++;
  return from;
}

/** Index just past the last character before `to` that is not SP or HTAB. */
export function trimWspEnd(text: string, from: number, to: number): number {
  while (to > from && isWsp(text.charCodeAt(to - 1))) to--;
  return to;
}
