// ConfigUpdateReq (RFC 6940 §6.5.4); ConfigUpdateAns is empty.
import { type Codec, opaque, readOpaque, readU8, readU32, vector, within, writeBytes, writeOpaque, writeU8, writeU32, writeLength } from '../cursor.ts';

export type ConfigUpdateReq =
  /** A whole configuration document (application/p2p-overlay+xml), §11.1. */
  | { type: 'config'; configData: Uint8Array }
  /** Kind descriptions: each a UTF-8 `<kind>` element with its kind-signature. */
  | { type: 'kind'; kinds: Uint8Array[] }
  /** "This structure may be extended": the length lets us keep it raw. */
  | { type: 'unknown'; code: number; data: Uint8Array };

const CONFIG = 1;
const KIND = 2;
const Kinds = vector(opaque(2, 'kind_description'), 3, 'kinds');

function bodyLength(u: ConfigUpdateReq): number {
  switch (u.type) {
    case 'config': return 3 + u.configData.length;
    case 'kind': return Kinds.encodingLength(u.kinds);
    case 'unknown': return u.data.length;
  }
}

export const ConfigUpdateReq: Codec<ConfigUpdateReq> = {
  encodingLength: (u) => 1 + 4 + bodyLength(u),
  encode(u, c) {
    writeU8(c, u.type === 'config' ? CONFIG : u.type === 'kind' ? KIND : u.code);
    writeLength(c, 4, bodyLength(u), 'length');
    if (u.type === 'config') writeOpaque(c, 3, u.configData, 'config_data');
    else if (u.type === 'kind') Kinds.encode(u.kinds, c);
    else writeBytes(c, u.data);
  },
  decode(c) {
    const code = readU8(c, 'type');
    if (code === 0) c.invalid('type', 'bad_value', 'invalidConfigUpdateType(0)');
    return within(c, readU32(c, 'length'), 'length', (): ConfigUpdateReq => {
      if (code === CONFIG) return { type: 'config', configData: readOpaque(c, 3, 'config_data') };
      if (code === KIND) return { type: 'kind', kinds: Kinds.decode(c) };
      const at = c.take(c.end - c.pos, 'data');
      return { type: 'unknown', code, data: c.bytes.subarray(at, c.end) };
    });
  },
};
