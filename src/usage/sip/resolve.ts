// Resolving an AOR to the peers to connect to (RFC 7904 §4): Fetch every SIP-REGISTRATION
// entry at the AOR's Resource-ID, follow forwarding (uri) entries the same way, decode
// GRUUs directly, and return the distinct destination lists. The fork this can explode into
// is the caller's to bound (§8.2.1): depth, fetches and targets all are.
import {
  type Destination, type NodeId, type StoredDataSpecifier, DestinationList, KindId, SipRegistration, compareIds, decode, encode, idEquals,
  resourceId, toHex,
} from '../../codec/index.ts';
import type { DataClient, FetchedValue } from '../../reload/storage/index.ts';
import { AorError, aorOf, parseAorAddress } from './aor.ts';
import { RESOLVE_MAX_DEPTH, RESOLVE_MAX_FETCHES, RESOLVE_MAX_TARGETS } from './constants.ts';
import { GruuError, destinationListProblem, isGruu, parseGruu } from './gruu.ts';

/** One place to connect to: AppAttach along `destinationList` (§5.1). */
export interface AorTarget {
  /** The AOR whose entry named this target: the one asked for, or one it forwards to. */
  aor: string;
  destinationList: Destination[];
  /** RFC 3840 contact preferences of a route entry (§3.2), '' for a GRUU. */
  contactPrefs: string;
  /** A route entry, or a GRUU (asked for, or the uri of a forwarding entry, §6). */
  source: 'route' | 'gruu';
  /** The Node-ID that stored the entry (its dictionary key); undefined for a GRUU asked for directly. */
  registeredBy: NodeId | undefined;
  /** Forwarding steps from the AOR asked for. */
  depth: number;
}

export interface AorResolution {
  /** The AOR asked for, as the usage stores it. */
  aor: string;
  /** Distinct destination lists, breadth first, each AOR's entries in dictionary-key order. */
  targets: AorTarget[];
  /** Forwarding targets outside the domains this overlay serves, for normal SIP (§4.1, §4.2 step 3). */
  externalAors: string[];
  /** The AORs fetched, in order. */
  fetched: string[];
  /** Values dropped: bad signature, a signer that does not own the entry, or no SipRegistration. */
  discarded: number;
  /** A bound stopped the resolution early: some forwarding was not followed or some targets were left out. */
  truncated: boolean;
  /** Forwarded AORs whose Fetch failed. A failure of the AOR asked for rejects the whole resolution. */
  failures: { aor: string; error: string }[];
}

export interface ResolveOptions {
  /** Forwarding steps followed at most; default RESOLVE_MAX_DEPTH (5). */
  maxDepth?: number;
  /** Targets returned at most; default RESOLVE_MAX_TARGETS (16). */
  maxTargets?: number;
  /** Fetches sent at most; default RESOLVE_MAX_FETCHES (16). */
  maxFetches?: number;
  /**
   * Whether this overlay serves an AOR domain (§4.1); forwarding to any other is returned in
   * `externalAors` instead of fetched. Default: every domain is looked up here.
   */
  servesDomain?: (domain: string) => boolean;
  signal?: AbortSignal;
}

/** Fetch specifier for every entry: "This Fetch SHOULD NOT indicate any dictionary keys" (§4.2 step 1). */
const ALL_ENTRIES: StoredDataSpecifier[] = [{ kind: KindId.SIP_REGISTRATION, generation: 0n, model: 'dictionary', keys: [] }];

/**
 * Resolves `aor` (`user@domain`, a sip:/sips: URI, or a GRUU) per §4.2. Throws an AorError
 * for an address that is neither, and the Fetch's error when the AOR itself cannot be fetched.
 */
export async function resolveAor(data: Pick<DataClient, 'fetch'>, aor: string, options: ResolveOptions = {}): Promise<AorResolution> {
  const maxDepth = options.maxDepth ?? RESOLVE_MAX_DEPTH;
  const maxTargets = options.maxTargets ?? RESOLVE_MAX_TARGETS;
  const maxFetches = options.maxFetches ?? RESOLVE_MAX_FETCHES;
  const serves = options.servesDomain ?? (() => true);
  const seenLists = new Set<string>();
  const external = new Set<string>();
  const out: AorResolution = { aor: '', targets: [], externalAors: [], fetched: [], discarded: 0, truncated: false, failures: [] };

  const addTarget = (t: AorTarget): void => {
    // §4.2 step 3: "the Peer removes duplicate destination lists and GRUUs".
    const key = toHex(encode(DestinationList, t.destinationList));
    if (seenLists.has(key)) return;
    if (out.targets.length >= maxTargets) {
      out.truncated = true;
      return;
    }
    seenLists.add(key);
    out.targets.push(t);
  };

  // §4.1: "If the AOR is a GRUU for this overlay, the callee can be contacted directly".
  if (isGruu(aor)) {
    const g = parseGruu(aor);
    out.aor = g.aor;
    addTarget({ aor: g.aor, destinationList: g.destinationList, contactPrefs: '', source: 'gruu', registeredBy: undefined, depth: 0 });
    return out;
  }
  const root = aorOf(aor);
  out.aor = root;
  const visited = new Set([root]);
  let level = [root];
  for (let depth = 0; level.length > 0; depth++) {
    const next: string[] = [];
    for (const current of level) {
      if (out.fetched.length >= maxFetches) {
        out.truncated = true;
        break;
      }
      options.signal?.throwIfAborted();
      let values: FetchedValue[];
      try {
        const [k] = await data.fetch(resourceId(current), ALL_ENTRIES);
        values = k?.values ?? [];
        out.discarded += k?.discarded ?? 0;
      } catch (e) {
        if (depth === 0) throw e;
        out.failures.push({ aor: current, error: (e as Error).message });
        continue;
      } finally {
        out.fetched.push(current);
      }
      for (const entry of entriesOf(current, values, () => out.discarded++)) {
        const r = entry.registration;
        if (r.type === 'route') {
          addTarget({ aor: current, destinationList: r.destinationList, contactPrefs: r.contactPrefs, source: 'route', registeredBy: entry.key, depth });
          continue;
        }
        // A uri entry: a GRUU is a destination list already (§6); an AOR is fetched in turn
        // (§4.2 step 2) when this overlay serves its domain, else left to normal SIP.
        try {
          if (isGruu(r.uri)) {
            const g = parseGruu(r.uri);
            addTarget({ aor: g.aor, destinationList: g.destinationList, contactPrefs: '', source: 'gruu', registeredBy: entry.key, depth: depth + 1 });
            continue;
          }
          const target = parseAorAddress(r.uri);
          if (!serves(target.domain)) {
            external.add(target.aor);
          } else if (!visited.has(target.aor)) {
            // The visited set makes a forwarding loop end; the depth bound, a long chain.
            if (depth + 1 > maxDepth) out.truncated = true;
            else {
              visited.add(target.aor);
              next.push(target.aor);
            }
          }
        } catch (e) {
          if (!(e instanceof AorError) && !(e instanceof GruuError)) throw e;
          out.discarded++;
        }
      }
    }
    level = next;
  }
  out.externalAors = [...external];
  return out;
}

interface Entry {
  key: NodeId;
  registration: Exclude<SipRegistration, { type: 'unknown' }>;
}

/**
 * The live entries of one AOR, by dictionary key. DataClient has verified each signature
 * (RFC 6940 §7.4.2.2); here the reader repeats USER-NODE-MATCH (§7.3.3), since a storing
 * peer could hand back a value its owner signed for this Resource-ID but had no right to.
 */
function entriesOf(aor: string, values: FetchedValue[], discard: () => void): Entry[] {
  const resource = resourceId(aor);
  const out: Entry[] = [];
  for (const { data, signer } of values) {
    const v = data.value;
    // Synthesized gaps carry no signer; removed entries are nonexistent values (§7.4.1.3).
    if (!signer || v.model === 'unknown' || !v.value.exists) continue;
    if (v.model !== 'dictionary' || !idEquals(v.key, signer.nodeId) || signer.userName === undefined || !idEquals(resourceId(signer.userName), resource)) {
      discard();
      continue;
    }
    let registration: SipRegistration;
    try {
      registration = decode(SipRegistration, v.value.value, 'sip_registration');
    } catch {
      discard();
      continue;
    }
    // §3.2 "This type can be extended": a later type is not ours to follow.
    if (registration.type === 'unknown') continue;
    if (registration.type === 'route' && destinationListProblem(registration.destinationList)) {
      discard();
      continue;
    }
    out.push({ key: v.key, registration });
  }
  return out.sort((a, b) => compareIds(a.key, b.key));
}
