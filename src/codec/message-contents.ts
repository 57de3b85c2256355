// MessageContents and MessageExtension (RFC 6940 §6.3.3): the end-to-end part of a message.
import { type Codec, readBoolean, readOpaque, readSequence, readU16, readU32, writeOpaque, writeU8, writeU16, writeU32, writeLength } from './cursor.ts';

export interface MessageExtension {
  type: number;
  /** A receiver that does not know a critical extension answers Error_Unknown_Extension. */
  critical: boolean;
  contents: Uint8Array;
}

export interface MessageContents {
  code: number;
  /** The encoded body; `decodeBody` gives it structure by message code. */
  body: Uint8Array;
  extensions: MessageExtension[];
}

export const MessageExtension: Codec<MessageExtension> = {
  encodingLength: (e) => 7 + e.contents.length,
  encode(e, c) {
    writeU16(c, e.type);
    writeU8(c, e.critical ? 1 : 0);
    writeOpaque(c, 4, e.contents, 'extension_contents');
  },
  decode(c) {
    const type = readU16(c, 'type');
    if (type === 0) c.invalid('type', 'bad_value', 'invalidMessageExtensionType(0)');
    return { type, critical: readBoolean(c, 'critical'), contents: readOpaque(c, 4, 'extension_contents') };
  },
};

function extensionsLength(list: readonly MessageExtension[]): number {
  let n = 0;
  for (const e of list) n += MessageExtension.encodingLength(e);
  return n;
}

export const MessageContents: Codec<MessageContents> = {
  encodingLength: (m) => 2 + 4 + m.body.length + 4 + extensionsLength(m.extensions),
  encode(m, c) {
    writeU16(c, m.code);
    writeOpaque(c, 4, m.body, 'message_body');
    writeLength(c, 4, extensionsLength(m.extensions), 'extensions');
    for (const e of m.extensions) MessageExtension.encode(e, c);
  },
  decode(c) {
    const code = readU16(c, 'message_code');
    if (code === 0) c.invalid('message_code', 'bad_value', 'invalidMessageCode(0)');
    const body = readOpaque(c, 4, 'message_body');
    const extensions = readSequence(c, readU32(c, 'extensions'), 'extensions', MessageExtension);
    return { code, body, extensions };
  },
};
