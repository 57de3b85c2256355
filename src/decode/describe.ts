// Turns decoded RELOAD structures into plain JSON with symbolic names: what `p2psip decode`
// prints. Byte strings become hex, 64-bit integers decimal strings, code points names.
import {
  type DecodedMessage, type ForwardingHeader, type SecurityBlock, type Signature, type SignerIdentity, type DataModels,
  BASE_DATA_MODELS, CertificateType, ErrorCode, HashAlgorithm, KindId, MessageCode, OverlayLinkType, SignatureAlgorithm,
  ExtensionType, ChordLeaveData, SipRegistration, StoreAns, TurnServer, UnknownKinds, CodecError,
  decode, decodeBody, describe, fragmentOffset, isFragment, nameOf, toHex,
} from '../codec/index.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;
const text = new TextDecoder('utf-8', { fatal: true });

/** Generic conversion: bytes to hex, bigint to string, recursively. */
export function plain(v: unknown): Json {
  if (v instanceof Uint8Array) return toHex(v);
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') {
    const out: { [k: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = plain(x);
    return out;
  }
  return v as Json;
}

function utf8OrHex(b: Uint8Array): string {
  try {
    return text.decode(b);
  } catch {
    return toHex(b);
  }
}

export function describeHeader(h: ForwardingHeader): Json {
  return {
    relo_token: '0xd2454c4f',
    overlay: hex32(h.overlay),
    configuration_sequence: h.configurationSequence,
    version: '1.0 (0x0a)',
    ttl: h.ttl,
    fragment: { value: hex32(h.fragment), last: (h.fragment & 0x40000000) !== 0, offset: fragmentOffset(h) },
    length: h.length,
    transaction_id: `0x${h.transactionId.toString(16).padStart(16, '0')}`,
    max_response_length: h.maxResponseLength,
    via_list: plain(h.viaList),
    destination_list: plain(h.destinationList),
    options: h.options.map((o) => ({ type: o.type, flags: o.flags, value: toHex(o.value) })),
  };
}

function describeIdentity(s: SignerIdentity): Json {
  if (s.type === 'cert_hash' || s.type === 'cert_hash_node_id') {
    return { type: s.type, hash_alg: describe(HashAlgorithm, s.hashAlg), hash: toHex(s.hash) };
  }
  return plain(s);
}

export function describeSignature(s: Signature): Json {
  return {
    algorithm: `${describe(HashAlgorithm, s.hashAlgorithm)}+${describe(SignatureAlgorithm, s.signatureAlgorithm)}`,
    identity: describeIdentity(s.identity),
    signature_value: toHex(s.value),
  };
}

function describeSecurity(b: SecurityBlock): Json {
  return {
    certificates: b.certificates.map((g) => ({ type: describe(CertificateType, g.type), length: g.certificate.length, der: toHex(g.certificate) })),
    signature: describeSignature(b.signature),
  };
}

function describeKind(kind: number, models: DataModels): Json {
  return { id: hex32(kind), name: (nameOf(KindId, kind) as string | undefined) ?? null, data_model: models.get(kind) ?? null };
}

/** Adds kind names, data models, and decoded SipRegistration / TurnServer values. */
function enrich(v: unknown, models: DataModels, kind?: number): Json {
  if (Array.isArray(v)) return v.map((x) => enrich(x, models, kind));
  if (!(v && typeof v === 'object') || v instanceof Uint8Array) return plain(v);
  const o = v as Record<string, unknown>;
  const k = typeof o.kind === 'number' ? o.kind : kind;
  const out: { [key: string]: Json } = {};
  for (const [key, x] of Object.entries(o)) {
    if (x === undefined) continue;
    if (key === 'kind' && typeof x === 'number') out.kind = describeKind(x, models);
    else if (key === 'signature' && x && typeof x === 'object' && 'identity' in x) out.signature = describeSignature(x as Signature);
    else out[key] = enrich(x, models, k);
  }
  // A DataValue inside a StoredData of a kind whose value structure we know.
  if (typeof o.exists === 'boolean' && o.value instanceof Uint8Array && o.exists) {
    const value = kindValue(k, o.value);
    if (value) Object.assign(out, value);
  }
  return out;
}

function kindValue(kind: number | undefined, bytes: Uint8Array): { [k: string]: Json } | undefined {
  try {
    if (kind === KindId.SIP_REGISTRATION) return { sip_registration: plain(decode(SipRegistration, bytes, 'sip_registration')) };
    if (kind === KindId.TURN_SERVICE) return { turn_server: plain(decode(TurnServer, bytes, 'turn_server')) };
  } catch (e) {
    if (e instanceof CodecError) return { value_error: e.message };
    throw e;
  }
  return undefined;
}

function describeErrorInfo(code: number, info: Uint8Array): Json {
  try {
    if (code === ErrorCode.Error_Unknown_Kind) return { unknown_kinds: decode(UnknownKinds, info, 'unknown_kinds').map(hex32) };
    if (code === ErrorCode.Error_Generation_Counter_Too_Low) return { store_ans: plain(decode(StoreAns, info, 'store_ans')) };
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
  }
  return utf8OrHex(info);
}

function describeBody(code: number, body: Uint8Array, models: DataModels): Json {
  try {
    const { name, body: value } = decodeBody(code, body, models);
    if (name === 'error') {
      const e = value as { errorCode: number; errorInfo: Uint8Array };
      return { error_code: describe(ErrorCode, e.errorCode), code: e.errorCode, error_info: describeErrorInfo(e.errorCode, e.errorInfo) };
    }
    if (name === 'leave_req') {
      const l = value as { leavingPeerId: Uint8Array; overlaySpecificData: Uint8Array };
      const out = enrich(l, models) as { [k: string]: Json };
      if (l.overlaySpecificData.length > 0) {
        try { out.chord_leave_data = plain(decode(ChordLeaveData, l.overlaySpecificData, 'chord_leave_data')); } catch { /* kept as hex */ }
      }
      return out;
    }
    if (name === 'attach_req' || name === 'attach_ans' || name === 'app_attach_req' || name === 'app_attach_ans') {
      const out = enrich(value, models) as { candidates: { overlayLink: Json }[] };
      for (const k of out.candidates) k.overlayLink = describe(OverlayLinkType, k.overlayLink as number);
      return out as unknown as Json;
    }
    return enrich(value, models);
  } catch (e) {
    if (e instanceof CodecError) return { body_error: e.message, raw: toHex(body) };
    throw e;
  }
}

export function describeMessage(m: DecodedMessage, models: DataModels = BASE_DATA_MODELS): Json {
  const code = m.contents.code;
  return {
    forwarding_header: describeHeader(m.header),
    message_contents: {
      message_code: `0x${code.toString(16).padStart(4, '0')}`,
      method: describe(MessageCode, code),
      body: describeBody(code, m.contents.body, models),
      extensions: m.contents.extensions.map((e) => ({ type: describe(ExtensionType, e.type), critical: e.critical, contents: toHex(e.contents) })),
    },
    security_block: describeSecurity(m.security),
  };
}

/** A fragment is shown with its header only; its payload is part of a larger message. */
export function describeFragment(h: ForwardingHeader, payloadLength: number): Json {
  return { forwarding_header: describeHeader(h), fragment_payload_bytes: payloadLength, note: isFragment(h) ? 'fragment' : 'whole' };
}
