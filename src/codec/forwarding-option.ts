// ForwardingOption (RFC 6940 §6.3.2.3): type, flags, length, value.
import { type Codec, readU8, readU16, writeU8, writeU16, writeBytes, writeLength } from './cursor.ts';

export interface ForwardingOption {
  type: number;
  /** FORWARD_CRITICAL 0x01, DESTINATION_CRITICAL 0x02, RESPONSE_COPY 0x04 (§6.3.2.3). */
  flags: number;
  value: Uint8Array;
}

export const ForwardingOption: Codec<ForwardingOption> = {
  encodingLength: (o) => 4 + o.value.length,
  encode(o, c) {
    writeU8(c, o.type);
    writeU8(c, o.flags);
    writeLength(c, 2, o.value.length, 'value');
    writeBytes(c, o.value);
  },
  decode(c) {
    const type = readU8(c, 'type');
    if (type === 0) c.invalid('type', 'bad_value', 'invalidForwardingOptionType(0)');
    const flags = readU8(c, 'flags');
    const length = readU16(c, 'length');
    const at = c.take(length, 'value');
    return { type, flags, value: c.bytes.subarray(at, at + length) };
  },
};
