// An error answer (RFC 6940 §6.3.3.1) as an exception: handlers throw it, requesters get it.
import { ErrorCode, describe } from '../codec/index.ts';

export class ReloadError extends Error {
  override readonly name = 'ReloadError';
  constructor(readonly code: number, readonly info: Uint8Array | string = '') {
    super(`${describe(ErrorCode, code)}${typeof info === 'string' && info ? `: ${info}` : ''}`);
  }

  get infoBytes(): Uint8Array {
    return typeof this.info === 'string' ? new TextEncoder().encode(this.info) : this.info;
  }
}

/** The request got no answer after every retransmission (§6.2.1). */
export class RequestTimeout extends Error {
  override readonly name = 'RequestTimeout';
}
