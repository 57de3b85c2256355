// The start line and header section of a SIP message (RFC 3261 §7.1–§7.3, §25), shared by the
// datagram parser and the stream framer. The header bytes are decoded once as UTF-8 and
// walked with indexOf; body framing is left to the callers.
import { CR, LF, hasScheme, isToken, isTokenChar, isWsp, skipWsp, trimWspEnd } from './chars.ts';
import { SIP_MAX_HEADERS, SIP_MAX_HEADER_BYTES, SIP_MAX_MESSAGE_BYTES } from './constants.ts';
import { SipParseError, type PartialRequest } from './errors.ts';
import { SipHeaders, canonicalHeaderName, isCommaList, type SipMessage } from './message.ts';
import type { ParseLimits } from './parse.ts';
import { parseCSeq, parseNameAddr, parseUri, parseVia } from './uri.ts';

export interface Limits {
  maxMessageBytes: number;
  maxHeaderBytes: number;
  maxHeaders: number;
}

export function resolveLimits(limits: ParseLimits): Limits {
  return {
    maxMessageBytes: limits.maxMessageBytes ?? SIP_MAX_MESSAGE_BYTES,
    maxHeaderBytes: limits.maxHeaderBytes ?? SIP_MAX_HEADER_BYTES,
    maxHeaders: limits.maxHeaders ?? SIP_MAX_HEADERS,
  };
}

export const EMPTY_BODY = new Uint8Array(0);

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Index of the first byte at or after `from` that is not CR or LF (§7.5: CRLFs before a start line are ignored). */
export function skipLineBreaks(bytes: Uint8Array, from: number): number {
  while (from < bytes.length && (bytes[from] === CR || bytes[from] === LF)) from++;
  return from;
}

/**
 * The offset of the first body byte: just past the empty line that ends the header section,
 * looked for among line feeds in [from, to). A bare LF is accepted as a line end. -1 when the
 * empty line is not (yet) there; a caller scanning a growing buffer resumes 3 bytes before `to`.
 */
export function findBodyStart(bytes: Buffer, from: number, to: number): number {
  let i = bytes.indexOf(LF, from);
  while (i >= 0 && i < to) {
    const next = i + 1;
    if (next < to && bytes[next] === LF) return next + 1;
    if (next + 1 < to && bytes[next] === CR && bytes[next + 1] === LF) return next + 2;
    i = bytes.indexOf(LF, next);
  }
  return -1;
}

/** Offset of the line feed that ends the last header line, given the body start. */
export function headEndOf(bytes: Uint8Array, bodyStart: number): number {
  return bytes[bodyStart - 2] === CR ? bodyStart - 3 : bodyStart - 2;
}

/** A parsed start line and header section; the body is still EMPTY_BODY. */
export interface SipHead {
  message: SipMessage;
  /** The Content-Length value, or undefined when the header is absent. */
  contentLength: number | undefined;
  /** For requests: what the caller needs to answer with an error (§8.2.6.2). */
  partial: PartialRequest | undefined;
}

/** A failure after the headers were read: carries `partial` so a request can still be answered. */
export function headError(head: SipHead, message: string, status: number): SipParseError {
  return new SipParseError(message, status, head.partial);
}

interface StartLine {
  message: SipMessage;
  /**
   * A bad version or Request-URI in an otherwise well-formed request line: reported after the
   * headers are read, so the 505 or 400 can copy them.
   */
  deferred?: SipParseError;
}

const SIP_VERSION = 'SIP/2.0';

/** SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT, case-insensitive (§7.1, §25.1). */
function checkVersion(version: string): SipParseError | undefined {
  if (version === SIP_VERSION || (version.length === 7 && version.toUpperCase() === SIP_VERSION)) return undefined;
  const dot = version.indexOf('.');
  if (version.slice(0, 4).toUpperCase() === 'SIP/' && dot > 4 && isDigits(version.slice(4, dot)) && isDigits(version.slice(dot + 1))) {
    return new SipParseError(`SIP version ${version} not supported`, 505);
  }
  return new SipParseError('bad SIP version in start line', 400);
}

/** NUL or CR in `text[from, to)`: the two controls that can break a line apart downstream. */
function hasControlIn(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 0 || c === CR) return true;
  }
  return false;
}

/** Any control character but HTAB (reason phrase, Request-URI). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

function parseStartLine(line: string): StartLine {
  const sp1 = line.indexOf(' ');
  if (sp1 <= 0) throw new SipParseError('bad start line', 400);
  const first = line.slice(0, sp1);
  if (first.indexOf('/') >= 0) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (§7.2); the reason may be empty.
    const versionError = checkVersion(first);
    if (versionError) throw versionError;
    const codeEnd = sp1 + 4;
    if (line.length < codeEnd || (line.length > codeEnd && line.charCodeAt(codeEnd) !== 0x20)) {
      throw new SipParseError('bad status code', 400);
    }
    let status = 0;
    for (let i = sp1 + 1; i < codeEnd; i++) {
      const d = line.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) throw new SipParseError('bad status code', 400);
      status = status * 10 + d;
    }
    if (status < 100 || status > 699) throw new SipParseError(`status code ${status} out of range`, 400);
    const reason = line.slice(codeEnd + 1);
    if (hasControl(reason)) throw new SipParseError('control character in reason phrase', 400);
    return { message: { type: 'response', status, reason, headers: new SipHeaders(), body: EMPTY_BODY } };
  }
  // Request-Line = Method SP Request-URI SP SIP-Version (§7.1): exactly two single spaces.
  const sp2 = line.indexOf(' ', sp1 + 1);
  if (sp2 < 0 || sp2 === sp1 + 1 || sp2 === line.length - 1 || line.indexOf(' ', sp2 + 1) >= 0) {
    throw new SipParseError('bad request line', 400);
  }
  if (!isToken(first)) throw new SipParseError('bad method', 400);
  const uri = line.slice(sp1 + 1, sp2);
  // A version that is not SIP-Version at all means this is no SIP request, and nothing to answer.
  const versionError = checkVersion(line.slice(sp2 + 1));
  if (versionError && versionError.status !== 505) throw versionError;
  const message: SipMessage = { type: 'request', method: first, uri, headers: new SipHeaders(), body: EMPTY_BODY };
  return { message, deferred: versionError ?? checkRequestUri(uri) };
}

/** Request-URI = SIP-URI / SIPS-URI / absoluteURI (§25.1); other schemes are the UA's to refuse (416). */
function checkRequestUri(uri: string): SipParseError | undefined {
  if (!hasScheme(uri) || hasControl(uri)) return new SipParseError('bad Request-URI', 400);
  const scheme = uri.slice(0, 4).toLowerCase();
  if (scheme === 'sip:' || scheme === 'sips') {
    try {
      parseUri(uri);
    } catch (e) {
      if (e instanceof SipParseError) return new SipParseError(`bad Request-URI: ${e.message}`, 400);
      throw e;
    }
  }
  return undefined;
}

/** Header fields that must stay readable for an error response even past the field limit (§8.2.6.2). */
const ANSWER_FIELDS = new Set(['Via', 'From', 'To', 'Call-ID', 'CSeq']);

/**
 * Splits a list header value at commas outside quoted strings and `<…>` (§7.3.1), dropping
 * empty elements. The caller checks for a comma first; most values have none.
 */
function splitList(value: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let angle = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c) i++;
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x3c) angle = true;
    else if (c === 0x3e) angle = false;
    else if (c === 0x2c && !angle) {
      pushTrimmed(out, value, start, i);
      start = i + 1;
    }
  }
  pushTrimmed(out, value, start, value.length);
  return out;
}

function pushTrimmed(out: string[], value: string, from: number, to: number): void {
  const a = skipWsp(value, from, to);
  const b = trimWspEnd(value, a, to);
  if (b > a) out.push(value.slice(a, b));
}

/**
 * The header fields as they are read: the message's SipHeaders plus what the checks after the
 * section need. Errors in single lines are held (`deferred`) until the whole section is read,
 * so a request's error carries every field that did parse.
 */
class HeaderSection {
  deferred: SipParseError | undefined;
  readonly vias: string[] = [];
  readonly contentLengths: string[] = [];
  from: string | undefined;
  to: string | undefined;
  callId: string | undefined;
  cseq: string | undefined;
  maxForwards: string | undefined;
  /** Name of a single-valued field seen twice (§7.3.1), if any. */
  repeated: string | undefined;

  constructor(readonly headers: SipHeaders, readonly limits: Limits, readonly ascii: boolean) {}

  fail(reason: string, status = 400): void {
    this.deferred ??= new SipParseError(reason, status);
  }

  /** One unfolded field; `bytes` is its length on the wire with folds counted as one SP. */
  field(rawName: string, value: string, bytes: number): void {
    const limits = this.limits;
    if (!this.ascii && bytes <= limits.maxHeaderBytes && bytes * 3 > limits.maxHeaderBytes) {
      bytes = Buffer.byteLength(rawName) + 1 + Buffer.byteLength(value);
    }
    if (bytes > limits.maxHeaderBytes) {
      this.fail(`header field ${rawName} longer than ${limits.maxHeaderBytes} bytes`);
      return;
    }
    const name = canonicalHeaderName(rawName);
    if (value.indexOf(',') >= 0 && isCommaList(name)) {
      for (const element of splitList(value)) this.add(name, element);
    } else {
      this.add(name, value);
    }
  }

  private add(name: string, value: string): void {
    const headers = this.headers;
    if (headers.size >= this.limits.maxHeaders) {
      // §8.2.6.2 needs Via, From, To, Call-ID and CSeq to answer; those are kept within a second bound.
      this.fail(`more than ${this.limits.maxHeaders} header fields`, 413);
      if (!ANSWER_FIELDS.has(name) || headers.size >= 2 * this.limits.maxHeaders) return;
    }
    headers.add(name, value);
    switch (name) {
      case 'Via': this.vias.push(value); break;
      case 'Content-Length': this.contentLengths.push(value); break;
      case 'From': this.from = this.single(name, this.from, value); break;
      case 'To': this.to = this.single(name, this.to, value); break;
      case 'Call-ID': this.callId = this.single(name, this.callId, value); break;
      case 'CSeq': this.cseq = this.single(name, this.cseq, value); break;
      case 'Max-Forwards': this.maxForwards = this.single(name, this.maxForwards, value); break;
      default:
    }
  }

  private single(name: string, seen: string | undefined, value: string): string {
    if (seen !== undefined) this.repeated ??= name;
    return seen ?? value;
  }
}

/**
 * Parses `bytes[start, headEnd)`: the start line and every header line, then checks the
 * mandatory fields of §8.1.1 (Max-Forwards excepted: old clients omit it and a UA loses
 * nothing by tolerating that).
 */
export function parseHead(bytes: Buffer, start: number, headEnd: number, limits: Limits): SipHead {
  const text = bytes.toString('utf8', start, headEnd);
  const end = text.length;
  const hasNul = text.indexOf('\0') >= 0;

  let nl = text.indexOf('\n');
  if (nl < 0) nl = end;
  const startLine = text.slice(0, nl > 0 && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl);
  if (hasNul && startLine.indexOf('\0') >= 0) throw new SipParseError('NUL in start line', 400);
  const { message, deferred } = parseStartLine(startLine);
  // In a pure ASCII section every character is one byte, so character counts are byte counts.
  const section = new HeaderSection(message.headers, limits, end === headEnd - start);
  section.deferred = deferred;

  // A CR that does not end a line, or a NUL, is never valid and would let a later hop see other lines.
  let bareCr = false;
  for (let i = text.indexOf('\r'); i >= 0 && !bareCr; i = text.indexOf('\r', i + 1)) bareCr = i + 1 < end && text.charCodeAt(i + 1) !== LF;

  // The field being read: continuation lines may still follow.
  let fieldName: string | undefined;
  let fieldValue = '';
  let fieldBytes = 0;
  let pos = nl + 1;
  while (pos < end) {
    nl = text.indexOf('\n', pos);
    if (nl < 0) nl = end;
    const lineEnd = nl > pos && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
    const lineStart = pos;
    pos = nl + 1;
    if ((bareCr || hasNul) && hasControlIn(text, lineStart, lineEnd)) {
      if (fieldName !== undefined) section.field(fieldName, fieldValue, fieldBytes);
      fieldName = undefined;
      section.fail('control character in header line');
      continue;
    }
    if (isWsp(text.charCodeAt(lineStart))) {
      // §7.3.1: a continuation line; the line break and leading whitespace count as one SP.
      if (fieldName === undefined) {
        section.fail('continuation line without a header field');
        continue;
      }
      const a = skipWsp(text, lineStart, lineEnd);
      const b = trimWspEnd(text, a, lineEnd);
      fieldBytes += 1 + b - a;
      if (b > a && fieldBytes <= limits.maxHeaderBytes) fieldValue = fieldValue === '' ? text.slice(a, b) : `${fieldValue} ${text.slice(a, b)}`;
      continue;
    }
    if (fieldName !== undefined) section.field(fieldName, fieldValue, fieldBytes);
    fieldName = undefined;
    // header-name HCOLON, HCOLON = *( SP / HTAB ) ":" SWS (§25.1). Scanned within the line only,
    // so a section of lines without colons costs linear time.
    let nameEnd = lineStart;
    while (nameEnd < lineEnd && isTokenChar(text.charCodeAt(nameEnd))) nameEnd++;
    const colon = skipWsp(text, nameEnd, lineEnd);
    if (nameEnd === lineStart || colon >= lineEnd || text.charCodeAt(colon) !== 0x3a) {
      section.fail('bad header line');
      continue;
    }
    const valueStart = skipWsp(text, colon + 1, lineEnd);
    fieldName = text.slice(lineStart, nameEnd);
    fieldValue = text.slice(valueStart, trimWspEnd(text, valueStart, lineEnd));
    fieldBytes = lineEnd - lineStart;
  }
  if (fieldName !== undefined) section.field(fieldName, fieldValue, fieldBytes);
  return checkHead(message, section);
}

/** The checks that need the whole header section (§8.1.1, §8.2, §20.14, §20.16). */
function checkHead(message: SipMessage, section: HeaderSection): SipHead {
  const head: SipHead = {
    message,
    contentLength: undefined,
    partial: message.type === 'request' ? { method: message.method, uri: message.uri, headers: message.headers } : undefined,
  };
  if (section.deferred) throw headError(head, section.deferred.message, section.deferred.status);
  // §8.1.1: To, From, CSeq, Call-ID and at least one Via are mandatory.
  if (section.vias.length === 0) throw headError(head, 'missing Via header field', 400);
  if (section.from === undefined) throw headError(head, 'missing From header field', 400);
  if (section.to === undefined) throw headError(head, 'missing To header field', 400);
  if (section.callId === undefined) throw headError(head, 'missing Call-ID header field', 400);
  if (section.cseq === undefined) throw headError(head, 'missing CSeq header field', 400);
  if (section.repeated !== undefined) throw headError(head, `more than one ${section.repeated} header field`, 400);
  try {
    for (const via of section.vias) parseVia(via);
    parseNameAddr(section.from);
    parseNameAddr(section.to);
    const cseq = parseCSeq(section.cseq);
    // §8.1.1.5: "The method MUST match that of the request."
    if (message.type === 'request' && cseq.method !== message.method) {
      throw new SipParseError(`CSeq method ${cseq.method} does not match ${message.method}`, 400);
    }
  } catch (e) {
    if (e instanceof SipParseError) throw headError(head, e.message, 400);
    throw e;
  }
  // callid = word [ "@" word ] (§25.1): no whitespace.
  const callId = section.callId;
  if (callId === '' || callId.indexOf(' ') >= 0 || callId.indexOf('\t') >= 0) throw headError(head, 'bad Call-ID', 400);
  if (section.maxForwards !== undefined && !isDigits(section.maxForwards)) throw headError(head, 'bad Max-Forwards', 400);
  // §20.14: Content-Length is a non-negative decimal count of octets; repeats must agree.
  for (const value of section.contentLengths) {
    if (!isDigits(value)) throw headError(head, 'bad Content-Length', 400);
    const n = Number(value);
    if (head.contentLength !== undefined && head.contentLength !== n) throw headError(head, 'conflicting Content-Length header fields', 400);
    head.contentLength = n;
  }
  return head;
}

function isDigits(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x30 || text.charCodeAt(i) > 0x39) return false;
  return true;
}
