// A whole RELOAD message (RFC 6940 §6.3): ForwardingHeader ‖ MessageContents ‖ SecurityBlock.
import { type Codec, Cursor, NeedMoreBytes, writeBytes } from './cursor.ts';
import {
  type ForwardingHeader, type HeaderLimits, decodeForwardingHeader, encodeForwardingHeader, forwardingHeaderLength, isFragment,
} from './forwarding-header.ts';
import { MessageContents } from './message-contents.ts';
import { SecurityBlock } from './security-block.ts';

export interface Message {
  header: ForwardingHeader;
  contents: MessageContents;
  security: SecurityBlock;
}

export interface DecodedMessage extends Message {
  /** MessageContents exactly as received: what the signature covers (§6.3.4). */
  contentsBytes: Uint8Array;
}

/** Encodes `m`, computing the header's `length`; `m.header.length` is ignored. */
export function encodeMessage(m: Message): Uint8Array {
  return assemble(m.header, MessageContents.encodingLength(m.contents), (c) => MessageContents.encode(m.contents, c), m.security);
}

/** Encodes a message whose contents were already encoded (and signed) as bytes. */
export function encodeMessageWithContents(header: ForwardingHeader, contents: Uint8Array, security: SecurityBlock): Uint8Array {
  return assemble(header, contents.length, (c) => writeBytes(c, contents), security);
}

function assemble(header: ForwardingHeader, contentsLength: number, writeContents: (c: Cursor) => void, security: SecurityBlock): Uint8Array {
  const length = forwardingHeaderLength(header) + contentsLength + SecurityBlock.encodingLength(security);
  const c = Cursor.alloc(length);
  encodeForwardingHeader({ ...header, length }, c);
  writeContents(c);
  SecurityBlock.encode(security, c);
  return c.bytes;
}

/**
 * Reads the forwarding header of a message or fragment and checks its `length` against the
 * bytes given: fewer is "need more bytes", more is trailing garbage.
 */
export function decodeHeaderOf(bytes: Uint8Array, limits: HeaderLimits = {}): { header: ForwardingHeader; cursor: Cursor } {
  const c = new Cursor(bytes);
  const header = decodeForwardingHeader(c, limits);
  if (bytes.length < header.length) throw new NeedMoreBytes('forwarding_header.length', header.length - bytes.length);
  if (bytes.length > header.length) c.invalid('message', 'trailing_bytes', `${bytes.length - header.length} bytes after the message's length`);
  return { header, cursor: c };
}

/** Decodes one whole, unfragmented message; fragments must be reassembled first (§6.7). */
export function decodeMessage(bytes: Uint8Array, limits: HeaderLimits = {}): DecodedMessage {
  const { header, cursor: c } = decodeHeaderOf(bytes, limits);
  if (isFragment(header)) c.invalid('forwarding_header.fragment', 'bad_value', 'a fragment: reassemble before decoding');
  // Everything below lives inside the length the header announced.
  c.nested++;
  const start = c.pos;
  c.path.push('message_contents');
  const contents = MessageContents.decode(c);
  c.path.pop();
  const contentsBytes = bytes.subarray(start, c.pos);
  c.path.push('security_block');
  const security = SecurityBlock.decode(c);
  c.path.pop();
  if (c.pos !== c.end) c.invalid('message', 'trailing_bytes', `${c.end - c.pos} bytes after the security block`);
  return { header, contents, security, contentsBytes };
}

/** Codec form of a whole message, for tests and tools that want the uniform interface. */
export const MessageCodec: Codec<Message> = {
  encodingLength: (m) => forwardingHeaderLength(m.header) + MessageContents.encodingLength(m.contents) + SecurityBlock.encodingLength(m.security),
  encode: (m, c) => writeBytes(c, encodeMessage(m)),
  decode: (c) => {
    const m = decodeMessage(c.bytes.subarray(c.pos, c.end));
    c.pos = c.end;
    return m;
  },
};
