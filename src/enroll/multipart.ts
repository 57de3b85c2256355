// multipart/form-data (RFC 7578, framing of RFC 2046 §5.1.1), the encoding of an enrollment
// request (RFC 6940 §11.3, which cites its predecessor RFC 2388). Only what enrollment needs:
// a whole, already size-limited body in; named fields with an optional content type out.
import { randomBytes } from 'node:crypto';
import { ENROLLMENT_MAX_FORM_PARTS, ENROLLMENT_MAX_PART_HEADER_BYTES } from './constants.ts';

export interface FormPart {
  /** The Content-Disposition name parameter. */
  name: string;
  /** The part's Content-Type; undefined when absent (text/plain by RFC 7578 §4.4). */
  contentType?: string;
  filename?: string;
  /** Value bytes; a view into the body. */
  data: Uint8Array;
}

/** A body or Content-Type that is not multipart/form-data as RFC 7578 writes it. */
export class MultipartError extends Error {
  override readonly name = 'MultipartError';
}

export interface MultipartLimits {
  /** Most parts; default ENROLLMENT_MAX_FORM_PARTS (8). */
  maxParts?: number;
  /** Most header bytes in one part; default ENROLLMENT_MAX_PART_HEADER_BYTES (1 KiB). */
  maxHeaderBytes?: number;
}

// RFC 2046 §5.1.1: bchars, 1 to 70 of them, not ending in a space.
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;
const PARAM = /;\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\\r\n]|\\.)*)"|([^;\s"]*))/gy;

/** Splits `type/subtype; a=b; c="d"` into a lower-case type and its parameters (names lower-cased). */
export function parseHeaderParameters(value: string): { value: string; params: Map<string, string> } {
  const semi = value.indexOf(';');
  const head = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const params = new Map<string, string>();
  if (semi < 0) return { value: head, params };
  const rest = value.slice(semi).trimEnd();
  PARAM.lastIndex = 0;
  let at = 0;
  for (let m = PARAM.exec(rest); m; m = PARAM.exec(rest)) {
    const name = m[1].toLowerCase();
    if (params.has(name)) throw new MultipartError(`parameter ${name} given twice`);
    params.set(name, m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]);
    at = PARAM.lastIndex;
  }
  if (at !== rest.length) throw new MultipartError(`unreadable parameters: ${rest.slice(at, at + 40)}`);
  return { value: head, params };
}

/** The boundary of a `multipart/form-data` Content-Type header. */
export function boundaryOf(contentType: string | undefined): string {
  if (!contentType) throw new MultipartError('no Content-Type');
  const { value, params } = parseHeaderParameters(contentType);
  if (value !== 'multipart/form-data') throw new MultipartError(`Content-Type ${value}, expected multipart/form-data`);
  const boundary = params.get('boundary');
  if (boundary === undefined || !BOUNDARY.test(boundary)) throw new MultipartError('missing or malformed boundary');
  return boundary;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/** Reads the fields of a multipart/form-data body; a field name given twice is an error. */
export function parseMultipart(body: Uint8Array, boundary: string, limits: MultipartLimits = {}): Map<string, FormPart> {
  const maxParts = limits.maxParts ?? ENROLLMENT_MAX_FORM_PARTS;
  const maxHeaderBytes = limits.maxHeaderBytes ?? ENROLLMENT_MAX_PART_HEADER_BYTES;
  const b = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const dash = Buffer.from(`--${boundary}`, 'latin1');
  const delimiter = Buffer.concat([CRLF, dash]);
  // The first dash-boundary opens the body or ends a line of the (ignored) preamble.
  let at = b.subarray(0, dash.length).equals(dash) ? 0 : b.indexOf(delimiter);
  if (at < 0) throw new MultipartError('no boundary in the body');
  at += at === 0 && b[0] === 0x2d ? dash.length : delimiter.length;
  const parts = new Map<string, FormPart>();
  for (;;) {
    if (b[at] === 0x2d && b[at + 1] === 0x2d) return parts; // close-delimiter; the epilogue is ignored
    while (b[at] === 0x20 || b[at] === 0x09) at++; // transport-padding
    if (b[at] !== 0x0d || b[at + 1] !== 0x0a) throw new MultipartError('boundary line not ended by CRLF');
    const start = at + 2;
    const end = b.indexOf(delimiter, start);
    if (end < 0) throw new MultipartError('body ends inside a part');
    if (parts.size >= maxParts) throw new MultipartError(`more than ${maxParts} parts`);
    const part = readPart(b.subarray(start, end), maxHeaderBytes);
    if (parts.has(part.name)) throw new MultipartError(`field ${part.name} given twice`);
    parts.set(part.name, part);
    at = end + delimiter.length;
  }
}

function readPart(raw: Buffer, maxHeaderBytes: number): FormPart {
  // A part with no header lines starts with the empty line: then it has no name (RFC 7578 §4.2).
  const headEnd = raw.subarray(0, 2).equals(CRLF) ? 0 : raw.indexOf(HEADER_END);
  if (headEnd < 0 || headEnd > maxHeaderBytes) throw new MultipartError(headEnd < 0 ? 'part without a header end' : 'part header too long');
  const headers = new Map<string, string>();
  if (headEnd > 0) {
    for (const line of raw.subarray(0, headEnd).toString('utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new MultipartError(`bad part header line: ${line.slice(0, 40)}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      if (headers.has(name)) throw new MultipartError(`part header ${name} given twice`);
      headers.set(name, line.slice(colon + 1).trim());
    }
  }
  const disposition = headers.get('content-disposition');
  if (disposition === undefined) throw new MultipartError('part without Content-Disposition');
  const { value, params } = parseHeaderParameters(disposition);
  const name = params.get('name');
  if (value !== 'form-data' || !name) throw new MultipartError('Content-Disposition is not form-data with a name');
  const transfer = headers.get('content-transfer-encoding')?.toLowerCase();
  // RFC 7578 §4.7: senders MUST NOT use it; 7bit/8bit/binary are harmless, anything else is refused.
  if (transfer !== undefined && !['7bit', '8bit', 'binary'].includes(transfer)) throw new MultipartError(`Content-Transfer-Encoding ${transfer}`);
  const data = raw.subarray(headEnd === 0 ? 2 : headEnd + 4);
  const contentType = headers.get('content-type');
  return {
    name,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    ...(contentType !== undefined ? { contentType } : {}),
    ...(params.has('filename') ? { filename: params.get('filename') } : {}),
  };
}

/** Encodes fields as multipart/form-data; returns the body and its Content-Type header. */
export function encodeMultipart(parts: readonly FormPart[], boundary = `p2psip-${randomBytes(12).toString('hex')}`): { body: Uint8Array; contentType: string } {
  if (!BOUNDARY.test(boundary)) throw new RangeError(`bad boundary ${boundary}`);
  const quote = (s: string): string => `"${s.replace(/(["\\])/g, '\\$1')}"`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    if (/[\r\n]/.test(p.name + (p.filename ?? '') + (p.contentType ?? ''))) throw new RangeError('line break in a form part header');
    let head = `--${boundary}\r\nContent-Disposition: form-data; name=${quote(p.name)}`;
    if (p.filename !== undefined) head += `; filename=${quote(p.filename)}`;
    if (p.contentType !== undefined) head += `\r\nContent-Type: ${p.contentType}`;
    const data = Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength);
    if (data.includes(`\r\n--${boundary}`, 0, 'latin1')) throw new RangeError('a form value contains the boundary');
    chunks.push(Buffer.from(`${head}\r\n\r\n`, 'utf8'), data, CRLF);
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return { body: new Uint8Array(Buffer.concat(chunks)), contentType: `multipart/form-data; boundary=${boundary}` };
}
