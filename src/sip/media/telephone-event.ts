// The RFC 4733 §2.3 named-event payload, and the DTMF events of §3.2 as digits.
import { Cursor, encode, readU16, readU8, writeU16, writeU8, type Codec } from '../../codec/cursor.ts';

/** RFC 4733 §2.3, Figure 1: event (8), E (1), R (1), volume (6), duration (16). */
export interface TelephoneEvent {
  /** 0..255; 0-15 are DTMF (§3.2). */
  event: number;
  /** E: "this packet contains the end of the event". */
  end: boolean;
  /** Power level in -dBm0, 0..63. */
  volume: number;
  /** Duration so far, in timestamp units. */
  duration: number;
}

export const TELEPHONE_EVENT_BYTES = 4;

export const TelephoneEventCodec: Codec<TelephoneEvent> = {
  encodingLength: () => TELEPHONE_EVENT_BYTES,
  encode(v, c) {
    if (v.volume < 0 || v.volume > 63) throw new RangeError(`telephone-event: volume ${v.volume} outside 0..63`);
    writeU8(c, v.event);
    // §2.3.3: "The sender MUST set it [R] to zero".
    writeU8(c, (v.end ? 0x80 : 0) | v.volume);
    writeU16(c, v.duration);
  },
  decode(c) {
    const event = readU8(c, 'event');
    const flags = readU8(c, 'flags');
    // §2.3.3: "the receiver MUST ignore it [R]".
    return { event, end: (flags & 0x80) !== 0, volume: flags & 0x3f, duration: readU16(c, 'duration') };
  },
};

export function encodeTelephoneEvent(v: TelephoneEvent): Uint8Array {
  return encode(TelephoneEventCodec, v);
}

/**
 * The first event of an RTP payload. §2.5.1.5 lets several events be packed into one
 * packet, each in 4 octets; the first one is the one a receiver of digits needs, the rest
 * are reports of events already over. Throws a CodecError when fewer than 4 octets.
 */
export function decodeTelephoneEvent(payload: Uint8Array): TelephoneEvent {
  const c = new Cursor(payload);
  c.path.push('telephone-event');
  return TelephoneEventCodec.decode(c);
}

const DIGITS = '0123456789*#ABCD';

/** RFC 4733 §3.2, Table 3: DTMF events 0-9, * (10), # (11), A-D (12-15). */
export function eventToDigit(event: number): string | undefined {
  return event >= 0 && event < DIGITS.length ? DIGITS[event] : undefined;
}

/** The event code of a DTMF digit; lower-case a-d are taken as A-D. */
export function digitToEvent(digit: string): number | undefined {
  if (digit.length !== 1) return undefined;
  const i = DIGITS.indexOf(digit.toUpperCase());
  return i < 0 ? undefined : i;
}

export function isDtmfDigit(digit: string): boolean {
  return digitToEvent(digit) !== undefined;
}
