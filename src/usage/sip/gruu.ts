// RELOAD GRUUs (RFC 7904 §6): a destination list carried in the `gr` URI parameter, base64
// with the RFC 4648 Table 1 alphabet and `~` in place of the `=` padding, e.g.
// `alice@overlay.example.org;gr=ARDA59KhRHpE+i5Dls1sC9Ce`. Nothing is stored for one: a
// caller decodes the list and AppAttaches along it. Parsing is strict, since a GRUU arrives
// from the network (a forwarding entry, a Contact header) and names where to connect.
import { type Destination, CodecError, DestinationList, encode, decode } from '../../codec/index.ts';
import { AorError, isAor, parseAorAddress } from './aor.ts';

export type GruuErrorReason =
  /** No `gr` parameter with a value. */
  | 'not_a_gruu'
  /** The part before the parameters is no AOR. */
  | 'bad_aor'
  /** The value is not canonical base64 with `~` padding. */
  | 'bad_base64'
  /** The bytes are no destination list a caller could connect along. */
  | 'bad_destination_list';

export class GruuError extends Error {
  override readonly name = 'GruuError';
  constructor(readonly reason: GruuErrorReason, message: string) {
    super(`${reason}: ${message}`);
  }
}

export interface Gruu {
  /** The AOR the GRUU belongs to, as the usage stores it: `user@domain`. */
  aor: string;
  destinationList: Destination[];
}

const SCHEME = /^sips?:/i;
const GR_VALUE = /^[A-Za-z0-9+/]+(?:~~|~)?$/;

/**
 * Why `list` is no destination list a caller can AppAttach along (RFC 7904 §5.1), or
 * undefined when it is one: it needs an entry, and entries of a type we do not know cannot
 * be routed.
 */
export function destinationListProblem(list: readonly Destination[]): string | undefined {
  if (list.length === 0) return 'empty destination list';
  if (list.some((d) => d.type === 'unknown')) return 'destination of an unknown type';
  return undefined;
}

/** The `gr` value of a destination list: base64 with `~` for `=` (§6). */
export function gruuParameter(destinationList: readonly Destination[]): string {
  const problem = destinationListProblem(destinationList);
  if (problem) throw new GruuError('bad_destination_list', problem);
  return Buffer.from(encode(DestinationList, destinationList as Destination[])).toString('base64').replace(/=/g, '~');
}

/**
 * The GRUU of `aor` reaching `destinationList`: `aor;gr=…` (§6). `aor` is the usage's
 * `user@domain`, or a sip:/sips: URI without a `gr` parameter, which keeps its form.
 */
export function gruuFor(aor: string, destinationList: readonly Destination[]): string {
  if (SCHEME.test(aor)) {
    try {
      if (parseAorAddress(aor).params.has('gr')) throw new GruuError('bad_aor', 'the URI has a gr parameter already');
    } catch (e) {
      if (e instanceof AorError) throw new GruuError('bad_aor', e.message);
      throw e;
    }
  } else if (!isAor(aor)) {
    throw new GruuError('bad_aor', `not user@domain: ${JSON.stringify(aor.slice(0, 80))}`);
  }
  return `${aor};gr=${gruuParameter(destinationList)}`;
}

/** True when `text` carries a `gr` parameter after its host: a GRUU to decode, not an AOR to fetch (§4.1). */
export function isGruu(text: string): boolean {
  return grParameter(text) !== undefined;
}

/**
 * Reads a GRUU, bare (`alice@example.com;gr=…`) or as a sip:/sips: URI with other parameters
 * besides `gr`. Throws a GruuError.
 */
export function parseGruu(text: string): Gruu {
  const split = grParameter(text);
  if (!split) throw new GruuError('not_a_gruu', `no gr parameter: ${JSON.stringify(text.slice(0, 80))}`);
  let aor: string;
  try {
    aor = SCHEME.test(text) ? parseAorAddress(text).aor : parseAorAddress(split.address).aor;
  } catch (e) {
    if (e instanceof AorError) throw new GruuError('bad_aor', e.message);
    throw e;
  }
  return { aor, destinationList: decodeGruuParameter(split.value) };
}

/** The destination list of a `gr` value (§6). Throws a GruuError. */
export function decodeGruuParameter(value: string): Destination[] {
  // RFC 4648 §3.5: canonical encodings only, so one list has one GRUU.
  if (!GR_VALUE.test(value) || value.length % 4 !== 0) throw new GruuError('bad_base64', `gr=${JSON.stringify(value.slice(0, 80))}`);
  const bytes = Buffer.from(value.replace(/~/g, '='), 'base64');
  if (bytes.toString('base64').replace(/=/g, '~') !== value) throw new GruuError('bad_base64', 'non-canonical base64 (padding bits set)');
  let list: Destination[];
  try {
    list = decode(DestinationList, new Uint8Array(bytes), 'gr');
  } catch (e) {
    if (e instanceof CodecError) throw new GruuError('bad_destination_list', e.message);
    throw e;
  }
  const problem = destinationListProblem(list);
  if (problem) throw new GruuError('bad_destination_list', problem);
  return list;
}

/**
 * The `gr` parameter's value and the address without parameters. Parameters follow the
 * host, so they are looked for after the first `@` (a URI user part may hold `;` and `=`).
 */
function grParameter(text: string): { address: string; value: string } | undefined {
  const body = text.replace(SCHEME, '');
  const at = body.indexOf('@');
  if (at < 0) return undefined;
  const [host, ...params] = body.slice(at + 1).split(';');
  const gr = params.find((p) => /^gr=/i.test(p));
  if (gr === undefined) return undefined;
  return { address: `${body.slice(0, at)}@${host}`, value: gr.slice(3) };
}
