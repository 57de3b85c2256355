// The offer/answer model (RFC 3264) for one G.711 audio stream with RFC 4733 events: what
// a door intercom offers, how it answers a phone's offer, and what both sides then agreed.
import { randomInt } from 'node:crypto';
import {
  DEFAULT_TELEPHONE_EVENT_PAYLOAD_TYPE, FRAME_MS, PAYLOAD_TYPE_PCMA, PAYLOAD_TYPE_PCMU, SAMPLE_RATE_HZ, TELEPHONE_EVENTS_OFFERED,
} from './constants.ts';
import type { G711Codec } from './g711.ts';
import {
  attributeValues, connectionOf, directionOf, parseSdp, rtpMaps, SdpError, serializeSdp,
  type MediaDescription, type MediaDirection, type SdpAttribute, type SessionDescription,
} from './sdp-description.ts';

export * from './sdp-description.ts';

export interface Endpoint {
  address: string;
  port: number;
}

/** A payload type this side accepts, with what it carries. */
export interface ReceiveFormat {
  payloadType: number;
  format: G711Codec | 'telephone-event';
}

/** The outcome of offer/answer for the audio stream, from this side's point of view. */
export interface NegotiatedMedia {
  /** The codec this side sends with. */
  codec: G711Codec;
  /** Payload type to send `codec` with: the peer's number for it. */
  payloadType: number;
  /** Payload type to send RFC 4733 events with; absent when the peer does not take them. */
  telephoneEventPayloadType?: number;
  /** Where to send RTP. */
  remote: Endpoint;
  /** Where to send RTCP: the peer's `a=rtcp` (RFC 3605), else RTP port + 1 (RFC 3550 §11). */
  remoteRtcp?: Endpoint;
  /** What this side does: `sendonly` means it sends and does not expect media. */
  direction: MediaDirection;
  /** The peer's `a=ptime`: the packet length it would like to receive (RFC 4566 §6). */
  ptimeMs?: number;
  /** Payload types accepted on receive; absent means `payloadType`/`telephoneEventPayloadType`. */
  receive?: ReceiveFormat[];
}

export interface LocalMediaInit {
  /** Address media is received on, written in `o=` and `c=`. */
  address: string;
  /** RTP port (even; RTCP on the next one). */
  port: number;
  /** `o=` sess-id. Default: a random number. */
  sessionId?: string;
  /** `o=` sess-version; increment it for every new offer in a session (RFC 3264 §8). Default: sessionId. */
  sessionVersion?: string;
  /** `o=` username. Default `-`. */
  username?: string;
  /** `s=`. Default `-`. */
  sessionName?: string;
  /** Codecs in order of preference. Default PCMU, PCMA. */
  codecs?: G711Codec[];
  /** Payload type offered for telephone-event; `null` offers none. Default 101. */
  telephoneEventPayloadType?: number | null;
  /** `a=ptime`. Default 20. */
  ptimeMs?: number;
  /** What this side wants to do. Default `sendrecv`. */
  direction?: MediaDirection;
}

/** An offer made, kept to read the answer against. */
export interface SdpOffer {
  sdp: string;
  description: SessionDescription;
}

export type RefusalReason = 'malformed' | 'no_audio' | 'no_common_codec' | 'rejected' | 'mismatch';

/**
 * Why a description cannot be used. `status` is the SIP response for an offer in an
 * INVITE: RFC 3261 §21.4.26 488 Not Acceptable Here ("with a Warning header field ...
 * explaining why the offer was rejected"; `warning` is a §20.43 warn-code: 304 media type
 * not available, 305 incompatible media format, 399 miscellaneous).
 */
export interface SdpRefusal {
  status: 488;
  reason: RefusalReason;
  warning: 304 | 305 | 399;
  detail: string;
}

export type AnswerResult =
  | { ok: true; sdp: string; description: SessionDescription; negotiated: NegotiatedMedia }
  | { ok: false; refusal: SdpRefusal };

export type AcceptResult = { ok: true; negotiated: NegotiatedMedia } | { ok: false; refusal: SdpRefusal };

const STATIC_FORMATS: ReadonlyMap<number, G711Codec> = new Map([[PAYLOAD_TYPE_PCMU, 'PCMU'], [PAYLOAD_TYPE_PCMA, 'PCMA']]);

function refuse(reason: RefusalReason, detail: string): { ok: false; refusal: SdpRefusal } {
  const warning = reason === 'no_audio' ? 304 : reason === 'no_common_codec' ? 305 : 399;
  return { ok: false, refusal: { status: 488, reason, warning, detail } };
}

function addrType(address: string): string {
  return address.includes(':') ? 'IP6' : 'IP4';
}

/** What each payload type of an m= line carries, as far as this side understands it. */
function formatsOf(media: MediaDescription): { payloadType: number; format: G711Codec | 'telephone-event' }[] {
  const maps = rtpMaps(media);
  const out: { payloadType: number; format: G711Codec | 'telephone-event' }[] = [];
  for (const f of media.formats) {
    if (!/^\d{1,3}$/.test(f)) continue;
    const pt = Number(f);
    if (pt > 127) continue;
    const map = maps.get(pt);
    if (!map) {
      // RFC 3551 §6: static payload types need no rtpmap ("m=audio 49170 RTP/AVP 0").
      const codec = STATIC_FORMATS.get(pt);
      if (codec) out.push({ payloadType: pt, format: codec });
      continue;
    }
    const name = map.encoding.toUpperCase();
    if (map.clockRate !== SAMPLE_RATE_HZ || (map.channels !== undefined && map.channels !== 1)) continue;
    if (name === 'PCMU' || name === 'PCMA') out.push({ payloadType: pt, format: name });
    else if (name === 'TELEPHONE-EVENT') out.push({ payloadType: pt, format: 'telephone-event' });
  }
  return out;
}

function usableAudio(media: MediaDescription): boolean {
  // RFC 3264 §6: a stream with port 0 is rejected; RTP/SAVP and others need what this side lacks.
  return media.media.toLowerCase() === 'audio' && media.port !== 0 && media.proto.toUpperCase() === 'RTP/AVP';
}

function hasSend(d: MediaDirection): boolean {
  return d === 'sendrecv' || d === 'sendonly';
}

function hasRecv(d: MediaDirection): boolean {
  return d === 'sendrecv' || d === 'recvonly';
}

function directionFrom(send: boolean, recv: boolean): MediaDirection {
  return send ? (recv ? 'sendrecv' : 'sendonly') : recv ? 'recvonly' : 'inactive';
}

/**
 * This side's direction given the peer's and its own wish. RFC 3264 §6.1: "If a stream is
 * offered as sendonly, the corresponding stream MUST be marked as recvonly or inactive in the
 * answer. If a media stream is listed as recvonly in the offer, the answer MUST be marked as
 * sendonly or inactive". RFC 3264 §8.4: c=0.0.0.0 is the old way of saying "do not send to me".
 */
function ourDirection(remote: MediaDirection, remoteHeld: boolean, local: MediaDirection): MediaDirection {
  return directionFrom(hasRecv(remote) && !remoteHeld && hasSend(local), hasSend(remote) && hasRecv(local));
}

function remoteEndpoints(session: SessionDescription, media: MediaDescription): { remote: Endpoint; remoteRtcp: Endpoint; held: boolean } | undefined {
  const c = connectionOf(session, media);
  if (!c) return undefined;
  const address = c.address.split('/')[0];
  const remote = { address, port: media.port };
  let remoteRtcp = { address, port: media.port + 1 };
  // RFC 3605 §2.1: "a=rtcp:<port> [<nettype> <addrtype> <connection-address>]".
  const rtcp = attributeValues(media, 'rtcp')[0];
  const m = rtcp === undefined ? null : /^(\d{1,5})(?:\s+\S+\s+\S+\s+(\S+))?/.exec(rtcp);
  if (m && Number(m[1]) > 0 && Number(m[1]) <= 65535) remoteRtcp = { address: m[2] ?? address, port: Number(m[1]) };
  return { remote, remoteRtcp, held: address === '0.0.0.0' || address === '::' };
}

function ptimeOf(media: MediaDescription): number | undefined {
  const v = attributeValues(media, 'ptime')[0];
  const n = v === undefined ? NaN : Number(v);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function audioAttributes(payloads: ReceiveFormat[], ptimeMs: number, direction: MediaDirection): SdpAttribute[] {
  const attrs: SdpAttribute[] = [];
  for (const p of payloads) {
    if (p.format === 'telephone-event') {
      attrs.push({ name: 'rtpmap', value: `${p.payloadType} telephone-event/${SAMPLE_RATE_HZ}` });
      // RFC 4733 §2.5.2.1: "SDP descriptions using the event payload MUST contain an fmtp
      // format attribute that lists the event values that the receiver can process."
      attrs.push({ name: 'fmtp', value: `${p.payloadType} ${TELEPHONE_EVENTS_OFFERED}` });
    } else {
      attrs.push({ name: 'rtpmap', value: `${p.payloadType} ${p.format}/${SAMPLE_RATE_HZ}` });
    }
  }
  attrs.push({ name: 'ptime', value: String(ptimeMs) });
  attrs.push({ name: direction });
  return attrs;
}

function localSession(local: LocalMediaInit, media: MediaDescription[]): SessionDescription {
  const sessionId = local.sessionId ?? String(randomInt(1, 2 ** 47));
  return {
    origin: {
      username: local.username ?? '-', sessionId, sessionVersion: local.sessionVersion ?? sessionId,
      netType: 'IN', addrType: addrType(local.address), address: local.address,
    },
    sessionName: local.sessionName ?? '-',
    connection: { netType: 'IN', addrType: addrType(local.address), address: local.address },
    lines: [{ type: 't', value: '0 0' }],
    attributes: [],
    media,
  };
}

/** An offer of PCMU and PCMA (static 0 and 8) and telephone-event (RFC 4733) on one audio stream. */
export function createOffer(local: LocalMediaInit): SdpOffer {
  const payloads: ReceiveFormat[] = (local.codecs ?? ['PCMU', 'PCMA']).map((codec) => ({
    payloadType: codec === 'PCMU' ? PAYLOAD_TYPE_PCMU : PAYLOAD_TYPE_PCMA, format: codec,
  }));
  const te = local.telephoneEventPayloadType === undefined ? DEFAULT_TELEPHONE_EVENT_PAYLOAD_TYPE : local.telephoneEventPayloadType;
  if (te !== null) {
    if (!(te >= 96 && te <= 127)) throw new RangeError(`telephone-event payload type ${te} is not dynamic (96-127)`);
    payloads.push({ payloadType: te, format: 'telephone-event' });
  }
  if (payloads.length === 0 || payloads[0].format === 'telephone-event') throw new RangeError('an offer needs at least one codec');
  const media: MediaDescription = {
    media: 'audio', port: local.port, proto: 'RTP/AVP', formats: payloads.map((p) => String(p.payloadType)),
    attributes: audioAttributes(payloads, local.ptimeMs ?? FRAME_MS, local.direction ?? 'sendrecv'), lines: [],
  };
  const description = localSession(local, [media]);
  return { sdp: serializeSdp(description), description };
}

function parseOrRefuse(text: string): SessionDescription | { ok: false; refusal: SdpRefusal } {
  try {
    return parseSdp(text);
  } catch (err) {
    if (err instanceof SdpError) return refuse('malformed', err.message);
    throw err;
  }
}

/**
 * Answers an offer (RFC 3264 §6): the first usable audio stream with a codec in common is
 * accepted with exactly one codec (the offerer's most preferred of ours) and, if offered,
 * telephone-event under the offerer's payload type; every other stream is rejected with
 * port 0. Without a usable stream the result is a refusal for a 488.
 */
export function answerOffer(offerText: string, local: LocalMediaInit): AnswerResult {
  const offer = parseOrRefuse(offerText);
  if ('ok' in offer) return offer;
  if (offer.media.length === 0) return refuse('no_audio', 'the offer has no media streams');
  const wanted = local.codecs ?? ['PCMU', 'PCMA'];
  let chosen: { index: number; codec: ReceiveFormat; te?: ReceiveFormat } | undefined;
  let sawAudio = false;
  for (let i = 0; i < offer.media.length && !chosen; i++) {
    const m = offer.media[i];
    if (!usableAudio(m)) continue;
    sawAudio = true;
    const formats = formatsOf(m);
    // RFC 3264 §6.1: the offerer lists formats "in order of preference".
    const codec = formats.find((f) => f.format !== 'telephone-event' && wanted.includes(f.format));
    if (!codec) continue;
    const te = local.telephoneEventPayloadType === null ? undefined : formats.find((f) => f.format === 'telephone-event');
    chosen = { index: i, codec, te };
  }
  if (!chosen) return sawAudio ? refuse('no_common_codec', `no ${wanted.join(' or ')} in the offer`) : refuse('no_audio', 'no RTP/AVP audio stream in the offer');
  const offered = offer.media[chosen.index];
  const endpoints = remoteEndpoints(offer, offered);
  if (!endpoints) return refuse('malformed', 'the audio stream has no c= line');
  const direction = ourDirection(directionOf(offer, offered), endpoints.held, local.direction ?? 'sendrecv');
  const payloads = chosen.te ? [chosen.codec, chosen.te] : [chosen.codec];

  // RFC 3264 §6: "The answer MUST contain exactly the same number of "m=" lines as the
  // offer", in the same order; a rejected stream keeps its media and proto with port 0.
  const media: MediaDescription[] = offer.media.map((m, i): MediaDescription => {
    if (i !== chosen!.index) return { media: m.media, port: 0, proto: m.proto, formats: m.formats.slice(0, 1), attributes: [], lines: [] };
    return {
      media: 'audio', port: local.port, proto: 'RTP/AVP', formats: payloads.map((p) => String(p.payloadType)),
      attributes: audioAttributes(payloads, local.ptimeMs ?? FRAME_MS, direction), lines: [],
    };
  });
  const description = localSession(local, media);
  const negotiated: NegotiatedMedia = {
    codec: chosen.codec.format as G711Codec,
    payloadType: chosen.codec.payloadType,
    remote: endpoints.remote,
    remoteRtcp: endpoints.remoteRtcp,
    direction,
    // RFC 3264 §6.1: the offerer sends with the payload types of the answer, which echo its own.
    receive: payloads,
  };
  if (chosen.te) negotiated.telephoneEventPayloadType = chosen.te.payloadType;
  const ptime = ptimeOf(offered);
  if (ptime !== undefined) negotiated.ptimeMs = ptime;
  return { ok: true, sdp: serializeSdp(description), description, negotiated };
}

/** Reads the answer to `offer` (RFC 3264 §7): the codec and event payload type to send with, and where to. */
export function acceptAnswer(answerText: string, offer: SdpOffer | string): AcceptResult {
  const ours = typeof offer === 'string' ? parseOrRefuse(offer) : offer.description;
  if ('ok' in ours) return ours;
  const answer = parseOrRefuse(answerText);
  if ('ok' in answer) return answer;
  if (answer.media.length !== ours.media.length) {
    return refuse('mismatch', `the answer has ${answer.media.length} m= lines, the offer ${ours.media.length}`);
  }
  for (let i = 0; i < ours.media.length; i++) {
    const mine = ours.media[i];
    if (!usableAudio(mine)) continue;
    const theirs = answer.media[i];
    if (theirs.port === 0) return refuse('rejected', 'the answer rejects the audio stream');
    const offered = formatsOf(mine);
    const answered = formatsOf(theirs);
    // RFC 3264 §7: the offerer "SHOULD" send with the answerer's most preferred format.
    const codec = answered.find((f) => f.format !== 'telephone-event' && offered.some((o) => o.format === f.format));
    if (!codec) return refuse('no_common_codec', 'the answer lists no codec of the offer');
    const endpoints = remoteEndpoints(answer, theirs);
    if (!endpoints) return refuse('malformed', 'the audio stream has no c= line');
    const te = offered.some((o) => o.format === 'telephone-event') ? answered.find((f) => f.format === 'telephone-event') : undefined;
    // Receive with the offer's numbers; also accept the answer's, which a peer may (wrongly) use.
    const receive: ReceiveFormat[] = [];
    const add = (f: ReceiveFormat): void => {
      if (!receive.some((r) => r.payloadType === f.payloadType)) receive.push(f);
    };
    for (const f of answered) {
      const own = offered.find((o) => o.format === f.format);
      if (own) add(own);
    }
    for (const f of answered) if (offered.some((o) => o.format === f.format)) add(f);
    const negotiated: NegotiatedMedia = {
      codec: codec.format as G711Codec,
      payloadType: codec.payloadType,
      remote: endpoints.remote,
      remoteRtcp: endpoints.remoteRtcp,
      direction: ourDirection(directionOf(answer, theirs), endpoints.held, directionOf(ours, mine)),
      receive,
    };
    if (te) negotiated.telephoneEventPayloadType = te.payloadType;
    const ptime = ptimeOf(theirs);
    if (ptime !== undefined) negotiated.ptimeMs = ptime;
    return { ok: true, negotiated };
  }
  return refuse('no_audio', 'the offer has no audio stream');
}
