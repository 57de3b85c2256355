// An error answer (RFC 6940 §6.3.3.1) as an exception: handlers throw it, requesters get it.
import { ErrorCode, describe } from '../codec/index.ts';

export class ReloadError extends Error {
  override readonly name = 'ReloadError';
  constructor(readonly code: number, readonly info: Uint8Array | string = '') {
    super(`${describe(ErrorCode, code)}${printable(info) ? `: ${printable(info)}` : ''}`);
  }

  get infoBytes(): Uint8Array {
    return typeof this.info === 'string' ? new TextEncoder().encode(this.info) : this.info;
  }
}

/** The request got no answer after every retransmission (§6.2.1). */
export class RequestTimeout extends Error {
  override readonly name = 'RequestTimeout';
}

/** error_info as text when it is text (our own answers carry a reason there). */
function printable(info: Uint8Array | string): string {
  if (typeof info === 'string') return info;
  if (info.length === 0) return '';
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(info);
    return /[\u0000-\u001f\u007f]/.test(text) ? '' : text;
  } catch {
    return '';
  }
}
