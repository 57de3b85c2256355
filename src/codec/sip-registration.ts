// SipRegistration, the value of the SIP-REGISTRATION kind (RFC 7904 §3.2).
import { type Codec, type Cursor, readU8, readU16, readOpaque, within, writeBytes, writeOpaque, writeU8, writeU16, writeLength } from './cursor.ts';
import { type Destination, DestinationVector } from './destination.ts';

export type SipRegistration =
  /** Another AOR to look up instead: call forwarding. */
  | { type: 'uri'; uri: string }
  /** Reach this AOR through these destinations, with RFC 3840 contact preferences. */
  | { type: 'route'; contactPrefs: string; destinationList: Destination[] }
  | { type: 'unknown'; code: number; data: Uint8Array };

const URI = 1;
const ROUTE = 2;
const utf8 = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF: the text is data, and must round-trip byte for byte.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function dataLength(r: SipRegistration): number {
  switch (r.type) {
    case 'uri': return 2 + utf8.encode(r.uri).length;
    case 'route': return 2 + utf8.encode(r.contactPrefs).length + DestinationVector.encodingLength(r.destinationList);
    case 'unknown': return r.data.length;
  }
}

export const SipRegistration: Codec<SipRegistration> = {
  encodingLength: (r) => 3 + dataLength(r),
  encode(r, c) {
    writeU8(c, r.type === 'uri' ? URI : r.type === 'route' ? ROUTE : r.code);
    writeLength(c, 2, dataLength(r), 'sip_registration');
    if (r.type === 'uri') {
      writeOpaque(c, 2, utf8.encode(r.uri), 'uri');
    } else if (r.type === 'route') {
      writeOpaque(c, 2, utf8.encode(r.contactPrefs), 'contact_prefs');
      DestinationVector.encode(r.destinationList, c);
    } else {
      writeBytes(c, r.data);
    }
  },
  decode(c) {
    const code = readU8(c, 'type');
    if (code === 0) c.invalid('type', 'bad_value', 'SipRegistrationType 0');
    return within(c, readU16(c, 'length'), 'data', (): SipRegistration => {
      if (code === URI) return { type: 'uri', uri: readUtf8(c, 'uri') };
      if (code === ROUTE) return { type: 'route', contactPrefs: readUtf8(c, 'contact_prefs'), destinationList: DestinationVector.decode(c) };
      const at = c.take(c.end - c.pos, 'data');
      return { type: 'unknown', code, data: c.bytes.subarray(at, c.end) };
    });
  },
};

function readUtf8(c: Cursor, name: string): string {
  const b = readOpaque(c, 2, name);
  try {
    return strictUtf8.decode(b);
  } catch {
    return c.invalid(name, 'bad_value', 'not UTF-8');
  }
}
