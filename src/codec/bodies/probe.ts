// ProbeReq and ProbeAns (RFC 6940 §6.4.2.5).
import { type Codec, readSequence, readU8, readU16, u8, vector, writeU8, writeU16, writeU32, writeBytes, writeLength } from '../cursor.ts';
import { ProbeInformationType, nameOf } from '../codes.ts';

type KnownProbeType = Exclude<keyof typeof ProbeInformationType, 'exp_probe'>;

export interface ProbeReq {
  /** ProbeInformationType codes: 1 responsible_set, 2 num_resources, 3 uptime. */
  requestedInfo: number[];
}

export type ProbeInformation =
  /** responsible_set in parts per billion, num_resources a count, uptime in seconds. */
  | { type: KnownProbeType; value: number }
  /** "This type may be extended": the length lets us keep an unknown entry raw. */
  | { type: 'unknown'; code: number; data: Uint8Array };

export interface ProbeAns {
  probeInfo: ProbeInformation[];
}

const RequestedInfo = vector(u8, 1, 'requested_info');

export const ProbeReq: Codec<ProbeReq> = {
  encodingLength: (p) => RequestedInfo.encodingLength(p.requestedInfo),
  encode: (p, c) => RequestedInfo.encode(p.requestedInfo, c),
  decode: (c) => ({ requestedInfo: RequestedInfo.decode(c) }),
};

export const ProbeInformation: Codec<ProbeInformation> = {
  encodingLength: (p) => 2 + (p.type === 'unknown' ? p.data.length : 4),
  encode(p, c) {
    if (p.type === 'unknown') {
      writeU8(c, p.code);
      writeLength(c, 1, p.data.length, 'value');
      writeBytes(c, p.data);
      return;
    }
    writeU8(c, ProbeInformationType[p.type]);
    writeU8(c, 4);
    writeU32(c, p.value);
  },
  decode(c) {
    const code = readU8(c, 'type');
    const length = readU8(c, 'length');
    const at = c.take(length, 'value');
    const name = nameOf(ProbeInformationType, code);
    if (name === undefined || name === 'exp_probe') {
      if (code === 0) c.invalid('type', 'bad_value', 'invalidProbeInformationType(0)');
      return { type: 'unknown', code, data: c.bytes.subarray(at, at + length) };
    }
    if (length !== 4) c.invalid('length', 'bad_value', `${name} is a uint32, length ${length}`);
    return { type: name, value: c.view.getUint32(at) };
  },
};

export const ProbeAns: Codec<ProbeAns> = {
  encodingLength: (p) => 2 + p.probeInfo.reduce((n, i) => n + ProbeInformation.encodingLength(i), 0),
  encode(p, c) {
    writeLength(c, 2, p.probeInfo.reduce((n, i) => n + ProbeInformation.encodingLength(i), 0), 'probe_info');
    for (const i of p.probeInfo) ProbeInformation.encode(i, c);
  },
  decode: (c) => ({ probeInfo: readSequence(c, readU16(c, 'probe_info'), 'probe_info', ProbeInformation) }),
};
