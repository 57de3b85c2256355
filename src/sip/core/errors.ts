// The one error every SIP parser in this folder throws for bad input (RFC 3261 §8.2, §16.3, §21.4).
import type { SipHeaders } from './message.ts';

/** What was read of a request before a later check failed: enough to build the error response (§8.2.6). */
export interface PartialRequest {
  method?: string;
  uri?: string;
  headers: SipHeaders;
}

/**
 * A message that can never be valid. `partial` carries what was read of the headers when a
 * request got that far, so the caller can still answer 400 (§8.2.1, §21.4.1); `status` is the
 * response code the error calls for (400, 413, 505).
 */
export class SipParseError extends Error {
  override readonly name = 'SipParseError';

  constructor(message: string, readonly status: number = 400, readonly partial?: PartialRequest) {
    super(message);
  }
}

/** A value that does not match its grammar (§25), quoting the start of the offending text. */
export function syntaxError(what: string, text: string): SipParseError {
  return new SipParseError(`${what}: ${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)}`, 400);
}
