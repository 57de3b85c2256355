// Bytes of a stream transport (TCP, TLS) → whole SIP messages (RFC 3261 §7.5, §18.3;
// RFC 5626 §3.5.1 keepalives). Bytes are buffered only for an incomplete message, and never
// more than maxMessageBytes of them: the header section is searched as it arrives and the
// announced size is checked before the body is waited for.
import { CR, LF } from './chars.ts';
import { SipParseError } from './errors.ts';
import { type Limits, type SipHead, EMPTY_BODY, asBuffer, findBodyStart, headEndOf, headError, parseHead, resolveLimits } from './head.ts';
import { type SipMessage } from './message.ts';
import type { ParseLimits } from './parse.ts';

/** First allocation of the reassembly buffer; it doubles up to maxMessageBytes. */
const INITIAL_BUFFER_BYTES = 4096;
/** A reassembly buffer grown past this is released once its message is out. */
const KEPT_BUFFER_BYTES = 16_384;

const NEED_MORE = -1;
const FAILED = -2;

/**
 * Bytes of a stream transport → whole messages (§18.3: Content-Length is mandatory on a
 * stream). A CRLF keepalive (RFC 5626 §3.5.1, "\r\n\r\n") between messages is reported so
 * the transport can answer a single CRLF. After an error the stream cannot be resynchronised:
 * the caller closes the connection.
 */
export class SipStreamFramer {
  onMessage: (message: SipMessage) => void = () => {};
  onKeepalive: () => void = () => {};
  /** A fatal framing or parse error; no more messages come after it. */
  onError: (error: SipParseError) => void = () => {};

  private readonly max: Limits;
  /** Reassembly buffer: bytes [0, length) are the start of one incomplete message. */
  private pending: Buffer | undefined;
  private length = 0;
  private failure: SipParseError | undefined;
  /** Line breaks seen since the last message or keepalive (§7.5, RFC 5626 §3.5.1). */
  private lineBreaks = 0;
  // The message being framed; offsets are relative to its first byte.
  private inMessage = false;
  private scanned = 0;
  private head: SipHead | undefined;
  private bodyOffset = 0;
  private total = 0;
  /** A message framed by step(), handed to onMessage by emit(). */
  private ready: SipMessage | undefined;

  constructor(readonly limits: ParseLimits = {}) {
    this.max = resolveLimits(limits);
  }

  /** The error that stopped the framer, if any. */
  get error(): SipParseError | undefined {
    return this.failure;
  }

  /** Bytes held for an incomplete message; never more than maxMessageBytes. */
  get bufferedBytes(): number {
    return this.length;
  }

  push(chunk: Uint8Array): void {
    if (this.failure || chunk.length === 0) return;
    const data = asBuffer(chunk);
    let at = 0;
    if (this.length > 0) {
      at = this.fill(data);
      if (at < 0 || this.length > 0) return;
    }
    // Whole messages are framed straight from the chunk; only a trailing fragment is copied.
    while (at < data.length) {
      const next = this.step(data, at);
      if (next === FAILED) return;
      if (next === NEED_MORE) {
        this.append(data, at, data.length);
        return;
      }
      at = next;
      this.emit();
    }
  }

  /** Feeds the buffered message from `data` until it completes; returns how much of `data` it took, or FAILED. */
  private fill(data: Buffer): number {
    let at = 0;
    while (at < data.length) {
      // Take only what the message can still use: up to its announced end, or up to the limit
      // while the end of the header section is still unknown.
      const want = (this.head ? this.total : this.max.maxMessageBytes) - this.length;
      const take = Math.min(want, data.length - at);
      this.append(data, at, at + take);
      at += take;
      const next = this.step((this.pending as Buffer).subarray(0, this.length), 0);
      if (next === FAILED) return FAILED;
      if (next !== NEED_MORE) {
        // The message ended inside what was appended: the rest goes back to the chunk.
        at -= this.length - next;
        this.length = 0;
        if ((this.pending as Buffer).length > KEPT_BUFFER_BYTES) this.pending = undefined;
        this.emit();
        return at;
      }
    }
    return at;
  }

  /** Frames at `data[at]`: the offset after what was consumed, NEED_MORE or FAILED. */
  private step(data: Buffer, at: number): number {
    if (!this.inMessage) {
      // §7.5: CRLFs before a start line are ignored; two line breaks in a row with no message
      // between them are a keepalive ping (RFC 5626 §3.5.1). A bare LF counts as a line break.
      let i = at;
      for (; i < data.length; i++) {
        const b = data[i];
        if (b === LF) {
          if (++this.lineBreaks === 2) {
            this.lineBreaks = 0;
            this.onKeepalive();
          }
        } else if (b !== CR) break;
      }
      if (i > at) return i;
      this.inMessage = true;
      this.lineBreaks = 0;
      this.scanned = 0;
    }
    const available = data.length - at;
    if (this.head === undefined) {
      // A line feed in the last 3 scanned bytes may not have been decidable yet.
      const from = at + Math.max(0, this.scanned - 3);
      const bodyStart = findBodyStart(data, from, at + Math.min(available, this.max.maxMessageBytes));
      if (bodyStart < 0) {
        // Without its empty line in the first maxMessageBytes, the message cannot fit in them.
        if (available >= this.max.maxMessageBytes) return this.fail(new SipParseError(`header section longer than ${this.max.maxMessageBytes} bytes`, 413));
        this.scanned = available;
        return NEED_MORE;
      }
      let head: SipHead;
      try {
        head = parseHead(data, at, headEndOf(data, bodyStart), this.max);
      } catch (e) {
        if (e instanceof SipParseError) return this.fail(e);
        throw e;
      }
      // §18.3: "The Content-Length header field MUST be used with stream oriented transports."
      if (head.contentLength === undefined) return this.fail(headError(head, 'missing Content-Length on a stream', 400));
      const total = bodyStart - at + head.contentLength;
      if (total > this.max.maxMessageBytes) return this.fail(headError(head, `message longer than ${this.max.maxMessageBytes} bytes`, 413));
      this.head = head;
      this.bodyOffset = bodyStart - at;
      this.total = total;
    }
    if (available < this.total) return NEED_MORE;
    const message = this.head.message;
    // Copied: the chunk or the reassembly buffer is reused for what follows.
    message.body = this.total === this.bodyOffset ? EMPTY_BODY : new Uint8Array(data.subarray(at + this.bodyOffset, at + this.total));
    this.head = undefined;
    this.inMessage = false;
    this.ready = message;
    return at + this.total;
  }

  /** Hands out a framed message once the framer's own state is settled, so a throwing handler cannot corrupt it. */
  private emit(): void {
    const message = this.ready;
    if (message === undefined) return;
    this.ready = undefined;
    this.onMessage(message);
  }

  /** Appends `data[from, to)` to the reassembly buffer, growing it by doubling. */
  private append(data: Buffer, from: number, to: number): void {
    const need = this.length + (to - from);
    if (this.pending === undefined || this.pending.length < need) {
      const doubled = Math.max(2 * (this.pending?.length ?? 0), INITIAL_BUFFER_BYTES);
      const grown = Buffer.allocUnsafe(Math.max(need, Math.min(doubled, this.max.maxMessageBytes)));
      if (this.pending !== undefined) this.pending.copy(grown, 0, 0, this.length);
      this.pending = grown;
    }
    data.copy(this.pending, this.length, from, to);
    this.length = need;
  }

  private fail(error: SipParseError): number {
    this.failure = error;
    this.pending = undefined;
    this.length = 0;
    this.head = undefined;
    this.onError(error);
    return FAILED;
  }
}
