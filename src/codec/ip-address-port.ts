// IpAddressPort (RFC 6940 §6.3.1.1): type, length, then an IPv4 or IPv6 address and port.
import { type Codec, type Cursor, readU8, readU16, writeU8, writeU16, writeBytes, writeLength } from './cursor.ts';

export type IpAddressPort =
  | { type: 'ipv4' | 'ipv6'; address: string; port: number }
  /** "This structure can be extended": a type we do not know, kept as its raw bytes. */
  | { type: 'unknown'; code: number; data: Uint8Array };

const IPV4 = 1;
const IPV6 = 2;

export const IpAddressPort: Codec<IpAddressPort> = {
  encodingLength: (v) => 2 + (v.type === 'unknown' ? v.data.length : v.type === 'ipv4' ? 6 : 18),
  encode(v, c) {
    if (v.type === 'unknown') {
      writeU8(c, v.code);
      writeLength(c, 1, v.data.length, 'data');
      writeBytes(c, v.data);
      return;
    }
    const addr = v.type === 'ipv4' ? parseIpv4(v.address) : parseIpv6(v.address);
    writeU8(c, v.type === 'ipv4' ? IPV4 : IPV6);
    writeU8(c, addr.length + 2);
    writeBytes(c, addr);
    writeU16(c, v.port);
  },
  decode(c) {
    const type = readU8(c, 'type');
    const length = readU8(c, 'length');
    if (type === 0) c.invalid('type', 'bad_value', 'invalidAddressType(0)');
    const want = type === IPV4 ? 6 : type === IPV6 ? 18 : -1;
    if (want === -1) {
      const at = c.take(length, 'data');
      return { type: 'unknown', code: type, data: c.bytes.subarray(at, at + length) };
    }
    if (length !== want) c.invalid('length', 'bad_value', `${type === IPV4 ? 'IPv4' : 'IPv6'} needs length ${want}, got ${length}`);
    const at = c.take(want - 2, 'addr');
    const raw = c.bytes.subarray(at, at + want - 2);
    const port = readU16(c, 'port');
    return type === IPV4
      ? { type: 'ipv4', address: formatIpv4(raw), port }
      : { type: 'ipv6', address: formatIpv6(raw), port };
  },
};

export function formatIpv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

export function parseIpv4(s: string): Uint8Array {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new TypeError(`not an IPv4 address: ${s}`);
  }
  return Uint8Array.from(parts, Number);
}

/** RFC 5952 text form: lower case, longest run of two or more zero groups as `::`. */
export function formatIpv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

export function parseIpv6(s: string): Uint8Array {
  const fail = (): never => { throw new TypeError(`not an IPv6 address: ${s}`); };
  let text = s;
  const tail: number[] = [];
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = parseIpv4(v4[2]);
    tail.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
    text = v4[1].endsWith('::') ? v4[1] : v4[1].slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) fail();
  const group = (g: string): number => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : fail());
  const head = halves[0] === '' ? [] : halves[0].split(':').map(group);
  const rest = halves.length === 2 && halves[1] !== '' ? halves[1].split(':').map(group) : [];
  const fill = 8 - head.length - rest.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) fail();
  const groups = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...rest, ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff; });
  return out;
}
