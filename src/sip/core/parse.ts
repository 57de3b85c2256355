// Parsing SIP messages (RFC 3261 §7, §25): datagrams and streams, with limits checked before
// buffering. Everything a peer sends either parses or throws SipParseError; nothing else.
//
// Status codes carried by SipParseError:
// - 400 for anything malformed, including a single header field longer than maxHeaderBytes
//   (that is a broken or hostile field, not a large message);
// - 413 when the message is too large: more than maxMessageBytes in all (or announced so by
//   Content-Length), a header section that does not end within maxMessageBytes, or more than
//   maxHeaders fields (§21.4.11; 513 of §21.5.7 would fit too, 413 is what peers act on);
// - 505 for a request whose SIP-Version is well formed but not 2.0 (§21.5.6).
import { SipParseError } from './errors.ts';
import { EMPTY_BODY, asBuffer, findBodyStart, headEndOf, headError, parseHead, resolveLimits, skipLineBreaks } from './head.ts';
import { type SipMessage } from './message.ts';

export { SipParseError, type PartialRequest } from './errors.ts';
export { SipStreamFramer } from './stream-framer.ts';

export interface ParseLimits {
  /** Largest whole message, start line to end of body. Default SIP_MAX_MESSAGE_BYTES. */
  maxMessageBytes?: number;
  /** Largest single header field after unfolding. Default SIP_MAX_HEADER_BYTES. */
  maxHeaderBytes?: number;
  /** Most header fields (after comma splitting). Default SIP_MAX_HEADERS. */
  maxHeaders?: number;
}

/** One datagram (§18.3: a body longer than Content-Length is truncated, shorter is an error). */
export function parseMessage(bytes: Uint8Array, limits: ParseLimits = {}): SipMessage {
  const lim = resolveLimits(limits);
  const buf = asBuffer(bytes);
  // §7.5 asks this of streams; a datagram gains nothing from being stricter.
  const start = skipLineBreaks(buf, 0);
  if (start === buf.length) throw new SipParseError('empty message', 400);
  const tooLarge = buf.length - start > lim.maxMessageBytes;
  const bodyStart = findBodyStart(buf, start, Math.min(buf.length, start + lim.maxMessageBytes));
  if (bodyStart < 0) {
    if (tooLarge) throw new SipParseError(`header section longer than ${lim.maxMessageBytes} bytes`, 413);
    throw new SipParseError('no empty line after the header fields', 400);
  }
  const head = parseHead(buf, start, headEndOf(buf, bodyStart), lim);
  if (tooLarge) throw headError(head, `message longer than ${lim.maxMessageBytes} bytes`, 413);
  const available = buf.length - bodyStart;
  let bodyLength = available;
  if (head.contentLength !== undefined) {
    // §18.3: "If the transport packet ends before the end of the message body, this is considered an error."
    if (head.contentLength > available) throw headError(head, `body shorter than Content-Length ${head.contentLength}`, 400);
    bodyLength = head.contentLength;
  }
  // Copied: the message outlives the datagram (transactions keep it for retransmission).
  head.message.body = bodyLength === 0 ? EMPTY_BODY : new Uint8Array(buf.subarray(bodyStart, bodyStart + bodyLength));
  return head.message;
}
