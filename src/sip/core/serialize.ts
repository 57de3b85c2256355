// SIP messages to bytes (RFC 3261 §7): start line, one line per header value, Content-Length
// always written from the body's real length.
import { type SipMessage } from './message.ts';

/** A line break inside a name or value would forge header fields (or a body) on the wire. */
function checkLine(text: string): string {
  if (text.indexOf('\n') >= 0 || text.indexOf('\r') >= 0) throw new Error(`line break in SIP header text: ${JSON.stringify(text)}`);
  return text;
}

export function serialize(message: SipMessage): Buffer {
  let head = message.type === 'request'
    ? `${checkLine(message.method)} ${checkLine(message.uri)} SIP/2.0\r\n`
    : `SIP/2.0 ${message.status} ${checkLine(message.reason)}\r\n`;
  // §20.14, §18.3: the length is the body's; one written by hand may be stale. It takes the place
  // of the first Content-Length, or goes last.
  const contentLength = `Content-Length: ${message.body.length}\r\n`;
  let written = false;
  for (const { name, value } of message.headers.entries()) {
    if (name === 'Content-Length') {
      if (!written) head += contentLength;
      written = true;
      continue;
    }
    head += `${checkLine(name)}: ${checkLine(value)}\r\n`;
  }
  if (!written) head += contentLength;
  head += '\r\n';
  const headBytes = Buffer.byteLength(head);
  const out = Buffer.allocUnsafe(headBytes + message.body.length);
  out.write(head, 0, 'utf8');
  out.set(message.body, headBytes);
  return out;
}
