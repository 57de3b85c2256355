// SDP session descriptions (RFC 4566): a parser lenient where phones are sloppy (line ends,
// trailing blanks, empty lines) and strict where a wrong guess would send media astray
// (v=, o=, c=, m= fields). Lines this model does not interpret are kept and written back
// in their RFC 4566 §5 position.
import { SDP_MAX_BYTES, SDP_MAX_LINES, SDP_MAX_MEDIA } from './constants.ts';

export type SdpErrorReason = 'too_large' | 'malformed';

/** The body is not a usable session description; `line` is 1-based when known. */
export class SdpError extends Error {
  override readonly name = 'SdpError';
  readonly reason: SdpErrorReason;
  readonly line: number | undefined;
  constructor(reason: SdpErrorReason, detail: string, line?: number) {
    super(line === undefined ? `sdp: ${detail}` : `sdp line ${line}: ${detail}`);
    this.reason = reason;
    this.line = line;
  }
}

/** RFC 4566 §5.2 `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`. */
export interface SdpOrigin {
  username: string;
  /** Kept as text: phones use 64-bit numbers. */
  sessionId: string;
  sessionVersion: string;
  netType: string;
  addrType: string;
  address: string;
}

/** RFC 4566 §5.7 `c=<nettype> <addrtype> <connection-address>`. */
export interface SdpConnection {
  netType: string;
  /** `IP4` or `IP6`. */
  addrType: string;
  /** For multicast this may carry `/ttl` and `/count`; unicast is a bare address. */
  address: string;
}

/** RFC 4566 §5.13 `a=<attribute>` or `a=<attribute>:<value>`. */
export interface SdpAttribute {
  name: string;
  value?: string;
}

/** Any other line (`i=`, `b=`, `t=`, `k=`, unknown letters), kept verbatim. */
export interface SdpLine {
  type: string;
  value: string;
}

/** RFC 4566 §5.14 `m=<media> <port>[/<number of ports>] <proto> <fmt> ...`. */
export interface MediaDescription {
  media: string;
  /** 0 rejects or disables the stream (RFC 3264 §5.1, §6). */
  port: number;
  portCount?: number;
  proto: string;
  /** RTP payload type numbers as text, in the sender's order of preference. */
  formats: string[];
  connection?: SdpConnection;
  attributes: SdpAttribute[];
  lines: SdpLine[];
}

export interface SessionDescription {
  origin: SdpOrigin;
  sessionName: string;
  connection?: SdpConnection;
  /** Session-level lines other than v, o, s, c, a and m; `t=0 0` is added when no `t=` is present. */
  lines: SdpLine[];
  attributes: SdpAttribute[];
  media: MediaDescription[];
}

// RFC 4566 §5: "the order ... is fixed": v o s i u e p c b t r z k a, then m sections of
// m i c b k a. Rank places kept lines; `t` and `r` share a rank so each r stays after its t.
const SESSION_RANK: Record<string, number> = { i: 1, u: 2, e: 3, p: 4, b: 6, t: 7, r: 7, z: 8, k: 9 };
const MEDIA_RANK: Record<string, number> = { i: 1, b: 3, k: 4 };
const UNKNOWN_RANK = 9.5;

function splitFields(value: string): string[] {
  return value.trim().split(/[ \t]+/).filter((f) => f !== '');
}

function parseConnection(value: string, line: number): SdpConnection {
  const f = splitFields(value);
  if (f.length !== 3) throw new SdpError('malformed', `c= needs 3 fields, got ${f.length}`, line);
  return { netType: f[0], addrType: f[1].toUpperCase(), address: f[2] };
}

function parseMedia(value: string, line: number): MediaDescription {
  const f = splitFields(value);
  if (f.length < 3) throw new SdpError('malformed', `m= needs media, port and proto`, line);
  const m = /^(\d{1,5})(?:\/(\d{1,5}))?$/.exec(f[1]);
  if (!m || Number(m[1]) > 65535) throw new SdpError('malformed', `m= port "${f[1]}"`, line);
  const media: MediaDescription = { media: f[0], port: Number(m[1]), proto: f[2], formats: f.slice(3), attributes: [], lines: [] };
  if (m[2] !== undefined) media.portCount = Number(m[2]);
  return media;
}

function parseAttribute(value: string): SdpAttribute {
  const colon = value.indexOf(':');
  return colon < 0 ? { name: value.trim() } : { name: value.slice(0, colon).trim(), value: value.slice(colon + 1).trim() };
}

/** Parses an SDP body; throws SdpError. */
export function parseSdp(text: string): SessionDescription {
  if (text.length > SDP_MAX_BYTES) throw new SdpError('too_large', `${text.length} characters, at most ${SDP_MAX_BYTES}`);
  const rawLines = text.split(/\r\n|\n|\r/);
  if (rawLines.length > SDP_MAX_LINES) throw new SdpError('too_large', `${rawLines.length} lines, at most ${SDP_MAX_LINES}`);
  let origin: SdpOrigin | undefined;
  let sessionName: string | undefined;
  const session: SessionDescription = { origin: undefined as unknown as SdpOrigin, sessionName: '', lines: [], attributes: [], media: [] };
  let current: MediaDescription | undefined;
  let sawVersion = false;
  for (let i = 0; i < rawLines.length; i++) {
    const raw = rawLines[i].trimEnd();
    const n = i + 1;
    if (raw === '') continue;
    const m = /^([a-zA-Z])[ \t]*=(.*)$/.exec(raw);
    if (!m) throw new SdpError('malformed', `expected <type>=<value>, got "${raw.slice(0, 40)}"`, n);
    const type = m[1].toLowerCase();
    const value = m[2];
    if (!sawVersion) {
      // RFC 4566 §5: "An SDP session description consists of ... v= (protocol version)" first.
      if (type !== 'v') throw new SdpError('malformed', `first line must be v=, got ${type}=`, n);
      if (value.trim() !== '0') throw new SdpError('malformed', `unsupported version v=${value}`, n);
      sawVersion = true;
      continue;
    }
    switch (type) {
      case 'v':
        throw new SdpError('malformed', 'second v= line', n);
      case 'o': {
        if (current || origin) throw new SdpError('malformed', 'o= out of place', n);
        const f = splitFields(value);
        if (f.length !== 6) throw new SdpError('malformed', `o= needs 6 fields, got ${f.length}`, n);
        origin = { username: f[0], sessionId: f[1], sessionVersion: f[2], netType: f[3], addrType: f[4].toUpperCase(), address: f[5] };
        break;
      }
      case 's':
        if (current || sessionName !== undefined) throw new SdpError('malformed', 's= out of place', n);
        sessionName = value;
        break;
      case 'c':
        if (current) current.connection = parseConnection(value, n);
        else session.connection = parseConnection(value, n);
        break;
      case 'm':
        if (session.media.length >= SDP_MAX_MEDIA) throw new SdpError('too_large', `more than ${SDP_MAX_MEDIA} m= lines`, n);
        current = parseMedia(value, n);
        session.media.push(current);
        break;
      case 'a':
        (current ?? session).attributes.push(parseAttribute(value));
        break;
      default:
        (current ?? session).lines.push({ type, value });
    }
  }
  if (!sawVersion) throw new SdpError('malformed', 'empty description');
  if (!origin) throw new SdpError('malformed', 'missing o= line');
  session.origin = origin;
  session.sessionName = sessionName ?? '-';
  return session;
}

function byRank<T extends SdpLine>(lines: T[], rank: Record<string, number>): T[] {
  return lines
    .map((l, i) => ({ l, i, r: rank[l.type] ?? UNKNOWN_RANK }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((e) => e.l);
}

function connectionLine(c: SdpConnection): string {
  return `c=${c.netType} ${c.addrType} ${c.address}`;
}

function attributeLine(a: SdpAttribute): string {
  return a.value === undefined ? `a=${a.name}` : `a=${a.name}:${a.value}`;
}

/** Writes a description with CRLF line ends (RFC 4566 §5), fields in their fixed order. */
export function serializeSdp(sdp: SessionDescription): string {
  const out: string[] = ['v=0'];
  const o = sdp.origin;
  out.push(`o=${o.username} ${o.sessionId} ${o.sessionVersion} ${o.netType} ${o.addrType} ${o.address}`);
  out.push(`s=${sdp.sessionName === '' ? '-' : sdp.sessionName}`);
  const lines = sdp.lines.some((l) => l.type === 't') ? sdp.lines : [...sdp.lines, { type: 't', value: '0 0' }];
  const ordered = byRank(lines, SESSION_RANK);
  for (const l of ordered.filter((x) => (SESSION_RANK[x.type] ?? UNKNOWN_RANK) < 5)) out.push(`${l.type}=${l.value}`);
  if (sdp.connection) out.push(connectionLine(sdp.connection));
  for (const l of ordered.filter((x) => (SESSION_RANK[x.type] ?? UNKNOWN_RANK) > 5)) out.push(`${l.type}=${l.value}`);
  for (const a of sdp.attributes) out.push(attributeLine(a));
  for (const m of sdp.media) {
    const port = m.portCount === undefined ? `${m.port}` : `${m.port}/${m.portCount}`;
    out.push(`m=${[m.media, port, m.proto, ...m.formats].join(' ')}`);
    const mediaLines = byRank(m.lines, MEDIA_RANK);
    for (const l of mediaLines.filter((x) => (MEDIA_RANK[x.type] ?? UNKNOWN_RANK) < 2)) out.push(`${l.type}=${l.value}`);
    if (m.connection) out.push(connectionLine(m.connection));
    for (const l of mediaLines.filter((x) => (MEDIA_RANK[x.type] ?? UNKNOWN_RANK) > 2)) out.push(`${l.type}=${l.value}`);
    for (const a of m.attributes) out.push(attributeLine(a));
  }
  return `${out.join('\r\n')}\r\n`;
}

/** The values of the media-level attributes named `name` (case-insensitive), in order. */
export function attributeValues(media: MediaDescription, name: string): string[] {
  const lower = name.toLowerCase();
  return media.attributes.filter((a) => a.name.toLowerCase() === lower).map((a) => a.value ?? '');
}

/** RFC 4566 §6 `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`. */
export interface RtpMap {
  encoding: string;
  clockRate: number;
  channels?: number;
}

/** The rtpmap of every payload type the media description maps, by payload type. */
export function rtpMaps(media: MediaDescription): Map<number, RtpMap> {
  const maps = new Map<number, RtpMap>();
  for (const v of attributeValues(media, 'rtpmap')) {
    const m = /^(\d{1,3})[ \t]+([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(v);
    if (!m) continue; // a malformed rtpmap only loses that format
    const map: RtpMap = { encoding: m[2], clockRate: Number(m[3]) };
    if (m[4] !== undefined) map.channels = Number(m[4]);
    maps.set(Number(m[1]), map);
  }
  return maps;
}

/** RFC 4566 §6 `a=fmtp:<format> <format specific parameters>` for one payload type. */
export function fmtpOf(media: MediaDescription, payloadType: number): string | undefined {
  for (const v of attributeValues(media, 'fmtp')) {
    const m = /^(\d{1,3})[ \t]+(.*)$/.exec(v);
    if (m && Number(m[1]) === payloadType) return m[2].trim();
  }
  return undefined;
}

export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
const DIRECTIONS: readonly string[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

/**
 * RFC 4566 §6: a media-level direction attribute overrides a session-level one; with
 * neither, "sendrecv SHOULD be assumed as the default" (RFC 3264 §5.1).
 */
export function directionOf(session: SessionDescription, media: MediaDescription): MediaDirection {
  const pick = (attrs: SdpAttribute[]): MediaDirection | undefined => {
    let found: MediaDirection | undefined;
    for (const a of attrs) if (DIRECTIONS.includes(a.name.toLowerCase())) found = a.name.toLowerCase() as MediaDirection;
    return found;
  };
  return pick(media.attributes) ?? pick(session.attributes) ?? 'sendrecv';
}

/** RFC 4566 §5.7: "a session-level "c=" field ... can be overridden by an additional "c=" field in each media description". */
export function connectionOf(session: SessionDescription, media: MediaDescription): SdpConnection | undefined {
  return media.connection ?? session.connection;
}
