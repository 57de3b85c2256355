// Trust for overlays with an enrollment server (RFC 6940 §11.3, §13.3): a node certificate is
// accepted when it chains to one of the configuration's root-cert trust anchors, through
// intermediates the node was given, with PKIX BasicConstraints checks (RFC 5280 §6.1 reduced
// to what a single-overlay CA needs: names, signatures, validity, cA, pathLen, keyCertSign).
import { toHex } from '../../codec/index.ts';
import { type CertificateInfo, CertificateError, KEY_USAGE_KEY_CERT_SIGN, parseCertificate } from './certificate.ts';
import { CA_MAX_CHAIN_DEPTH, CA_MAX_INTERMEDIATES } from './ca-constants.ts';
import { type TrustPolicy, checkPublicKey, checkValidity } from './trust.ts';

export interface CaTrustInit {
  /** DER trust anchors: the configuration's root-cert elements (§11.1). At least one. */
  roots: readonly Uint8Array[];
  /** Overlay instance name every reload:// URI must carry (§11.3). */
  overlay: string;
  /** DER intermediate CA certificates, each checked when a chain uses it; default none. */
  intermediates?: readonly Uint8Array[];
  /** Most intermediates remembered, constructor list and `addIntermediate` together; default CA_MAX_INTERMEDIATES (16). */
  maxIntermediates?: number;
  /** Most CA certificates above a leaf, root included; default CA_MAX_CHAIN_DEPTH (4). */
  maxChainDepth?: number;
}

/** Trust for overlays whose certificates come from an enrollment server (§11.3, §13.3). */
export class CaTrust implements TrustPolicy {
  private readonly overlay: string;
  private readonly maxIntermediates: number;
  private readonly maxChainDepth: number;
  /** subject Name (hex of DER) → certificates with that subject; roots are trust anchors. */
  private readonly roots = new Map<string, CertificateInfo[]>();
  private readonly intermediates = new Map<string, CertificateInfo[]>();
  private intermediateCount = 0;

  constructor(init: CaTrustInit) {
    if (init.roots.length === 0) throw new RangeError('CaTrust needs at least one root certificate');
    this.overlay = init.overlay;
    this.maxIntermediates = init.maxIntermediates ?? CA_MAX_INTERMEDIATES;
    this.maxChainDepth = init.maxChainDepth ?? CA_MAX_CHAIN_DEPTH;
    // Configuration errors, not network input: an unreadable root throws.
    for (const der of init.roots) addTo(this.roots, parseCertificate(der));
    for (const der of init.intermediates ?? []) {
      if (!this.addIntermediate(der)) throw new RangeError(`more than ${this.maxIntermediates} intermediate certificates`);
    }
  }

  /**
   * Remembers an intermediate CA certificate, e.g. one carried in a message's security
   * block (§6.3.4). Nothing is trusted by being added: it is checked each time a chain
   * passes through it (a non-CA is refused there as not_a_ca). Returns false when the
   * bound is reached or the bytes are no certificate.
   */
  addIntermediate(der: Uint8Array): boolean {
    let info: CertificateInfo;
    try {
      info = parseCertificate(der);
    } catch {
      return false;
    }
    const key = toHex(info.subjectName);
    if (this.intermediates.get(key)?.some((c) => c.sha256Hex === info.sha256Hex)) return true;
    if (this.intermediateCount >= this.maxIntermediates) return false;
    addTo(this.intermediates, info);
    this.intermediateCount++;
    return true;
  }

  check(info: CertificateInfo, now: number): void {
    checkValidity(info, now);
    checkPublicKey(info.publicKey);
    this.checkNames(info);
    this.checkChain(info, now);
  }

  /** §11.3: only reload:// URIs for this overlay and one user name, under an empty subject. */
  private checkNames(info: CertificateInfo): void {
    if (info.subjectName.length !== 2) throw new CertificateError('subject_not_empty', 'a node certificate has an empty subject (§11.3)');
    if (info.reloadUris.length === 0) throw new CertificateError('no_node_id', 'no reload:// URI in subjectAltName');
    // §11.3: the subjectAltName "MUST NOT contain any identities other than those listed";
    // a second rfc822Name is counted among the others by parseCertificate.
    if (info.otherSanEntries > 0) throw new CertificateError('unexpected_identity', `${info.otherSanEntries} other subjectAltName entries`);
    for (const { overlay } of info.reloadUris) {
      if (overlay.toLowerCase() !== this.overlay.toLowerCase()) throw new CertificateError('overlay_mismatch', `certificate is for overlay ${overlay}`);
    }
  }

  /** Walks issuer by issuer from the leaf to a root (RFC 5280 §6.1.3, §6.1.4). */
  private checkChain(leaf: CertificateInfo, now: number): void {
    let child = leaf;
    // CA certificates between the leaf and the one being looked at (RFC 5280 §4.2.1.9).
    for (let below = 0; below < this.maxChainDepth; below++) {
      const key = toHex(child.issuerName);
      const root = this.roots.get(key);
      const candidates = [...(root ?? []), ...(this.intermediates.get(key) ?? [])];
      if (candidates.length === 0) {
        throw new CertificateError('untrusted_chain', `no root-cert or intermediate is the issuer of ${describe(child)}`);
      }
      // Key rollover may leave two CAs with one name: the one whose key signed is the issuer.
      const issuer = candidates.find((c) => c !== child && verifiesWith(child, c));
      if (!issuer) throw new CertificateError('bad_certificate_signature', `${describe(child)} is not signed by any CA named as its issuer`);
      checkIssuer(issuer, below, now);
      if (root?.includes(issuer)) return;
      child = issuer;
    }
    throw new CertificateError('path_too_long', `no root-cert within ${this.maxChainDepth} CA certificates`);
  }
}

function addTo(map: Map<string, CertificateInfo[]>, info: CertificateInfo): void {
  const key = toHex(info.subjectName);
  const list = map.get(key);
  if (list) list.push(info);
  else map.set(key, [info]);
}

function verifiesWith(child: CertificateInfo, issuer: CertificateInfo): boolean {
  try {
    return child.x509.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** A CA certificate's own checks, `below` CA certificates under it (RFC 5280 §6.1.4). */
function checkIssuer(issuer: CertificateInfo, below: number, now: number): void {
  const name = describe(issuer);
  const bc = issuer.basicConstraints;
  // §11.3: "including PKIX BasicConstraints checks" — for the trust anchors too.
  if (!bc?.ca) throw new CertificateError('not_a_ca', `${name} has no basicConstraints cA=true`);
  if (issuer.keyUsage && !issuer.keyUsage[KEY_USAGE_KEY_CERT_SIGN]) throw new CertificateError('not_a_ca', `${name} keyUsage lacks keyCertSign`);
  if (bc.pathLength !== undefined && below > bc.pathLength) {
    throw new CertificateError('path_too_long', `${name} allows ${bc.pathLength} CA certificates below it, has ${below}`);
  }
  try {
    checkValidity(issuer, now);
    checkPublicKey(issuer.publicKey);
  } catch (e) {
    if (e instanceof CertificateError) throw new CertificateError(e.reason, `issuer ${name}: ${e.message}`, { cause: e });
    throw e;
  }
}

function describe(info: CertificateInfo): string {
  const cn = /CN=([^\n]*)/.exec(info.x509.subject)?.[1];
  return cn ? `"${cn}"` : `certificate ${info.sha256Hex.slice(0, 16)}…`;
}
