// DTMF in SIP INFO bodies, the out-of-band alternative to RFC 4733 that many phones and
// PBXs use: `application/dtmf-relay` ("Signal=5\r\nDuration=160\r\n", a de facto format from
// Cisco) and `application/dtmf` (the bare digit or its event code).
import { DTMF_INFO_DURATION_MS } from './constants.ts';
import { digitToEvent, eventToDigit } from './telephone-event.ts';

export const DTMF_RELAY_CONTENT_TYPE = 'application/dtmf-relay';
export const DTMF_CONTENT_TYPE = 'application/dtmf';
/** Bodies longer than this are not a DTMF report. */
const MAX_BODY_CHARS = 256;

export type DtmfInfoContentType = typeof DTMF_RELAY_CONTENT_TYPE | typeof DTMF_CONTENT_TYPE;

export interface DtmfInfo {
  digit: string;
  durationMs?: number;
}

/** `5`, `*`, `#`, `a`-`d`, or an event code 0-15 (some senders write `Signal=11` for `#`). */
function signalToDigit(value: string): string | undefined {
  const v = value.trim();
  if (v.length === 1 && digitToEvent(v) !== undefined) return v.toUpperCase();
  if (/^1[0-5]$/.test(v)) return eventToDigit(Number(v));
  return undefined;
}

/** The media type of a Content-Type header value, lower-case, parameters dropped. */
function mediaType(contentType: string): string {
  return contentType.split(';')[0].trim().toLowerCase();
}

/** Reads an INFO body; undefined when the type is not a DTMF one or the body names no digit. */
export function parseDtmfInfo(contentType: string, body: string): DtmfInfo | undefined {
  if (body.length > MAX_BODY_CHARS) return undefined;
  const type = mediaType(contentType);
  if (type === DTMF_CONTENT_TYPE) {
    const digit = signalToDigit(body);
    return digit === undefined ? undefined : { digit };
  }
  if (type !== DTMF_RELAY_CONTENT_TYPE) return undefined;
  let digit: string | undefined;
  let durationMs: number | undefined;
  for (const line of body.split(/\r\n|\n|\r/)) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = line.slice(eq + 1).trim();
    if (key === 'signal') digit = signalToDigit(value);
    else if (key === 'duration' && /^\d{1,6}$/.test(value)) durationMs = Number(value);
  }
  if (digit === undefined) return undefined;
  return durationMs === undefined ? { digit } : { digit, durationMs };
}

/** Writes an INFO body for `info`; dtmf-relay by default. Throws on a non-DTMF digit. */
export function formatDtmfInfo(info: DtmfInfo, contentType: DtmfInfoContentType = DTMF_RELAY_CONTENT_TYPE): { contentType: DtmfInfoContentType; body: string } {
  if (digitToEvent(info.digit) === undefined) throw new RangeError(`"${info.digit}" is not a DTMF digit`);
  const digit = info.digit.toUpperCase();
  if (contentType === DTMF_CONTENT_TYPE) return { contentType, body: digit };
  const duration = Math.round(info.durationMs ?? DTMF_INFO_DURATION_MS);
  return { contentType, body: `Signal=${digit}\r\nDuration=${duration}\r\n` };
}
