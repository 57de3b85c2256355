// Header parameters and quoted strings (RFC 3261 §7.3.1, §25.1 generic-param, quoted-string),
// shared by name-addr (§20.10) and Via (§20.42).
import { isTokenChar, skipWsp } from './chars.ts';
import { syntaxError as bad } from './errors.ts';

/**
 * `null` for a parameter without a value (`;lr`). Parameter names compare case-insensitively and
 * are stored lower case. URI parameter values are percent-decoded; header parameter values
 * (name-addr, Via) are kept as received, a quoted-string with its quotes and escapes.
 */
export type Params = Map<string, string | null>;

/** Index just past the closing quote of the quoted-string opening at `from`, or -1. */
export function quotedEnd(text: string, from: number, to: number): number {
  for (let i = from + 1; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i + 1;
  }
  return -1;
}

/** The content of a quoted-string with its quoted-pairs resolved. */
export function unquote(text: string, from: number, to: number): string {
  const inner = text.slice(from + 1, to - 1);
  return inner.indexOf('\\') < 0 ? inner : inner.replace(/\\([\s\S])/g, '$1');
}

/** gen-value = token / host / quoted-string; host adds ":" "[" "]" for IPv6 (received=, maddr=). */
function isGenValueChar(c: number): boolean {
  return isTokenChar(c) || c === 0x3a || c === 0x5b || c === 0x5d;
}

/** `*( SEMI generic-param )` from `from` to `to` into `params`. */
export function readHeaderParams(text: string, from: number, to: number, params: Params): void {
  let i = skipWsp(text, from, to);
  while (i < to) {
    if (text.charCodeAt(i) !== 0x3b) throw bad('expected ";" before a parameter', text);
    i = skipWsp(text, i + 1, to);
    const nameStart = i;
    while (i < to && isTokenChar(text.charCodeAt(i))) i++;
    if (i === nameStart) throw bad('empty parameter name', text);
    const name = text.slice(nameStart, i).toLowerCase();
    i = skipWsp(text, i, to);
    let value: string | null = null;
    if (i < to && text.charCodeAt(i) === 0x3d) {
      i = skipWsp(text, i + 1, to);
      const valueStart = i;
      if (i < to && text.charCodeAt(i) === 0x22) {
        i = quotedEnd(text, i, to);
        if (i < 0) throw bad('unterminated quoted parameter value', text);
      } else {
        while (i < to && isGenValueChar(text.charCodeAt(i))) i++;
        if (i === valueStart) throw bad(`empty value of parameter ${name}`, text);
      }
      value = text.slice(valueStart, i);
      i = skipWsp(text, i, to);
    }
    // §7.3.1: a parameter name MUST NOT appear more than once.
    if (params.has(name)) throw bad(`parameter ${name} appears twice`, text);
    params.set(name, value);
  }
}

export function formatHeaderParams(params: Params): string {
  let out = '';
  for (const [name, value] of params) out += value === null ? `;${name}` : `;${name}=${value}`;
  return out;
}
