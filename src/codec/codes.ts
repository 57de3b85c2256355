// Code points of RFC 6940 §14 (and the registries later RFCs added to), with their names,
// so that logs and `p2psip decode` print what a value means.

/** Message codes (§14.8). A request is odd, its answer is request + 1. */
export const MessageCode = {
  probe_req: 0x01, probe_ans: 0x02,
  attach_req: 0x03, attach_ans: 0x04,
  store_req: 0x07, store_ans: 0x08,
  fetch_req: 0x09, fetch_ans: 0x0a,
  find_req: 0x0d, find_ans: 0x0e,
  join_req: 0x0f, join_ans: 0x10,
  leave_req: 0x11, leave_ans: 0x12,
  update_req: 0x13, update_ans: 0x14,
  route_query_req: 0x15, route_query_ans: 0x16,
  ping_req: 0x17, ping_ans: 0x18,
  stat_req: 0x19, stat_ans: 0x1a,
  app_attach_req: 0x1d, app_attach_ans: 0x1e,
  config_update_req: 0x21, config_update_ans: 0x22,
  exp_a_req: 0x23, exp_a_ans: 0x24,
  exp_b_req: 0x25, exp_b_ans: 0x26,
  // RFC 7851 §9.3 (diagnostics)
  path_track_req: 0x27, path_track_ans: 0x28,
  error: 0xffff,
} as const;
export type MessageCodeName = keyof typeof MessageCode;

/** Error codes (§14.9; 0x15 and 0x16 from RFC 7851 §9.4). */
export const ErrorCode = {
  Error_Forbidden: 0x02,
  Error_Not_Found: 0x03,
  Error_Request_Timeout: 0x04,
  Error_Generation_Counter_Too_Low: 0x05,
  Error_Incompatible_with_Overlay: 0x06,
  Error_Unsupported_Forwarding_Option: 0x07,
  Error_Data_Too_Large: 0x08,
  Error_Data_Too_Old: 0x09,
  Error_TTL_Exceeded: 0x0a,
  Error_Message_Too_Large: 0x0b,
  Error_Unknown_Kind: 0x0c,
  Error_Unknown_Extension: 0x0d,
  Error_Response_Too_Large: 0x0e,
  Error_Config_Too_Old: 0x0f,
  Error_Config_Too_New: 0x10,
  Error_In_Progress: 0x11,
  Error_Exp_A: 0x12,
  Error_Exp_B: 0x13,
  Error_Invalid_Message: 0x14,
  Error_Underlay_Destination_Unreachable: 0x15,
  Error_Underlay_Time_Exceeded: 0x16,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;

/** Kind-IDs of the base protocol (§14.6) and the usages this project speaks. */
export const KindId = {
  SIP_REGISTRATION: 0x1, // RFC 7904 §9.1
  TURN_SERVICE: 0x2,
  CERTIFICATE_BY_NODE: 0x3,
  CERTIFICATE_BY_USER: 0x10,
  REDIR: 0x104, // RFC 7374 §7.1
} as const;
export type KindName = keyof typeof KindId;

/** Message extension types (§14.14; RFC 7851, RFC 7363). */
export const ExtensionType = { exp_ext: 0x1, Diagnostic_Ping: 0x2, self_tuning_data: 0x3 } as const;

/** Forwarding option types (§14.12; RFC 7263 adds extensive routing mode). */
export const ForwardingOptionType = { exp_forward: 1, extensive_routing_mode: 2 } as const;

/** Forwarding option flags (§6.3.2.3; IGNORE-STATE-KEEPING from RFC 7264). */
export const ForwardingFlag = {
  FORWARD_CRITICAL: 0x01,
  DESTINATION_CRITICAL: 0x02,
  RESPONSE_COPY: 0x04,
  IGNORE_STATE_KEEPING: 0x08,
} as const;

/** Overlay link types (§14.10). */
export const OverlayLinkType = {
  'DTLS-UDP-SR': 1,
  'DTLS-UDP-SR-NO-ICE': 3,
  'TLS-TCP-FH-NO-ICE': 4,
  'EXP-LINK': 5,
} as const;

/** Probe information types (§14.13). */
export const ProbeInformationType = { responsible_set: 1, num_resources: 2, uptime: 3, exp_probe: 4 } as const;

/** Application-IDs (§14.5). */
export const ApplicationId = { SIP: 5060, SIPS: 5061 } as const;

/** TLS HashAlgorithm and SignatureAlgorithm (RFC 5246 §7.4.1.4.1) used by Signature. */
export const HashAlgorithm = { none: 0, md5: 1, sha1: 2, sha224: 3, sha256: 4, sha384: 5, sha512: 6 } as const;
export const SignatureAlgorithm = { anonymous: 0, rsa: 1, dsa: 2, ecdsa: 3 } as const;

/** Certificate type of a GenericCertificate (RFC 6091 §3.1). */
export const CertificateType = { X509: 0, OpenPGP: 1 } as const;

/** Reverse lookup: the name of `code` in `table`, or undefined. */
export function nameOf<T extends Record<string, number>>(table: T, code: number): keyof T | undefined {
  for (const k in table) if (table[k] === code) return k;
  return undefined;
}

/** `nameOf` with a printable fallback such as `unknown(0x8000)`. */
export function describe<T extends Record<string, number>>(table: T, code: number): string {
  return (nameOf(table, code) as string | undefined) ?? `unknown(0x${code.toString(16)})`;
}
