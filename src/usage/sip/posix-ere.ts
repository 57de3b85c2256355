// POSIX Extended Regular Expressions (IEEE Std 1003.1, XBD §9.4) as JavaScript RegExps, for
// the domain patterns of RFC 7904 §3.4. The two dialects differ where it matters: `\d`,
// `(?…)` and lazy `*?` mean something in JavaScript and nothing in an ERE; a backslash is
// literal inside an ERE bracket expression; ERE has `[:alpha:]` classes. So a pattern is
// translated token by token, every literal escaped, and what POSIX leaves undefined refused.
// Anchored matching gives the same verdict under leftmost-longest and backtracking engines:
// both ask only whether some parse covers the whole string.

export class PatternError extends Error {
  override readonly name = 'PatternError';
  constructor(readonly pattern: string, readonly at: number, detail: string) {
    super(`POSIX ERE ${JSON.stringify(pattern)} at ${at}: ${detail}`);
  }
}

export interface EreOptions {
  /** Match letters case-insensitively (REG_ICASE); default false. */
  ignoreCase?: boolean;
}

/** A RegExp that matches a string exactly when the ERE `pattern` matches all of it. */
export function wholeStringEre(pattern: string, options: EreOptions = {}): RegExp {
  return new RegExp(`^(?:${translateEre(pattern)})$`, options.ignoreCase ? 'i' : '');
}

// XBD §9.3.5: the character classes of the POSIX locale.
const CLASSES: Record<string, string> = {
  alpha: 'A-Za-z', digit: '0-9', alnum: 'A-Za-z0-9', upper: 'A-Z', lower: 'a-z', xdigit: '0-9A-Fa-f',
  space: ' \\t\\n\\r\\f\\v', blank: ' \\t', punct: '\\x21-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7e',
  cntrl: '\\x00-\\x1f\\x7f', print: '\\x20-\\x7e', graph: '\\x21-\\x7e',
};
/** Characters a backslash makes literal in an ERE (XBD §9.4.2); after any other it is undefined. */
const ESCAPABLE = '^.[$()|*+?{\\}]';
/** RE_DUP_MAX's least value (XBD limits.h): larger bounds are not portable. */
const DUP_MAX = 255;

/** The ERE as the body of a JavaScript pattern (no anchors, no flags). Throws a PatternError. */
export function translateEre(pattern: string): string {
  const fail = (at: number, detail: string): never => {
    throw new PatternError(pattern, at, detail);
  };
  // RFC 7904 §3.4: domains use RFC 3261's restricted ASCII set, and so do their patterns.
  const nonAscii = /[^\x20-\x7e]/.exec(pattern);
  if (nonAscii) fail(nonAscii.index, 'only printable ASCII is allowed');
  let out = '';
  let depth = 0;
  /** Whether the last token may take a quantifier (XBD §9.4.6 leaves the rest undefined). */
  let repeatable = false;
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i];
    switch (ch) {
      case '\\': {
        const next = pattern[i + 1];
        if (next === undefined) fail(i, 'trailing backslash');
        if (!ESCAPABLE.includes(next)) fail(i, `\\${next} is undefined in an ERE`);
        out += literal(next);
        i += 2;
        repeatable = true;
        break;
      }
      case '[': {
        const [set, end] = bracket(pattern, i, fail);
        out += set;
        i = end;
        repeatable = true;
        break;
      }
      case '(':
        if (pattern[i + 1] === '*' || pattern[i + 1] === '+' || pattern[i + 1] === '?' || pattern[i + 1] === '{') fail(i + 1, 'quantifier at the start of a group');
        out += '(?:';
        depth++;
        i++;
        repeatable = false;
        break;
      case ')':
        if (depth === 0) fail(i, 'unmatched )');
        out += ')';
        depth--;
        i++;
        repeatable = true;
        break;
      case '|':
        out += '|';
        i++;
        repeatable = false;
        break;
      case '*':
      case '+':
      case '?':
        if (!repeatable) fail(i, `${ch} with nothing to repeat`);
        out += ch;
        i++;
        repeatable = false;
        break;
      case '{': {
        const m = /^\{(\d{1,3})(?:(,)(\d{1,3})?)?\}/.exec(pattern.slice(i));
        if (!m) fail(i, 'malformed interval');
        const min = Number(m![1]);
        const max = m![3] === undefined ? undefined : Number(m![3]);
        if (!repeatable) fail(i, 'interval with nothing to repeat');
        if (min > DUP_MAX || (max !== undefined && (max > DUP_MAX || max < min))) fail(i, `interval ${m![0]}`);
        out += m![0];
        i += m![0].length;
        repeatable = false;
        break;
      }
      case '^':
      case '$':
        out += ch;
        i++;
        repeatable = false;
        break;
      case '.':
        out += '.';
        i++;
        repeatable = true;
        break;
      default:
        out += literal(ch);
        i++;
        repeatable = true;
    }
  }
  if (depth !== 0) fail(pattern.length, 'unclosed (');
  return out;
}

function literal(ch: string): string {
  return /[A-Za-z0-9]/.test(ch) ? ch : `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/** One bracket expression starting at `start` (`[`): the JavaScript class and where it ends. */
function bracket(p: string, start: number, fail: (at: number, detail: string) => never): [string, number] {
  let j = start + 1;
  let negate = false;
  if (p[j] === '^') {
    negate = true;
    j++;
  }
  const items: string[] = [];
  // One endpoint: a character, or one named by [=c=] or [.c.]; a class when `allowClass`.
  const endpoint = (allowClass: boolean): { ch: string } | { cls: string } => {
    if (p[j] === '[' && (p[j + 1] === ':' || p[j + 1] === '=' || p[j + 1] === '.')) {
      const kind = p[j + 1];
      const close = p.indexOf(`${kind}]`, j + 2);
      if (close < 0) fail(j, `unterminated [${kind}`);
      const name = p.slice(j + 2, close);
      const at = j;
      j = close + 2;
      if (kind === ':') {
        if (!allowClass) fail(at, 'a character class cannot end a range');
        const cls = CLASSES[name];
        if (cls === undefined) fail(at, `unknown character class [:${name}:]`);
        return { cls };
      }
      // In the POSIX locale every collating element and equivalence class is one character.
      if (name.length !== 1) fail(at, `collating element [${kind}${name}${kind}]`);
      return { ch: name };
    }
    return { ch: p[j++] };
  };
  for (let first = true; ; first = false) {
    if (j >= p.length) fail(start, 'unterminated bracket expression');
    // XBD §9.3.5: `]` first (after any `^`) is literal; anywhere else it closes.
    if (p[j] === ']' && !first) return [`[${negate ? '^' : ''}${items.join('')}]`, j + 1];
    const lo = endpoint(true);
    if ('cls' in lo) {
      items.push(lo.cls);
      continue;
    }
    // `-` is a range unless it is last before `]`.
    if (p[j] === '-' && j + 1 < p.length && p[j + 1] !== ']') {
      j++;
      const hi = endpoint(false);
      if (!('ch' in hi)) return fail(j, 'bad range');
      if (hi.ch.charCodeAt(0) < lo.ch.charCodeAt(0)) fail(j, `range ${lo.ch}-${hi.ch} is backwards`);
      items.push(`${literal(lo.ch)}-${literal(hi.ch)}`);
    } else {
      items.push(literal(lo.ch));
    }
  }
}
