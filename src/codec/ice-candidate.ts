// IceCandidate and IceExtension (RFC 6940 §6.5.1.1), carried by Attach and AppAttach.
import { type Codec, vector, readAscii, readOpaque, readSequence, readU8, readU16, readU32, writeAscii, writeOpaque, writeU8, writeU16, writeU32, writeLength } from './cursor.ts';
import { IpAddressPort } from './ip-address-port.ts';

export type CandType = 'host' | 'srflx' | 'relay';

export interface IceExtension {
  name: Uint8Array;
  value: Uint8Array;
}

export interface IceCandidate {
  addrPort: IpAddressPort;
  /** OverlayLinkType, e.g. 4 = TLS-TCP-FH-NO-ICE (§14.10). */
  overlayLink: number;
  foundation: string;
  priority: number;
  type: CandType;
  /** Present exactly for srflx and relay candidates. */
  relAddrPort?: IpAddressPort;
  extensions: IceExtension[];
}

// CandType codes; 3 was prflx and is reserved (§6.5.1.1).
const CAND_CODE: Record<CandType, number> = { host: 1, srflx: 2, relay: 4 };
const CAND_TYPE: Record<number, CandType> = { 1: 'host', 2: 'srflx', 4: 'relay' };

export const IceExtension: Codec<IceExtension> = {
  encodingLength: (e) => 4 + e.name.length + e.value.length,
  encode(e, c) {
    writeOpaque(c, 2, e.name, 'name');
    writeOpaque(c, 2, e.value, 'value');
  },
  decode: (c) => ({ name: readOpaque(c, 2, 'name'), value: readOpaque(c, 2, 'value') }),
};

function extensionsLength(list: readonly IceExtension[]): number {
  let n = 0;
  for (const e of list) n += IceExtension.encodingLength(e);
  return n;
}

export const IceCandidate: Codec<IceCandidate> = {
  encodingLength: (k) =>
    IpAddressPort.encodingLength(k.addrPort) + 1 + 1 + k.foundation.length + 4 + 1 +
    (k.type === 'host' ? 0 : IpAddressPort.encodingLength(relatedOf(k))) + 2 + extensionsLength(k.extensions),
  encode(k, c) {
    IpAddressPort.encode(k.addrPort, c);
    writeU8(c, k.overlayLink);
    writeAscii(c, 1, k.foundation, 'foundation');
    writeU32(c, k.priority);
    writeU8(c, CAND_CODE[k.type]);
    if (k.type !== 'host') IpAddressPort.encode(relatedOf(k), c);
    writeLength(c, 2, extensionsLength(k.extensions), 'extensions');
    for (const e of k.extensions) IceExtension.encode(e, c);
  },
  decode(c) {
    c.path.push('addr_port');
    const addrPort = IpAddressPort.decode(c);
    c.path.pop();
    const overlayLink = readU8(c, 'overlay_link');
    if (overlayLink === 0) c.invalid('overlay_link', 'bad_value', 'invalidOverlayLinkType(0)');
    const foundation = readAscii(c, 1, 'foundation');
    const priority = readU32(c, 'priority');
    const code = readU8(c, 'type');
    const type = CAND_TYPE[code];
    // No length follows the type, so an unknown type leaves the rest unreadable.
    if (type === undefined) c.invalid('type', 'unknown_type', `CandType ${code}`);
    let relAddrPort: IpAddressPort | undefined;
    if (type !== 'host') {
      c.path.push('rel_addr_port');
      relAddrPort = IpAddressPort.decode(c);
      c.path.pop();
    }
    const extensions = readSequence(c, readU16(c, 'extensions'), 'extensions', IceExtension);
    return relAddrPort
      ? { addrPort, overlayLink, foundation, priority, type, relAddrPort, extensions }
      : { addrPort, overlayLink, foundation, priority, type, extensions };
  },
};

function relatedOf(k: IceCandidate): IpAddressPort {
  if (!k.relAddrPort) throw new TypeError(`${k.type} candidate needs relAddrPort`);
  return k.relAddrPort;
}

/** `IceCandidate candidates<0..2^16-1>` of Attach and AppAttach. */
export const IceCandidateVector = vector(IceCandidate, 2, 'candidates');
