// ErrorResponse (RFC 6940 §6.3.3.1) and the two error_info bodies the RFC gives structure.
import { type Codec, readOpaque, readU16, u32, vector, writeOpaque, writeU16 } from '../cursor.ts';

export interface ErrorResponse {
  errorCode: number;
  /** UTF-8 text unless the error code says otherwise. */
  errorInfo: Uint8Array;
}

export const ErrorResponse: Codec<ErrorResponse> = {
  encodingLength: (e) => 4 + e.errorInfo.length,
  encode(e, c) {
    writeU16(c, e.errorCode);
    writeOpaque(c, 2, e.errorInfo, 'error_info');
  },
  decode(c) {
    const errorCode = readU16(c, 'error_code');
    if (errorCode === 0) c.invalid('error_code', 'bad_value', 'invalidErrorCode(0)');
    return { errorCode, errorInfo: readOpaque(c, 2, 'error_info') };
  },
};

/** error_info of Error_Unknown_Kind: `KindId unknown_kinds<0..2^8-1>` (§6.3.3.1). */
export const UnknownKinds = vector(u32, 1, 'unknown_kinds');
// Error_Generation_Counter_Too_Low carries a StoreAns (see store.ts) in error_info.
